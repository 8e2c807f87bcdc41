#include "flags.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace etcdpp::bench {

void FlagSet::Int(const std::string& name, int64_t def, const std::string& help) {
  flags_[name] = Flag{Kind::kInt, std::to_string(def), std::to_string(def), help};
}
void FlagSet::Double(const std::string& name, double def, const std::string& help) {
  std::ostringstream s;
  s << def;
  flags_[name] = Flag{Kind::kDouble, s.str(), s.str(), help};
}
void FlagSet::String(const std::string& name, const std::string& def, const std::string& help) {
  flags_[name] = Flag{Kind::kString, def, def, help};
}
void FlagSet::Bool(const std::string& name, bool def, const std::string& help) {
  flags_[name] = Flag{Kind::kBool, def ? "true" : "false", def ? "true" : "false", help};
}

bool FlagSet::TakesValue(const std::string& name) const {
  auto it = flags_.find(name);
  return it != flags_.end() && it->second.kind != Kind::kBool;
}

bool FlagSet::Assign(Flag& f, const std::string& name, const std::string& value,
                     std::string* error) {
  char* end = nullptr;
  switch (f.kind) {
    case Kind::kInt:
      std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0') {
        *error = "invalid integer for --" + name + ": \"" + value + "\"";
        return false;
      }
      break;
    case Kind::kDouble:
      std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0') {
        *error = "invalid number for --" + name + ": \"" + value + "\"";
        return false;
      }
      break;
    case Kind::kBool:
      if (value != "true" && value != "false") {
        *error = "invalid boolean for --" + name + ": \"" + value + "\"";
        return false;
      }
      break;
    case Kind::kString:
      break;
  }
  f.value = value;
  f.set = true;
  return true;
}

bool FlagSet::Parse(const std::vector<std::string>& args, std::string* error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-' || a == "--") {
      positionals_.push_back(a);
      continue;
    }
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    std::string name = body;
    std::string value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      *error = "unknown flag: --" + name;
      return false;
    }
    Flag& f = it->second;
    if (!has_value) {
      if (f.kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        *error = "flag needs an argument: --" + name;
        return false;
      }
    }
    if (!Assign(f, name, value, error)) return false;
  }
  return true;
}

const FlagSet::Flag& FlagSet::Find(const std::string& name, Kind kind) const {
  auto it = flags_.find(name);
  if (it == flags_.end() || it->second.kind != kind) {
    std::fprintf(stderr, "etcdpp-bench: internal error: flag --%s not declared as read\n",
                 name.c_str());
    std::abort();
  }
  return it->second;
}

int64_t FlagSet::GetInt(const std::string& name) const {
  return std::strtoll(Find(name, Kind::kInt).value.c_str(), nullptr, 10);
}
double FlagSet::GetDouble(const std::string& name) const {
  return std::strtod(Find(name, Kind::kDouble).value.c_str(), nullptr);
}
const std::string& FlagSet::GetString(const std::string& name) const {
  return Find(name, Kind::kString).value;
}
bool FlagSet::GetBool(const std::string& name) const {
  return Find(name, Kind::kBool).value == "true";
}
bool FlagSet::WasSet(const std::string& name) const {
  auto it = flags_.find(name);
  return it != flags_.end() && it->second.set;
}

std::string FlagSet::Usage() const {
  std::ostringstream out;
  for (const auto& [name, f] : flags_) {
    const char* kind = f.kind == Kind::kInt      ? " int"
                       : f.kind == Kind::kDouble ? " float"
                       : f.kind == Kind::kString ? " string"
                                                 : "";
    out << "  --" << name << kind;
    if (!f.def.empty() && f.def != "false") out << " (default " << f.def << ")";
    out << "\n      " << f.help << "\n";
  }
  return out.str();
}

}  // namespace etcdpp::bench
