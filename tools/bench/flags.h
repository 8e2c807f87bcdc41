// A small command-line flag set in the style of cobra/pflag (what etcd's benchmark uses):
// "--name=value", "--name value", bare "--flag" for booleans, and positional arguments.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace etcdpp::bench {

class FlagSet {
 public:
  void Int(const std::string& name, int64_t def, const std::string& help);
  void Double(const std::string& name, double def, const std::string& help);
  void String(const std::string& name, const std::string& def, const std::string& help);
  void Bool(const std::string& name, bool def, const std::string& help);

  // Parses `args`; on failure returns false and sets *error. Unknown flags are errors.
  bool Parse(const std::vector<std::string>& args, std::string* error);
  // True when `name` is a declared flag that takes a value (not a boolean).
  bool TakesValue(const std::string& name) const;

  int64_t GetInt(const std::string& name) const;
  double GetDouble(const std::string& name) const;
  const std::string& GetString(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  bool WasSet(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

  // One line per flag: "  --name <kind> (default x)  help".
  std::string Usage() const;

 private:
  enum class Kind { kInt, kDouble, kString, kBool };
  struct Flag {
    Kind kind;
    std::string value;
    std::string def;
    std::string help;
    bool set = false;
  };
  const Flag& Find(const std::string& name, Kind kind) const;
  bool Assign(Flag& f, const std::string& name, const std::string& value, std::string* error);

  std::map<std::string, Flag> flags_;
  std::vector<std::string> positionals_;
};

}  // namespace etcdpp::bench
