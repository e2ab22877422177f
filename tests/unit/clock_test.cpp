#include "lib/base/clock.h"

#include <gtest/gtest.h>

#include <clocale>

namespace inkstone::lib {
using namespace inkstone::lib::base;
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// 2026-11-26T08:00:00Z
constexpr int64_t kSample = 1795680000;

TimePoint At(int64_t epoch_seconds) { return TimePoint(seconds(epoch_seconds)); }

TEST(ClockTest, FormatsRfc3339) {
    EXPECT_EQ(FormatRfc3339(At(0)), "1970-01-01T00:00:00Z");
    EXPECT_EQ(FormatRfc3339(At(kSample)), "2026-11-26T08:00:00Z");
    EXPECT_EQ(FormatRfc3339(At(kSample) + milliseconds(999)), "2026-11-26T08:00:00Z");
    EXPECT_EQ(FormatRfc3339(At(951782400)), "2000-02-29T00:00:00Z");
}

TEST(ClockTest, FloorsTimesBeforeTheEpoch) {
    EXPECT_EQ(FormatRfc3339(At(0) - milliseconds(1)), "1969-12-31T23:59:59Z");
}

TEST(ClockTest, FormatsSqlDateTimeWithMicroseconds) {
    EXPECT_EQ(FormatSqlDateTime(At(kSample)), "2026-11-26 08:00:00.000000");
    EXPECT_EQ(FormatSqlDateTime(At(kSample + 3599)), "2026-11-26 08:59:59.000000");
    EXPECT_EQ(FormatSqlDateTime(At(kSample) + std::chrono::microseconds(123456)),
              "2026-11-26 08:00:00.123456");
    EXPECT_EQ(FormatSqlDateTime(At(kSample) + std::chrono::nanoseconds(999999999)),
              "2026-11-26 08:00:00.999999");
    EXPECT_EQ(FormatSqlDateTime(At(0) - std::chrono::microseconds(1)),
              "1969-12-31 23:59:59.999999");
}

TEST(ClockTest, FormatsSqlDateTimeInWholeSeconds) {
    EXPECT_EQ(FormatSqlDateTimeSeconds(At(kSample) + milliseconds(999)), "2026-11-26 08:00:00");
    EXPECT_EQ(FormatSqlDateTimeSeconds(At(kSample + 3599)), "2026-11-26 08:59:59");
}

TEST(ClockTest, ParsesSqlDateTime) {
    EXPECT_EQ(ParseSqlDateTime("2026-11-26 08:00:00"), At(kSample));
    EXPECT_EQ(ParseSqlDateTime("1970-01-01 00:00:00"), At(0));
    EXPECT_EQ(ParseSqlDateTime("1969-12-31 23:59:59"), At(-1));
    EXPECT_EQ(ParseSqlDateTime("2000-02-29 00:00:00"), At(951782400));
}

TEST(ClockTest, ParsesFractionalSeconds) {
    EXPECT_EQ(ParseSqlDateTime("2026-11-26 08:00:00.5"), At(kSample) + milliseconds(500));
    EXPECT_EQ(ParseSqlDateTime("2026-11-26 08:00:00.123456"),
              At(kSample) + std::chrono::microseconds(123456));
}

TEST(ClockTest, RoundTrips) {
    for (int64_t t : {int64_t{0}, kSample, int64_t{4102444799}, int64_t{951868799}}) {
        EXPECT_EQ(ParseSqlDateTime(FormatSqlDateTime(At(t))), At(t)) << t;
        const TimePoint fine = At(t) + std::chrono::microseconds(654321);
        EXPECT_EQ(ParseSqlDateTime(FormatSqlDateTime(fine)), fine) << t;
    }
}

TEST(ClockTest, RejectsBadInput) {
    for (const char* bad :
         {"", "2026-11-26", "2026-11-26T08:00:00", "2026-11-26 08:00:00Z", "2026-11-26 08:00:00.",
          "2026-11-26 08:00:00.1234567", "2026-11-26 8:00:00", "2026-13-01 00:00:00",
          "2026-00-10 00:00:00", "2026-02-29 00:00:00", "2026-04-31 00:00:00",
          "0000-00-00 00:00:00", "2026-11-26 24:00:00", "2026-11-26 08:60:00",
          "2026-11-26 08:00:60", "+026-11-26 08:00:00", "2026-11-26 08:00: 0",
          "2026/11/26 08:00:00", "2026-11-26 08:00:00.12a"}) {
        EXPECT_FALSE(ParseSqlDateTime(bad).has_value()) << bad;
    }
}

TEST(ClockTest, IgnoresTheLocale) {
    // A process-wide locale with another decimal point or digits must not change anything.
    const char* previous = std::setlocale(LC_ALL, nullptr);
    const std::string saved = previous != nullptr ? previous : "C";
    std::setlocale(LC_ALL, "de_DE.UTF-8");  // may not exist; then nothing changes
    EXPECT_EQ(FormatRfc3339(At(kSample)), "2026-11-26T08:00:00Z");
    EXPECT_EQ(ParseSqlDateTime("2026-11-26 08:00:00.5"), At(kSample) + milliseconds(500));
    std::setlocale(LC_ALL, saved.c_str());
}

TEST(ClockTest, SystemClockIsNow) {
    const SystemClock clock;
    const auto before = std::chrono::system_clock::now();
    const TimePoint now = clock.Now();
    EXPECT_GE(now, before);
    EXPECT_LE(now - before, seconds(5));
}

}  // namespace
}  // namespace inkstone::lib
