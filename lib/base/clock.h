#pragma once
/// Time as a dependency, so expiry and month arithmetic are testable.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace inkstone::lib::base {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
  public:
    virtual ~Clock() = default;
    virtual TimePoint Now() const = 0;
};

/// The real clock. Thread-safe.
class SystemClock final : public Clock {
  public:
    TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

/// `2026-11-26T08:00:00Z` (seconds precision, UTC).
std::string FormatRfc3339(TimePoint t);
/// `2026-11-26 08:00:00.123456` (UTC, microseconds floored), for DATETIME(6) columns: the
/// fraction is kept so cut-offs (`failed_at > ?`, `expires_at < ?`) and ordering are exact.
std::string FormatSqlDateTime(TimePoint t);
/// `2026-11-26 08:00:00` (UTC, whole seconds floored): the same layout without the fraction,
/// for wall-clock stamps of other systems (Alipay's timestamp, WeChat Pay's times).
std::string FormatSqlDateTimeSeconds(TimePoint t);
/// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC). nullopt on bad input.
std::optional<TimePoint> ParseSqlDateTime(std::string_view text);

/// Gregorian calendar: leap years, and the days of `month` (1..12; 0 for any other month).
bool IsLeapYear(int year);
int DaysInMonth(int year, int month);

}  // namespace inkstone::lib::base
