// The wallet's money rules (lib/billing/money.h): packages and custom amounts, calendar months,
// memberships, fen formatting and order numbers.
#include "lib/billing/money.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>

namespace inkstone::lib::money {
using namespace inkstone::lib::base;
using namespace inkstone::lib::billing;
namespace {

TimePoint At(const std::string& sql_time) {
    const std::optional<TimePoint> t = ParseSqlDateTime(sql_time);
    if (!t) throw std::invalid_argument("bad test time " + sql_time);
    return *t;
}

std::string Sql(TimePoint t) { return FormatSqlDateTimeSeconds(t); }

TEST(CustomRecharge, WholeYuanFromOneToFiftyThousand) {
    EXPECT_FALSE(CustomAmountError(100));
    EXPECT_FALSE(CustomAmountError(5'000'000));
    EXPECT_FALSE(CustomAmountError(12'300));
    EXPECT_TRUE(CustomAmountError(0));
    EXPECT_TRUE(CustomAmountError(-100));
    EXPECT_TRUE(CustomAmountError(99));
    EXPECT_TRUE(CustomAmountError(5'000'100));
    EXPECT_TRUE(CustomAmountError(150));  // ¥1.50: not whole yuan
    EXPECT_TRUE(CustomAmountError(std::numeric_limits<int64_t>::max()));
    EXPECT_TRUE(CustomAmountError(std::numeric_limits<int64_t>::min()));
}

TEST(CustomRecharge, TenCreditsPerYuanWithoutBonus) {
    EXPECT_EQ(CustomRecharge(100), (RechargeTerms{10, 0, 100}));
    EXPECT_EQ(CustomRecharge(1000), (RechargeTerms{100, 0, 1000}));
    EXPECT_EQ(CustomRecharge(5'000'000), (RechargeTerms{500'000, 0, 5'000'000}));
    EXPECT_THROW(CustomRecharge(150), std::invalid_argument);
    EXPECT_THROW(CustomRecharge(0), std::invalid_argument);
}

TEST(Packages, SeededPackagesAreSellableAndBadRowsAreNot) {
    // The seed of sql/002_wallet.sql.
    for (const RechargeTerms& seeded :
         {RechargeTerms{10, 0, 100}, RechargeTerms{100, 10, 1000}, RechargeTerms{500, 100, 5000},
          RechargeTerms{1000, 300, 10000}}) {
        EXPECT_FALSE(PackageError(seeded)) << seeded.credits;
        // Every seeded package is at least as good as the custom rate.
        EXPECT_GE(seeded.credits, seeded.amount_fen / kFenPerYuan * kCreditsPerYuan);
    }
    EXPECT_TRUE(PackageError({0, 0, 100}));
    EXPECT_TRUE(PackageError({10, -1, 100}));
    EXPECT_TRUE(PackageError({10, 0, 0}));
}

TEST(FormatFen, TwoDecimalsAlways) {
    EXPECT_EQ(FormatFen(0), "0.00");
    EXPECT_EQ(FormatFen(5), "0.05");
    EXPECT_EQ(FormatFen(99), "0.99");
    EXPECT_EQ(FormatFen(100), "1.00");
    EXPECT_EQ(FormatFen(990), "9.90");
    EXPECT_EQ(FormatFen(1000), "10.00");
    EXPECT_EQ(FormatFen(2500), "25.00");
    EXPECT_EQ(FormatFen(5'000'000), "50000.00");
    EXPECT_EQ(FormatFen(-1), "-0.01");
    EXPECT_EQ(FormatFen(-12345), "-123.45");
    EXPECT_EQ(FormatFen(std::numeric_limits<int64_t>::max()), "92233720368547758.07");
    EXPECT_EQ(FormatFen(std::numeric_limits<int64_t>::min()), "-92233720368547758.08");
}

TEST(CalendarMonths, EndOfMonthIsClamped) {
    EXPECT_EQ(Sql(AddCalendarMonths(At("2026-01-31 10:20:30"), 1)), "2026-02-28 10:20:30");
    EXPECT_EQ(Sql(AddCalendarMonths(At("2028-01-31 10:20:30"), 1)), "2028-02-29 10:20:30");
    EXPECT_EQ(Sql(AddCalendarMonths(At("2026-03-31 00:00:00"), 1)), "2026-04-30 00:00:00");
    EXPECT_EQ(Sql(AddCalendarMonths(At("2026-08-31 23:59:59"), 3)), "2026-11-30 23:59:59");
    EXPECT_EQ(Sql(AddCalendarMonths(At("2026-01-30 12:00:00"), 1)), "2026-02-28 12:00:00");
    EXPECT_EQ(Sql(AddCalendarMonths(At("2026-01-28 12:00:00"), 1)), "2026-02-28 12:00:00");
}

TEST(CalendarMonths, LeapDayPlusTwelveMonths) {
    EXPECT_EQ(Sql(AddCalendarMonths(At("2028-02-29 08:00:00"), 12)), "2029-02-28 08:00:00");
    EXPECT_EQ(Sql(AddCalendarMonths(At("2028-02-29 08:00:00"), 48)), "2032-02-29 08:00:00");
    // 2100 is not a leap year, 2000 was.
    EXPECT_EQ(Sql(AddCalendarMonths(At("2099-02-28 08:00:00"), 12)), "2100-02-28 08:00:00");
    EXPECT_EQ(Sql(AddCalendarMonths(At("1999-03-31 08:00:00"), 11)), "2000-02-29 08:00:00");
}

TEST(CalendarMonths, YearRolloverAndIdentity) {
    EXPECT_EQ(Sql(AddCalendarMonths(At("2026-12-15 06:00:00"), 1)), "2027-01-15 06:00:00");
    EXPECT_EQ(Sql(AddCalendarMonths(At("2026-11-30 06:00:00"), 3)), "2027-02-28 06:00:00");
    EXPECT_EQ(Sql(AddCalendarMonths(At("2026-05-17 06:00:00"), 0)), "2026-05-17 06:00:00");
    EXPECT_EQ(Sql(AddCalendarMonths(At("2026-05-17 06:00:00"), 1200)), "2126-05-17 06:00:00");
    EXPECT_THROW(AddCalendarMonths(At("2026-05-17 06:00:00"), -1), std::invalid_argument);
    EXPECT_THROW(AddCalendarMonths(At("2026-05-17 06:00:00"), kMaxMonths + 1),
                 std::invalid_argument);
}

TEST(CalendarMonths, SubSecondPartIsKept) {
    const TimePoint t = At("2026-01-31 10:20:30.250000");
    const TimePoint later = AddCalendarMonths(t, 1);
    EXPECT_EQ(later - At("2026-02-28 10:20:30"), std::chrono::milliseconds(250));
}

TEST(Membership, NewOrLapsedStartsNow) {
    const TimePoint now = At("2026-01-31 09:00:00");
    MembershipPeriod fresh = ExtendMembership(std::nullopt, now, 1);
    EXPECT_EQ(fresh.from, now);
    EXPECT_EQ(Sql(fresh.until), "2026-02-28 09:00:00");
    MembershipPeriod lapsed = ExtendMembership(At("2025-12-01 00:00:00"), now, 3);
    EXPECT_EQ(lapsed.from, now);
    EXPECT_EQ(Sql(lapsed.until), "2026-04-30 09:00:00");
    // Ending exactly now is not active any more.
    EXPECT_EQ(ExtendMembership(now, now, 1).from, now);
}

TEST(Membership, ActiveMembershipIsExtendedFromItsEnd) {
    const TimePoint now = At("2026-01-10 09:00:00");
    const TimePoint current = At("2026-01-31 18:00:00");
    MembershipPeriod period = ExtendMembership(current, now, 1);
    EXPECT_EQ(period.from, current);
    EXPECT_EQ(Sql(period.until), "2026-02-28 18:00:00");
    // Two monthly plans in a row from Jan 31: Feb 28, then Mar 28 (the clamp is not undone).
    EXPECT_EQ(Sql(ExtendMembership(period.until, now, 1).until), "2026-03-28 18:00:00");
    // A yearly plan on top of a leap-day end.
    EXPECT_EQ(Sql(ExtendMembership(At("2028-02-29 12:00:00"), At("2028-02-01 00:00:00"), 12).until),
              "2029-02-28 12:00:00");
}

TEST(Membership, IsMemberIsStrictlyBeforeTheEnd) {
    const TimePoint now = At("2026-06-01 00:00:00");
    EXPECT_FALSE(IsMember(std::nullopt, now));
    EXPECT_FALSE(IsMember(now, now));
    EXPECT_FALSE(IsMember(now - std::chrono::seconds(1), now));
    EXPECT_TRUE(IsMember(now + std::chrono::seconds(1), now));
}

TEST(OrderNo, FormatIsKindDateAndRandomLetters) {
    uint8_t random[kOrderNoRandomChars];
    for (size_t i = 0; i < kOrderNoRandomChars; ++i) random[i] = static_cast<uint8_t>(i * 13);
    const std::string no = FormatOrderNo(OrderKind::kRecharge, At("2026-11-26 08:00:00"), random);
    EXPECT_EQ(no.size(), kOrderNoLength);
    EXPECT_EQ(no.substr(0, 9), "R20261126");
    EXPECT_EQ(no[9], '0');
    EXPECT_EQ(no[10], 'D');  // 13
    EXPECT_EQ(OrderKindOf(no), OrderKind::kRecharge);
    const std::string member =
        FormatOrderNo(OrderKind::kMembership, At("2028-02-29 23:59:59"), random);
    EXPECT_EQ(member.substr(0, 9), "M20280229");
    EXPECT_EQ(OrderKindOf(member), OrderKind::kMembership);
}

TEST(OrderNo, FreshNumbersAreWellFormedAndDistinct) {
    const TimePoint now = At("2026-11-26 08:00:00");
    std::set<std::string> seen;
    std::set<char> letters;
    for (int i = 0; i < 2000; ++i) {
        const std::string no =
            NewOrderNo(i % 2 ? OrderKind::kRecharge : OrderKind::kMembership, now);
        ASSERT_TRUE(OrderKindOf(no)) << no;
        EXPECT_TRUE(seen.insert(no).second) << no;
        letters.insert(no.begin() + 9, no.end());
    }
    // The whole alphabet is used: 2000 × 20 draws miss one of 32 letters with p ≈ 10^-550.
    EXPECT_EQ(letters.size(), kOrderNoAlphabet.size());
    // WeChat Pay's out_trade_no: 6–32 characters.
    EXPECT_LE(kOrderNoLength, 32u);
}

TEST(OrderNo, AnythingElseIsNotAnOrderNo) {
    const std::string good = "R20261126" + std::string(kOrderNoRandomChars, 'A');
    ASSERT_TRUE(OrderKindOf(good));
    EXPECT_FALSE(OrderKindOf(""));
    EXPECT_FALSE(OrderKindOf(good.substr(1)));
    EXPECT_FALSE(OrderKindOf(good + "A"));
    EXPECT_FALSE(OrderKindOf("X" + good.substr(1)));
    EXPECT_FALSE(OrderKindOf("r" + good.substr(1)));
    EXPECT_FALSE(OrderKindOf("R20261326" + good.substr(9)));  // month 13
    EXPECT_FALSE(OrderKindOf("R20260230" + good.substr(9)));  // Feb 30
    EXPECT_FALSE(OrderKindOf("R2026112a" + good.substr(9)));
    for (const char bad : {'I', 'L', 'O', 'U', 'a', '-', ' ', '\0', '\''}) {
        std::string no = good;
        no.back() = bad;
        EXPECT_FALSE(OrderKindOf(no)) << static_cast<int>(bad);
    }
}

}  // namespace
}  // namespace inkstone::lib::money
