#include "lib/base/clock.h"

#include <cerrno>
#include <cstdio>
#include <ctime>

namespace inkstone::lib::base {
namespace {

// Breaks a time point down to UTC calendar fields; seconds are floored, so instants before
// the epoch format as the second they fall in.
bool ToUtc(TimePoint t, std::tm* out) {
    const auto seconds = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
    const std::time_t time = static_cast<std::time_t>(seconds);
    return gmtime_r(&time, out) != nullptr;
}

std::string Format(TimePoint t, const char* pattern) {
    std::tm tm{};
    if (!ToUtc(t, &tm)) return {};
    char buffer[64];
    const int n = std::snprintf(buffer, sizeof buffer, pattern, tm.tm_year + 1900, tm.tm_mon + 1,
                                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n < 0 || static_cast<size_t>(n) >= sizeof buffer) return {};
    return std::string(buffer, static_cast<size_t>(n));
}

bool ReadDigits(std::string_view text, size_t pos, size_t count, int* value) {
    if (pos + count > text.size()) return false;
    int result = 0;
    for (size_t i = pos; i < pos + count; ++i) {
        const char c = text[i];
        if (c < '0' || c > '9') return false;
        result = result * 10 + (c - '0');
    }
    *value = result;
    return true;
}

}  // namespace

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12) return 0;
    return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

std::string FormatRfc3339(TimePoint t) { return Format(t, "%04d-%02d-%02dT%02d:%02d:%02dZ"); }

std::string FormatSqlDateTime(TimePoint t) {
    std::string text = FormatSqlDateTimeSeconds(t);
    if (text.empty()) return text;
    // floor, so an instant before the epoch keeps the second ToUtc floored it to.
    const auto micros = std::chrono::floor<std::chrono::microseconds>(t.time_since_epoch());
    const auto seconds = std::chrono::floor<std::chrono::seconds>(micros);
    char fraction[8];
    std::snprintf(fraction, sizeof fraction, ".%06lld",
                  static_cast<long long>((micros - seconds).count()));
    return text + fraction;
}

std::string FormatSqlDateTimeSeconds(TimePoint t) {
    return Format(t, "%04d-%02d-%02d %02d:%02d:%02d");
}

std::optional<TimePoint> ParseSqlDateTime(std::string_view text) {
    // Fixed layout `YYYY-MM-DD HH:MM:SS`, parsed by hand: sscanf/strptime would accept
    // signs, spaces and short fields, and strptime depends on the locale.
    constexpr size_t kBaseLength = 19;
    if (text.size() < kBaseLength) return std::nullopt;
    if (text[4] != '-' || text[7] != '-' || text[10] != ' ' || text[13] != ':' || text[16] != ':') {
        return std::nullopt;
    }
    int year, month, day, hour, minute, second;
    if (!ReadDigits(text, 0, 4, &year) || !ReadDigits(text, 5, 2, &month) ||
        !ReadDigits(text, 8, 2, &day) || !ReadDigits(text, 11, 2, &hour) ||
        !ReadDigits(text, 14, 2, &minute) || !ReadDigits(text, 17, 2, &second)) {
        return std::nullopt;
    }
    // MySQL's zero date (0000-00-00) and impossible dates fail here; timegm would normalise
    // 2026-02-30 into March instead.
    if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;

    std::chrono::microseconds fraction{0};
    if (text.size() > kBaseLength) {
        const size_t digits = text.size() - kBaseLength - 1;
        if (text[kBaseLength] != '.' || digits < 1 || digits > 6) return std::nullopt;
        int value;
        if (!ReadDigits(text, kBaseLength + 1, digits, &value)) return std::nullopt;
        for (size_t i = digits; i < 6; ++i) value *= 10;
        fraction = std::chrono::microseconds(value);
    }

    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    errno = 0;
    const std::time_t seconds = timegm(&tm);
    if (seconds == static_cast<std::time_t>(-1) && errno != 0) return std::nullopt;
    return TimePoint(
        std::chrono::duration_cast<TimePoint::duration>(std::chrono::seconds(seconds) + fraction));
}

}  // namespace inkstone::lib::base
