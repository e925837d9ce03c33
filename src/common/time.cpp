#include "flywheel/common/time.h"

#include <cstdint>
#include <cstdio>
#include <limits>

namespace flywheel {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using std::chrono::sys_days;

// The input inside double quotes, with quotes, backslashes and control bytes escaped, so an error
// message shows exactly what was given.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "YYYY-MM-DDTHH:MM:SS" in UTC.
std::string FormatDateTime(std::chrono::sys_seconds secs) {
  auto day = std::chrono::floor<days>(secs);
  std::chrono::year_month_day ymd{day};
  std::chrono::hh_mm_ss<seconds> hms{secs - day};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

// Reads exactly `n` decimal digits at `text[*pos]`, advancing `*pos`.
bool ReadFixedDigits(std::string_view text, size_t* pos, size_t n, int* value) {
  if (*pos + n > text.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = text[*pos + i];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *value = v;
  return true;
}

bool Expect(std::string_view text, size_t* pos, char c) {
  if (*pos >= text.size() || text[*pos] != c) return false;
  ++*pos;
  return true;
}

Status InvalidTime(std::string_view text, std::string_view why) {
  return Status(Code::kInvalidArgument, "invalid RFC 3339 time " + Quote(text) + ": " +
                                            std::string(why) +
                                            " (want e.g. \"2024-05-01T12:34:56Z\")");
}

// The unit suffixes Go's time.ParseDuration accepts, in nanoseconds.
struct DurationUnit {
  std::string_view name;
  uint64_t nanos;
};
constexpr DurationUnit kDurationUnits[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xC2\xB5s", 1000},  // U+00B5 MICRO SIGN
    {"\xCE\xBCs", 1000},  // U+03BC GREEK SMALL LETTER MU
    {"ms", 1000 * 1000},
    {"s", 1000 * 1000 * 1000},
    {"m", 60ULL * 1000 * 1000 * 1000},
    {"h", 3600ULL * 1000 * 1000 * 1000},
};
constexpr uint64_t kMaxDurationMagnitude = uint64_t{1} << 63;  // |math.MinInt64|

Status InvalidDuration(std::string_view text, std::string_view why) {
  return Status(Code::kInvalidArgument, "invalid duration " + Quote(text) + ": " +
                                            std::string(why) +
                                            " (want a number and a unit: ns, us, ms, s, m, h; "
                                            "e.g. \"90s\", \"1h30m\")");
}

// Appends `v` / 10^precision to `out` with trailing zeros of the fraction dropped (and no '.'
// when the fraction is zero), e.g. (1500, 3) -> "1.5".
void AppendFraction(std::string* out, uint64_t v, int precision) {
  std::string frac;
  bool nonzero = false;
  for (int i = 0; i < precision; ++i) {
    int digit = static_cast<int>(v % 10);
    nonzero = nonzero || digit != 0;
    if (nonzero) frac.insert(frac.begin(), static_cast<char>('0' + digit));
    v /= 10;
  }
  *out += std::to_string(v);
  if (!frac.empty()) {
    *out += '.';
    *out += frac;
  }
}

}  // namespace

std::string FormatRfc3339(Time t) { return FormatDateTime(std::chrono::floor<seconds>(t)) + "Z"; }

std::string FormatRfc3339Micro(Time t) {
  auto secs = std::chrono::floor<seconds>(t);
  auto micros = (std::chrono::floor<std::chrono::microseconds>(t) - secs).count();
  char buf[32];  // micros is in [0, 999999]; the size only quiets -Wformat-truncation
  std::snprintf(buf, sizeof(buf), ".%06lldZ", static_cast<long long>(micros));
  return FormatDateTime(secs) + buf;
}

Result<Time> ParseRfc3339(std::string_view text) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadFixedDigits(text, &pos, 4, &year) || !Expect(text, &pos, '-') ||
      !ReadFixedDigits(text, &pos, 2, &month) || !Expect(text, &pos, '-') ||
      !ReadFixedDigits(text, &pos, 2, &day)) {
    return InvalidTime(text, "the date is not YYYY-MM-DD");
  }
  if (!Expect(text, &pos, 'T')) return InvalidTime(text, "expected 'T' after the date");
  if (!ReadFixedDigits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') ||
      !ReadFixedDigits(text, &pos, 2, &minute) || !Expect(text, &pos, ':') ||
      !ReadFixedDigits(text, &pos, 2, &second)) {
    return InvalidTime(text, "the time of day is not HH:MM:SS");
  }
  std::chrono::year_month_day ymd{std::chrono::year(year),
                                  std::chrono::month(static_cast<unsigned>(month)),
                                  std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return InvalidTime(text, "the date does not exist");
  if (hour > 23 || minute > 59 || second > 59) {
    return InvalidTime(text, "the time of day is out of range");
  }

  int64_t fraction_nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    int64_t scale = 100000000;  // the first fractional digit is worth 10^8 ns
    while (pos < text.size() && IsDigit(text[pos])) {
      fraction_nanos += (text[pos] - '0') * scale;  // digits past nanoseconds add 0
      scale /= 10;
      ++digits;
      ++pos;
    }
    if (digits == 0) return InvalidTime(text, "expected digits after '.'");
  }

