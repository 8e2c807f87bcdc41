// A strict reader of the Prometheus text format (0.0.4), enough to check
// what Registry::Expose writes: every line is HELP, TYPE or a sample, HELP and
// TYPE come once per family before its samples, label values are unescaped.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace etcdpp::testing {

struct ParsedSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in written order
  std::string value;
};

struct ParsedFamily {
  std::string help;
  std::string type;
  std::vector<ParsedSample> samples;
};

struct Parsed {
  bool ok = true;
  std::string error;
  std::vector<std::string> order;  // family names in written order
  std::map<std::string, ParsedFamily> families;

  // The value of the sample with exactly these labels, or "" if none.
  std::string Value(const std::string& sample_name,
                    const std::vector<std::pair<std::string, std::string>>& labels = {}) const {
    for (const auto& [n, f] : families)
      for (const auto& s : f.samples)
        if (s.name == sample_name && s.labels == labels) return s.value;
    return "";
  }
};

inline bool ValidName(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

inline Parsed ParseExposition(const std::string& text) {
  Parsed p;
  auto fail = [&p](const std::string& why) {
    p.ok = false;
    if (p.error.empty()) p.error = why;
  };
  if (!text.empty() && text.back() != '\n') fail("no trailing newline");
  std::string current;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      bool help = line[2] == 'H';
      std::string rest = line.substr(7);
      size_t sp = rest.find(' ');
      std::string name = rest.substr(0, sp);
      std::string val = sp == std::string::npos ? "" : rest.substr(sp + 1);
      if (!ValidName(name)) fail("bad family name: " + line);
      if (help) {
        if (p.families.count(name)) fail("HELP twice or after samples: " + name);
        p.order.push_back(name);
        p.families[name].help = val;
        current = name;
      } else {
        if (name != current) fail("TYPE without HELP: " + name);
        p.families[name].type = val;
      }
      continue;
    }
    if (line.empty() || line[0] == '#') {
      fail("unexpected line: " + line);
      continue;
    }
    ParsedSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      i++;
    s.name = line.substr(0, i);
    if (!ValidName(s.name)) fail("bad sample name: " + line);
    if (i < line.size() && line[i] == '{') {
      i++;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          fail("bad label: " + line);
          break;
        }
        std::string lname = line.substr(i, eq - i);
        if (!ValidName(lname)) fail("bad label name: " + line);
        std::string v;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; j++) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            j++;
            v.push_back(line[j] == 'n' ? '\n' : line[j]);
          } else {
            v.push_back(line[j]);
          }
        }
        s.labels.emplace_back(lname, v);
        i = j + 1;
        if (i < line.size() && line[i] == ',') i++;
      }
      i++;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      fail("no value: " + line);
      continue;
    }
    s.value = line.substr(i + 1);
    // The sample must belong to the current family (name, or name_bucket/_sum/_count).
    const std::string& fam = current;
    bool belongs = s.name == fam || s.name == fam + "_bucket" || s.name == fam + "_sum" ||
                   s.name == fam + "_count";
    if (!belongs) fail("sample outside its family: " + line);
    p.families[fam].samples.push_back(std::move(s));
  }
  return p;
}

}  // namespace etcdpp::testing
