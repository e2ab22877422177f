#include "lib/billing/money.h"

#include <sodium.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string>

#include "lib/base/assert.h"

namespace inkstone::lib::billing {
namespace {

constexpr char kRechargeLetter = 'R';
constexpr char kMembershipLetter = 'M';

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::tm ToUtc(base::TimePoint t) {
    const auto seconds = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
    const auto time = static_cast<std::time_t>(seconds);
    std::tm tm{};
    if (gmtime_r(&time, &tm) == nullptr) throw std::range_error("time out of the calendar's range");
    return tm;
}

}  // namespace

std::optional<std::string> CustomAmountError(int64_t amount_fen) {
    if (amount_fen < kCustomMinFen || amount_fen > kCustomMaxFen) {
        return "must be from 100 to 5000000 fen (¥1 to ¥50,000)";
    }
    if (amount_fen % kFenPerYuan != 0) return "must be a whole number of yuan (a multiple of 100)";
    return std::nullopt;
}

RechargeTerms CustomRecharge(int64_t amount_fen) {
    if (CustomAmountError(amount_fen)) {
        throw std::invalid_argument("CustomRecharge: amount outside the custom rules");
    }
    RechargeTerms terms;
    terms.amount_fen = amount_fen;
    terms.credits = amount_fen / kFenPerYuan * kCreditsPerYuan;
    terms.bonus_credits = 0;
    return terms;
}

std::optional<std::string> PackageError(const RechargeTerms& package) {
    if (package.credits <= 0) return "credits must be positive";
    if (package.bonus_credits < 0) return "bonus_credits must not be negative";
    if (package.amount_fen <= 0) return "price_fen must be positive";
    return std::nullopt;
}

std::string FormatFen(int64_t fen) {
    // Unsigned magnitude, so INT64_MIN has one too.
    const uint64_t magnitude =
        fen < 0 ? static_cast<uint64_t>(-(fen + 1)) + 1 : static_cast<uint64_t>(fen);
    char buffer[32];
    const int n = std::snprintf(buffer, sizeof buffer, "%s%llu.%02llu", fen < 0 ? "-" : "",
                                static_cast<unsigned long long>(magnitude / 100),
                                static_cast<unsigned long long>(magnitude % 100));
    INKSTONE_ASSERT(n >= 0 && static_cast<size_t>(n) < sizeof buffer,
                    "FormatFen(" + std::to_string(fen) + "): buffer too small");
    return std::string(buffer, static_cast<size_t>(n));
}

base::TimePoint AddCalendarMonths(base::TimePoint t, int months) {
    if (months < 0 || months > kMaxMonths) {
        throw std::invalid_argument("AddCalendarMonths: months out of range");
    }
    const auto whole_seconds = std::chrono::floor<std::chrono::seconds>(t);
    const auto fraction = t - whole_seconds;
    std::tm tm = ToUtc(t);
    const int month_index = tm.tm_mon + months;  // 0-based, may run past December
    const int year = tm.tm_year + 1900 + month_index / 12;
    const int month = month_index % 12 + 1;
    const int last_day = base::DaysInMonth(year, month);
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    if (tm.tm_mday > last_day) tm.tm_mday = last_day;
    tm.tm_isdst = 0;
    errno = 0;
    const std::time_t seconds = timegm(&tm);
    if (seconds == static_cast<std::time_t>(-1) && errno != 0) {
        throw std::range_error("AddCalendarMonths: result out of range");
    }
    return base::TimePoint(std::chrono::duration_cast<base::TimePoint::duration>(
               std::chrono::seconds(seconds))) +
           fraction;
}

MembershipPeriod ExtendMembership(std::optional<base::TimePoint> current, base::TimePoint now,
                                  int months) {
    MembershipPeriod period;
    period.from = IsMember(current, now) ? *current : now;
    period.until = AddCalendarMonths(period.from, months);
    return period;
}

bool IsMember(std::optional<base::TimePoint> member_expired_at, base::TimePoint now) {
    return member_expired_at.has_value() && *member_expired_at > now;
}

std::string FormatOrderNo(OrderKind kind, base::TimePoint now,
                          const uint8_t (&random)[kOrderNoRandomChars]) {
    const std::tm tm = ToUtc(now);
    char date[16];
    const int n = std::snprintf(date, sizeof date, "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                                tm.tm_mday);
    if (n != 8) throw std::range_error("FormatOrderNo: year outside 0000-9999");
    std::string out;
    out.reserve(kOrderNoLength);
    out += kind == OrderKind::kRecharge ? kRechargeLetter : kMembershipLetter;
    out.append(date, 8);
    for (const uint8_t value : random) out += kOrderNoAlphabet[value % kOrderNoAlphabet.size()];
    return out;
}

std::string NewOrderNo(OrderKind kind, base::TimePoint now) {
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    uint8_t random[kOrderNoRandomChars];
    // randombytes_uniform is unbiased; 32 divides 256 anyway, but this keeps it obviously so.
    for (uint8_t& value : random) {
        value = static_cast<uint8_t>(randombytes_uniform(kOrderNoAlphabet.size()));
    }
    return FormatOrderNo(kind, now, random);
}

std::optional<OrderKind> OrderKindOf(std::string_view order_no) {
    if (order_no.size() != kOrderNoLength) return std::nullopt;
    std::optional<OrderKind> kind;
    if (order_no[0] == kRechargeLetter) kind = OrderKind::kRecharge;
    if (order_no[0] == kMembershipLetter) kind = OrderKind::kMembership;
    if (!kind) return std::nullopt;
    int year = 0, month = 0, day = 0;
    for (size_t i = 1; i <= 8; ++i) {
        if (!IsDigit(order_no[i])) return std::nullopt;
    }
    for (size_t i = 1; i <= 4; ++i) year = year * 10 + (order_no[i] - '0');
    month = (order_no[5] - '0') * 10 + (order_no[6] - '0');
    day = (order_no[7] - '0') * 10 + (order_no[8] - '0');
    if (day < 1 || day > base::DaysInMonth(year, month)) return std::nullopt;
    for (size_t i = 9; i < order_no.size(); ++i) {
        if (kOrderNoAlphabet.find(order_no[i]) == std::string_view::npos) return std::nullopt;
    }
    return kind;
}

}  // namespace inkstone::lib::billing