  seconds offset{0};
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    bool negative = text[pos] == '-';
    ++pos;
    int offset_hours = 0, offset_minutes = 0;
    if (!ReadFixedDigits(text, &pos, 2, &offset_hours) || !Expect(text, &pos, ':') ||
        !ReadFixedDigits(text, &pos, 2, &offset_minutes) || offset_hours > 23 ||
        offset_minutes > 59) {
      return InvalidTime(text, "the zone offset is not +HH:MM or -HH:MM");
    }
    offset = hours(offset_hours) + minutes(offset_minutes);
    if (negative) offset = -offset;
  } else {
    return InvalidTime(text, "expected 'Z' or a zone offset after the time of day");
  }
  if (pos != text.size()) return InvalidTime(text, "unexpected text after the zone");

  auto local = sys_days(ymd) + hours(hour) + minutes(minute) + seconds(second);
  auto utc = local - offset;
  return Time(std::chrono::duration_cast<Time::duration>(utc.time_since_epoch() +
                                                         nanoseconds(fraction_nanos)));
}

Result<Duration> ParseDuration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return Duration(0);
  if (s.empty()) return InvalidDuration(text, "it is empty");

  uint64_t total = 0;
  while (!s.empty()) {
    // One "<int>[.<fraction>]<unit>" group.
    uint64_t whole = 0;
    bool whole_overflow = false;
    size_t whole_digits = 0;
    while (whole_digits < s.size() && IsDigit(s[whole_digits])) {
      uint64_t digit = static_cast<uint64_t>(s[whole_digits] - '0');
      if (whole > (kMaxDurationMagnitude - digit) / 10) whole_overflow = true;
      if (!whole_overflow) whole = whole * 10 + digit;
      ++whole_digits;
    }
    s.remove_prefix(whole_digits);

    uint64_t fraction = 0;
    double fraction_scale = 1;
    size_t fraction_digits = 0;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      bool fraction_full = false;
      while (fraction_digits < s.size() && IsDigit(s[fraction_digits])) {
        uint64_t digit = static_cast<uint64_t>(s[fraction_digits] - '0');
        // Digits beyond what 63 bits hold cannot change the result at nanosecond precision.
        if (!fraction_full && fraction <= (kMaxDurationMagnitude - digit) / 10) {
          fraction = fraction * 10 + digit;
          fraction_scale *= 10;
        } else {
          fraction_full = true;
        }
        ++fraction_digits;
      }
      s.remove_prefix(fraction_digits);
      if (fraction_digits == 0 && whole_digits == 0) {
        return InvalidDuration(text, "expected digits around '.'");
      }
    } else if (whole_digits == 0) {
      return InvalidDuration(text, "expected a number");
    }

    size_t unit_length = 0;
    while (unit_length < s.size() && s[unit_length] != '.' && !IsDigit(s[unit_length])) {
      ++unit_length;
    }
    if (unit_length == 0) return InvalidDuration(text, "missing unit after a number");
    std::string_view unit_name = s.substr(0, unit_length);
    s.remove_prefix(unit_length);
    const DurationUnit* unit = nullptr;
    for (const auto& u : kDurationUnits) {
      if (u.name == unit_name) unit = &u;
    }
    if (unit == nullptr) return InvalidDuration(text, "unknown unit " + Quote(unit_name));

    Status out_of_range = InvalidDuration(text, "out of range (the limit is about ±292 years)");
    if (whole_overflow || whole > kMaxDurationMagnitude / unit->nanos) return out_of_range;
    uint64_t value = whole * unit->nanos;
    if (fraction > 0) {
      // As Go does: the fraction in floating point, truncated to whole nanoseconds.
      value += static_cast<uint64_t>(static_cast<double>(fraction) *
                                     (static_cast<double>(unit->nanos) / fraction_scale));
      if (value > kMaxDurationMagnitude) return out_of_range;
    }
    if (value > kMaxDurationMagnitude - total) return out_of_range;
    total += value;
  }
  if (negative) {
    // -2^63 is representable; compute it without overflowing int64.
    return Duration(total == kMaxDurationMagnitude ? std::numeric_limits<int64_t>::min()
                                                   : -static_cast<int64_t>(total));
  }
  if (total > kMaxDurationMagnitude - 1) {
    return InvalidDuration(text, "out of range (the limit is about ±292 years)");
  }
  return Duration(static_cast<int64_t>(total));
}

std::string FormatDuration(Duration d) {
  int64_t count = d.count();
  if (count == 0) return "0s";
  std::string out;
  uint64_t u = static_cast<uint64_t>(count);
  if (count < 0) {
    out = "-";
    u = ~u + 1;  // two's complement magnitude; also right for INT64_MIN
  }
  constexpr uint64_t kMicro = 1000, kMilli = 1000 * kMicro, kSecond = 1000 * kMilli;
  if (u < kSecond) {
    if (u < kMicro) {
      out += std::to_string(u) + "ns";
    } else if (u < kMilli) {
      AppendFraction(&out, u, 3);
      out += "\xC2\xB5s";  // "µs", as Go prints it
    } else {
      AppendFraction(&out, u, 6);
      out += "ms";
    }
    return out;
  }
  uint64_t total_seconds = u / kSecond;
  uint64_t hours_part = total_seconds / 3600;
  uint64_t minutes_part = total_seconds / 60 % 60;
  if (hours_part > 0) out += std::to_string(hours_part) + "h";
  if (total_seconds >= 60) out += std::to_string(minutes_part) + "m";
  AppendFraction(&out, u % (60 * kSecond), 9);
  out += "s";
  return out;
}

}  // namespace flywheel
