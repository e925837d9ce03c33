#include "flywheel/cli/flags.h"

#include <iomanip>
#include <sstream>

namespace flywheel::cli {

void FlagSet::Add(Flag flag) { flags_.push_back(std::move(flag)); }

const FlagSet::Flag* FlagSet::Find(const std::string& name) const {
  for (const auto& f : flags_) {
    if (f.name == name || (!f.short_name.empty() && f.short_name == name)) return &f;
  }
  return nullptr;
}

void FlagSet::String(const std::string& name, std::string* target, const std::string& help,
                     const std::string& short_name) {
  Add({name, short_name, help, *target, false,
       [target](const std::string& v) {
         *target = v;
         return Status::Ok();
       },
       "string"});
}

void FlagSet::Bool(const std::string& name, bool* target, const std::string& help,
                   const std::string& short_name) {
  Add({name, short_name, help, *target ? "true" : "false", true,
       [target, name](const std::string& v) {
         if (v == "true" || v == "1") {
           *target = true;
         } else if (v == "false" || v == "0") {
           *target = false;
         } else {
           return Status(Code::kInvalidArgument,
                         "--" + name + " must be true or false, not \"" + v + "\"");
         }
         return Status::Ok();
       },
       ""});
}

namespace {

// A setter that parses the whole value with `parse` (std::stoi, std::stod) into `target`.
template <typename T, typename Parse>
std::function<Status(const std::string&)> NumberSetter(T* target, const std::string& name,
                                                       const char* what, Parse parse) {
  return [target, name, what, parse](const std::string& v) {
    size_t used = 0;
    try {
      *target = parse(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != v.size()) {
      return Status(Code::kInvalidArgument,
                    "--" + name + " must be " + what + ", not \"" + v + "\"");
    }
    return Status::Ok();
  };
}

}  // namespace

void FlagSet::Int(const std::string& name, int* target, const std::string& help) {
  Add({name, "", help, std::to_string(*target), false,
       NumberSetter(target, name, "an integer",
                    [](const std::string& v, size_t* used) { return std::stoi(v, used); }),
       "int"});
}

void FlagSet::Double(const std::string& name, double* target, const std::string& help) {
  std::ostringstream def;
  def << *target;
  Add({name, "", help, def.str(), false,
       NumberSetter(target, name, "a number",
                    [](const std::string& v, size_t* used) { return std::stod(v, used); }),
       "float"});
}

void FlagSet::Strings(const std::string& name, std::vector<std::string>* target,
                      const std::string& help, const std::string& short_name) {
  Add({name, short_name, help, "", false,
       [target](const std::string& v) {
         target->push_back(v);
         return Status::Ok();
       },
       "stringArray"});
}

Status FlagSet::Parse(const std::vector<std::string>& args, bool* help_requested,
                      std::vector<std::string>* positional) {
  *help_requested = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      *help_requested = true;
      return Status::Ok();
    }
    if (a.size() < 2 || a[0] != '-') {
      if (positional == nullptr) {
        return Status(Code::kInvalidArgument, command_ + ": unexpected argument \"" + a + "\"");
      }
      positional->push_back(a);
      continue;
    }
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    std::string value;
    bool has_value = false;
    const Flag* flag = nullptr;
    if (a[1] != '-' && body.size() > 1) {
      // -oyaml, -nteam-a, -lapp=web, -n=team-a: a short flag with its value attached.
      const Flag* short_flag = Find(body.substr(0, 1));
      if (short_flag != nullptr && !short_flag->is_bool) {
        flag = short_flag;
        value = body.substr(body[1] == '=' ? 2 : 1);
        has_value = true;
      }
    }
    if (flag == nullptr) {
      if (auto eq = body.find('='); eq != std::string::npos) {
        value = body.substr(eq + 1);
        body = body.substr(0, eq);
        has_value = true;
      }
      flag = Find(body);
    }
    if (flag == nullptr) {
      return Status(Code::kInvalidArgument, command_ + ": unknown flag \"" + a + "\"");
    }
    if (!has_value) {
      if (flag->is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Status(Code::kInvalidArgument, command_ + ": flag " + a + " needs a value");
      }
    }
    if (Status s = flag->set(value); !s.ok()) {
      return Status(Code::kInvalidArgument, command_ + ": " + s.message());
    }
  }
  return Status::Ok();
}

std::optional<int> FlagSet::ParseCommandLine(const std::vector<std::string>& args,
                                             const Invocation& inv, const char* usage,
                                             std::vector<std::string>* positional) {
  bool help = false;
  if (Status s = Parse(args, &help, positional); !s.ok()) {
    inv.err << s.message() << "\n";
    return kExitUsage;
  }
  if (help) {
    inv.out << UsageFor(usage, inv.program);
    PrintDefaults(inv.out);
    return kExitOk;
  }
  return std::nullopt;
}

void FlagSet::PrintDefaults(std::ostream& out) const {
  for (const auto& f : flags_) {
    std::string names = (f.short_name.empty() ? "    " : "-" + f.short_name + ", ") + "--" + f.name;
    if (!f.type.empty()) names += " " + f.type;
    out << "  " << std::left << std::setw(36) << names + "  " << f.help;
    if (!f.default_value.empty() && !f.is_bool) out << " (default \"" << f.default_value << "\")";
    if (f.is_bool && f.default_value == "true") out << " (default true)";
    out << "\n";
  }
}

}  // namespace flywheel::cli
