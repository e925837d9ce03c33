// What the CLI prints the way kubectl does: ages, tables and YAML.
#include "flywheel/cli/output.h"

#include <algorithm>
#include <ostream>
#include <regex>

namespace flywheel::cli {

std::string HumanDuration(std::chrono::milliseconds d) {
  using std::to_string;
  const int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return to_string(seconds) + "s";
  // Each unit is shown with the next smaller one while small enough to matter.
  auto two = [](int64_t big, const char* big_unit, int64_t small, const char* small_unit) {
    return to_string(big) + big_unit + (small == 0 ? "" : to_string(small) + small_unit);
  };
  const int64_t minutes = seconds / 60;
  if (minutes < 10) return two(minutes, "m", seconds % 60, "s");
  if (minutes < 180) return to_string(minutes) + "m";
  const int64_t hours = minutes / 60;
  if (hours < 8) return two(hours, "h", minutes % 60, "m");
  if (hours < 48) return to_string(hours) + "h";
  if (hours < 24 * 8) return two(hours / 24, "d", hours % 24, "h");
  if (hours < 24 * 365 * 2) return to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) return two(hours / 24 / 365, "y", (hours / 24) % 365, "d");
  return to_string(hours / 24 / 365) + "y";
}

void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  // kubectl's tabwriter: minimum cell width 6, padding 3.
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size() + 3);
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(std::max<size_t>(width[i], 6) - row[i].size(), ' ');
    }
    out << line << "\n";
  }
}

namespace {

using nlohmann::json;

// Whether a YAML 1.1 or 1.2 reader resolves the plain scalar `s` to something other than a
// string: null, a boolean (1.1's yes/no/on/off too), an integer or float in any of their
// notations (1.1's octal, binary, base 60 and "_" separators too), a timestamp, or the 1.1 keys
// "=" and "<<".
bool ResolvesToNonString(const std::string& s) {
  static const std::regex kSpecial(
      "~|null|Null|NULL|[yY]|yes|Yes|YES|[nN]|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|"
      "ON|off|Off|OFF|=|<<|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
  static const std::regex kNumber(
      "[-+]?(0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(:[0-5]?[0-9])*(\\.[0-9_]*)?"
      "([eE][-+]?[0-9]+)?|\\.[0-9_]+([eE][-+]?[0-9]+)?)");
  static const std::regex kTimestamp("[0-9]{4}-[0-9][0-9]?-[0-9][0-9]?([Tt \\t].*)?");
  return s.empty() || std::regex_match(s, kSpecial) || std::regex_match(s, kNumber) ||
         std::regex_match(s, kTimestamp);
}

bool HasControlCharacter(const std::string& s, bool newline_allowed) {
  return std::any_of(s.begin(), s.end(), [&](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && !(newline_allowed && c == '\n')) || u == 0x7f;
  });
}

// Whether `s` may be written as a plain scalar in block context.
bool PlainAllowed(const std::string& s) {
  static const std::string kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string::npos || s.front() == ' ') return false;
  if (s.back() == ' ' || s.back() == ':') return false;
  return s.find(": ") == std::string::npos && s.find(" #") == std::string::npos;
}

std::string DoubleQuoted(const std::string& s) {
  // JSON's string escapes are all valid in a YAML double-quoted scalar.
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

// A string that fits on one line of YAML: plain, single-quoted or double-quoted.
std::string InlineString(const std::string& s) {
  if (ResolvesToNonString(s) || HasControlCharacter(s, false)) return DoubleQuoted(s);
  if (PlainAllowed(s)) return s;
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

// `s` as a literal block scalar whose lines are indented by `indent` ("|-\n  a\n  b\n"), or ""
// when a literal block cannot carry it exactly.
std::string LiteralBlock(const std::string& s, int indent) {
  const size_t end = s.find_last_not_of('\n');
  if (end == std::string::npos || HasControlCharacter(s, true)) return "";
  const std::string body = s.substr(0, end + 1);
  const size_t first_text = body.find_first_not_of('\n');
  if (body[first_text] == ' ') return "";  // would need an indentation indicator
  const size_t trailing = s.size() - body.size();
  std::string out = trailing == 0 ? "|-\n" : trailing == 1 ? "|\n" : "|+\n";
  size_t from = 0;
  while (from <= body.size()) {
    size_t nl = body.find('\n', from);
    if (nl == std::string::npos) nl = body.size();
    if (nl > from) out.append(indent, ' ').append(body, from, nl - from);
    out += "\n";
    from = nl + 1;
  }
  if (trailing > 1) out.append(trailing - 1, '\n');
  return out;
}

// A scalar value after "key:" or "-" (which sit at column `indent`), with its leading space and
// final newline.
std::string ScalarAfter(const json& v, int indent) {
  if (v.is_object()) return " {}\n";
  if (v.is_array()) return " []\n";
  if (!v.is_string()) return " " + v.dump() + "\n";
  const std::string& s = v.get_ref<const std::string&>();
  if (s.find('\n') != std::string::npos) {
    if (std::string block = LiteralBlock(s, indent + 2); !block.empty()) return " " + block;
  }
  return " " + InlineString(s) + "\n";
}

bool IsBlock(const json& v) { return (v.is_object() || v.is_array()) && !v.empty(); }

// A non-empty mapping or sequence whose lines start at column `indent`.
void EmitBlock(const json& v, int indent, std::string& out) {
  const std::string pad(indent, ' ');
  if (v.is_object()) {
    for (const auto& [key, value] : v.items()) {
      out +=
          pad + (key.find('\n') == std::string::npos ? InlineString(key) : DoubleQuoted(key)) + ":";
      if (IsBlock(value)) {
        out += "\n";
        // A sequence in a mapping is not indented, as kubectl writes it.
        EmitBlock(value, value.is_object() ? indent + 2 : indent, out);
      } else {
        out += ScalarAfter(value, indent);
      }
    }
    return;
  }
  for (const auto& item : v) {
    if (IsBlock(item)) {
      std::string block;
      EmitBlock(item, indent + 2, block);
      block.replace(indent, 2, "- ");
      out += block;
    } else {
      out += pad + "-" + ScalarAfter(item, indent);
    }
  }
}

}  // namespace

std::string ToYaml(const json& value) {
  if (!IsBlock(value)) return ScalarAfter(value, 0).substr(1);
  std::string out;
  EmitBlock(value, 0, out);
  return out;
}

}  // namespace flywheel::cli
