#pragma once
/// The ledger invariants of README "Credits, orders and memberships", checked in SQL over a whole
/// database, for every test that moves credits (the wallet's, generation's): call it after the dust
/// settles (no transaction in flight that must still commit) and expect no violations.
///
/// Checked for every user, order and ledger row:
///   - users.credits >= 0;
///   - users.credits = SUM(amount) of the user's ledger rows;
///   - the balance_after chain: in seq order, each row's balance_after = the running sum of
///     amounts; seq runs 1..N without gaps and users.ledger_seq = N; id order agrees with seq
///     order (true on MariaDB/MySQL, whose ids are allocated under the user's row lock);
///   - amounts have the sign of their type; balance_after >= 0;
///   - each PAID recharge order has exactly one RECHARGE row of its credits and, when its bonus
///     is > 0, exactly one BONUS row of its bonus, both for its user; an unpaid order has none;
///     no RECHARGE/BONUS row lacks a PAID order;
///   - each charge (CONSUME row) is refunded at most once, by a REFUND row of the same user and
///     the opposite amount; no REFUND row points at anything but a CONSUME row;
///   - each PAID membership order has its period (member_from < member_until); an unpaid one
///     has none and each PAID one exactly one ORDER membership grant; a user's member_expired_at
///     is the expired_after of their latest membership grant, and (when only orders changed it)
///     the latest member_until of their PAID orders;
///   - ORDER_REFUND / ORDER_REFUND_VOID rows match their order_refunds row (credits taken back,
///     given back only for a FAILED refund) of a PAID recharge order of the same user; a refund
///     takes back at most the order's credits + bonus and refunds at most its amount;
///   - a REDEEM row is worth its code's credits for the user who used it; a used code has
///     exactly one REDEEM row (credits) or one REDEEM membership grant (days), an unused none.
///
/// Thread-safety: as MariaDb::Query (root over the unix socket).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tests/harness/mariadb.h"

namespace inkstone::testing {

struct LedgerReport {
    std::vector<std::string> violations;  ///< one line per broken rule; empty = all hold
    int64_t users = 0;
    int64_t ledger_rows = 0;
    int64_t paid_recharge_orders = 0;
    int64_t paid_membership_orders = 0;
    int64_t charges = 0;
    int64_t refunds = 0;

    /// "users=4 ledger_rows=1234 ..." for test logs.
    std::string Summary() const;
};

/// Runs every check against `schema` (default `inkstone`).
LedgerReport CheckLedger(MariaDb& db, const std::string& schema = "inkstone");

/// Runs one statement, returns its rows as text (MariaDb::Query, GaleraCluster::Query bound to
/// one node).
using LedgerQuery = std::function<std::vector<std::vector<std::string>>(const std::string&)>;

/// The same checks through `query`: one node of a Galera cluster, for example. `multi_writer`
/// (several nodes took writes) skips "id order agrees with seq order": Galera nodes allocate
/// AUTO_INCREMENT ids in interleaved ranges, so ids need not follow a user's seq.
LedgerReport CheckLedger(const LedgerQuery& query, const std::string& schema = "inkstone",
                         bool multi_writer = false);

/// Whether every node holds the same credits, ledger_seq, SUM(amount) and row count for every
/// user: one line per difference (empty = they agree). Call once the nodes are Synced.
std::vector<std::string> CompareLedgers(const std::vector<LedgerQuery>& nodes,
                                        const std::string& schema = "inkstone");

}  // namespace inkstone::testing
