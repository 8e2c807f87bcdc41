#include "tools/utl/printer.h"

#include <cmath>
#include <cstdio>
#include <vector>

namespace etcdpp::utl {
namespace {

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%x", v);
  return buf;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Upper(std::string s) {
  for (auto& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

// olekukonko/tablewriter as etcdutl configures it: upper-case centred
// headers, right-aligned cells, one space of padding.
std::string Table(const std::vector<std::string>& hdr, const std::vector<std::string>& row) {
  std::vector<size_t> w(hdr.size());
  for (size_t i = 0; i < hdr.size(); i++)
    w[i] = std::max(hdr[i].size(), row[i].size());
  // append() throughout: GCC 12's -Wrestrict misfires on chained operator+.
  std::string line = "+";
  for (size_t x : w) {
    line.append(x + 2, '-');
    line.push_back('+');
  }
  line.push_back('\n');
  std::string out = line;
  out.push_back('|');
  for (size_t i = 0; i < hdr.size(); i++) {
    const std::string h = Upper(hdr[i]);
    const size_t gap = w[i] - h.size(), left = gap / 2;
    out.append(1 + left, ' ');
    out.append(h);
    out.append(gap - left + 1, ' ');
    out.push_back('|');
  }
  out.push_back('\n');
  out.append(line);
  out.push_back('|');
  for (size_t i = 0; i < row.size(); i++) {
    out.append(1 + w[i] - row[i].size(), ' ');
    out.append(row[i]);
    out.append(" |");
  }
  out.push_back('\n');
  out.append(line);
  return out;
}

}  // namespace

std::string HumanizeBytes(uint64_t n) {
  static const char* kSizes[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  if (n < 10) return std::to_string(n) + " B";
  const double e = std::floor(std::log(static_cast<double>(n)) / std::log(1000.0));
  const double val = std::floor(static_cast<double>(n) / std::pow(1000.0, e) * 10 + 0.5) / 10;
  char buf[32];
  std::snprintf(buf, sizeof(buf), val < 10 ? "%.1f %s" : "%.0f %s", val,
                kSizes[static_cast<int>(e)]);
  return buf;
}

namespace {

Result<std::string> Format(const std::vector<std::string>& hdr, const std::vector<std::string>& row,
                           const std::string& json, const std::string& format) {
  if (format == "simple") {
    std::string out;
    for (size_t i = 0; i < row.size(); i++) {
      if (i) out.append(", ");
      out.append(row[i]);
    }
    out.push_back('\n');
    return out;
  }
  if (format == "json") return json + "\n";
  if (format == "table") return Table(hdr, row);
  if (format == "fields" || format == "protobuf") {
    return Status::InvalidArgument(format + " not supported as output format");
  }
  return Status::InvalidArgument("unsupported output format");
}

}  // namespace

Result<std::string> FormatHashKV(const HashKVStatus& h, const std::string& format) {
  return Format(
      {"hash", "hash revision", "compact revision"},
      {std::to_string(h.hash), std::to_string(h.hash_revision), std::to_string(h.compact_revision)},
      "{\"hash\":" + std::to_string(h.hash) +
          ",\"hashRevision\":" + std::to_string(h.hash_revision) +
          ",\"compactRevision\":" + std::to_string(h.compact_revision) + "}",
      format);
}

Result<std::string> FormatDbStatus(const DbStatus& ds, const std::string& format) {
  return Format({"hash", "revision", "total keys", "total size", "version"},
                {Hex(ds.hash), std::to_string(ds.revision), std::to_string(ds.total_key),
                 HumanizeBytes(static_cast<uint64_t>(ds.total_size)), ds.version},
                "{\"hash\":" + std::to_string(ds.hash) + ",\"revision\":" +
                    std::to_string(ds.revision) + ",\"totalKey\":" + std::to_string(ds.total_key) +
                    ",\"totalSize\":" + std::to_string(ds.total_size) +
                    ",\"version\":" + JsonString(ds.version) + "}",
                format);
}

}  // namespace etcdpp::utl
