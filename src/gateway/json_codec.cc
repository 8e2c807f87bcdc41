#include "gateway/json_codec.h"

#include <google/protobuf/util/json_util.h>

#include <cstdint>

namespace etcdpp::gateway {

namespace {

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// One past the end of the value starting at body[i] (not whitespace), or npos
// when the value is cut off. Scalars end at whitespace or at a bracket.
size_t ValueEnd(std::string_view body, size_t i) {
  int depth = 0;
  bool in_string = false;
  for (; i < body.size(); i++) {
    char c = body[i];
    if (in_string) {
      if (c == '\\') {
        i++;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        depth++;
        break;
      case '}':
      case ']':
        if (depth == 0) return i + 1;  // stray closer: let the decoder reject it
        if (--depth == 0) return i + 1;
        break;
      default:
        if (depth == 0 && IsJsonSpace(c)) return i;
        // A scalar followed directly by a new value: "1{...}".
        if (depth == 0 && i + 1 < body.size() &&
            (body[i + 1] == '{' || body[i + 1] == '[' || body[i + 1] == '"'))
          return i + 1;
    }
  }
  if (in_string || depth > 0) return std::string_view::npos;
  return body.size();
}

}  // namespace

Result<std::vector<std::string_view>> SplitJsonValues(std::string_view body, size_t max_values) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (out.size() < max_values) {
    while (i < body.size() && IsJsonSpace(body[i]))
      i++;
    if (i == body.size()) return out;
    size_t end = ValueEnd(body, i);
    if (end == std::string_view::npos) return Status::InvalidArgument("unexpected EOF");
    out.push_back(body.substr(i, end - i));
    i = end;
  }
  return out;
}

Status DecodeJson(std::string_view json, google::protobuf::Message* msg) {
  msg->Clear();
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;  // protojson DiscardUnknown, as etcd configures it
  // protobuf 3.21 already accepts both base64 alphabets, with or without
  // padding, so bytes need no pre-processing (tests pin this down).
  auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), msg, opts);
  if (!st.ok()) return Status::InvalidArgument(std::string(st.message()));
  return Status::OK();
}

std::string EncodeJson(const google::protobuf::Message& msg) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;      // UseProtoNames
  opts.always_print_primitive_fields = false;  // EmitUnpopulated=false
  opts.always_print_enums_as_ints = false;     // enum names
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(msg, &out, opts);
  // Printing a well-formed message cannot fail; a failure is a programming error.
  if (!st.ok()) return "{}";
  return out;
}

std::string JsonQuote(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      i++;
      continue;
    }
    // Multi-byte UTF-8: copy a well-formed sequence, else U+FFFD for one byte.
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    bool good = len > 0 && c <= 0xF4 && i + len <= s.size();
    for (size_t k = 1; good && k < len; k++)
      good = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (good && len == 3) {
      auto c1 = static_cast<unsigned char>(s[i + 1]);
      good = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogate
    }
    if (good && len == 4) {
      auto c1 = static_cast<unsigned char>(s[i + 1]);
      good = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);  // overlong, > U+10FFFF
    }
    if (good) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i++;
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace etcdpp::gateway
