#pragma once
/// The money rules of the wallet as pure functions (README, "Credits, orders and memberships"):
/// recharge terms for packages and custom amounts, calendar-month arithmetic for memberships,
/// fen formatting and order numbers. Money is integer fen and credits are integers everywhere:
/// nothing here (or on any money path) touches floating point.
///
/// Every function is thread-safe. Only NewOrderNo reads a random source (libsodium's CSPRNG).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/clock.h"

namespace inkstone::lib::billing {

inline constexpr int64_t kFenPerYuan = 100;
inline constexpr int64_t kCreditsPerYuan = 10;
/// Custom recharges: whole yuan from ¥1 to ¥50,000.
inline constexpr int64_t kCustomMinFen = 1 * kFenPerYuan;
inline constexpr int64_t kCustomMaxFen = 50'000 * kFenPerYuan;
/// The longest membership a single order can add (a sanity bound for month arithmetic).
inline constexpr int kMaxMonths = 1200;

/// What a recharge order sells: `credits` + `bonus_credits` for `amount_fen`.
struct RechargeTerms {
    int64_t credits = 0;
    int64_t bonus_credits = 0;
    int64_t amount_fen = 0;

    bool operator==(const RechargeTerms& other) const {
        return credits == other.credits && bonus_credits == other.bonus_credits &&
               amount_fen == other.amount_fen;
    }
};

/// nullopt when `amount_fen` is an acceptable custom recharge (whole yuan, ¥1–¥50,000), else a
/// message for people naming the rule (for a 422 on `amount_fen`).
std::optional<std::string> CustomAmountError(int64_t amount_fen);

/// The terms of a custom recharge: 10 credits per yuan, no bonus. Precondition:
/// !CustomAmountError(amount_fen) (throws std::invalid_argument otherwise).
RechargeTerms CustomRecharge(int64_t amount_fen);

/// nullopt when a price row is sellable: credits > 0, bonus >= 0, price > 0 (the seeded
/// packages and anything an operator adds must pass, or the package is not offered).
std::optional<std::string> PackageError(const RechargeTerms& package);

/// Fen as yuan with exactly two decimals: 1000 → "10.00", 5 → "0.05", -1 → "-0.01".
/// (Alipay's total_amount format; also used in ledger descriptions.)
std::string FormatFen(int64_t fen);

// ---- Calendar months -------------------------------------------------------------------------

/// `t + months` calendar months in UTC, keeping the time of day; the day is clamped to the end
/// of the target month (Jan 31 + 1 = Feb 28, or Feb 29 in a leap year; Feb 29 + 12 = Feb 28).
/// `months` must be in [0, kMaxMonths] (std::invalid_argument otherwise).
base::TimePoint AddCalendarMonths(base::TimePoint t, int months);

/// The period `months` of membership buy: from `max(now, current)` to that + `months` calendar
/// months. An active membership is extended from its end; an expired or absent one starts now.
/// `until` is the new member_expired_at.
struct MembershipPeriod {
    base::TimePoint from;
    base::TimePoint until;
};
MembershipPeriod ExtendMembership(std::optional<base::TimePoint> current, base::TimePoint now,
                                  int months);

/// `member_expired_at > now`: is_member is always computed, never stored.
bool IsMember(std::optional<base::TimePoint> member_expired_at, base::TimePoint now);

// ---- Order numbers ---------------------------------------------------------------------------

enum class OrderKind { kRecharge, kMembership };

/// Random characters in an order number: 20 of a 32-letter alphabet, i.e. 100 bits.
inline constexpr size_t kOrderNoRandomChars = 20;
/// `R`/`M` + `YYYYMMDD` + 20 random characters.
inline constexpr size_t kOrderNoLength = 1 + 8 + kOrderNoRandomChars;

/// The alphabet of the random part: digits and upper-case letters without I, L, O and U
/// (Crockford's base32 letters: nothing to misread when a user reads it out to support).
inline constexpr std::string_view kOrderNoAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Builds an order number from its parts: the kind's letter (`R` recharge, `M` membership), the
/// UTC date of `now` as YYYYMMDD, then one alphabet letter per value of `random` (each taken
/// mod 32). Pure; NewOrderNo feeds it from the CSPRNG. 29 characters of [0-9A-Z], within both
/// Alipay's (≤ 64) and WeChat Pay's (6–32 of [0-9A-Za-z_-|*]) limits for out_trade_no.
std::string FormatOrderNo(OrderKind kind, base::TimePoint now,
                          const uint8_t (&random)[kOrderNoRandomChars]);

/// A fresh order number: unguessable (100 bits from libsodium's CSPRNG) and unique across
/// processes and hosts without any counter or coordination (a collision, ~2^-50 per pair of
/// orders on one day, would be refused by the UNIQUE key: that request fails, no two orders
/// ever share a number).
std::string NewOrderNo(OrderKind kind, base::TimePoint now);

/// The kind of a well-formed order number, or nullopt for anything FormatOrderNo cannot produce
/// (wrong length, letter, date or alphabet). Cheap: run it before any DB access.
std::optional<OrderKind> OrderKindOf(std::string_view order_no);

}  // namespace inkstone::lib::billing
