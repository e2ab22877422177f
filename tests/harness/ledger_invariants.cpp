#include "tests/harness/ledger_invariants.h"

#include <map>
#include <string>

namespace inkstone::testing {
namespace {

/// One rule: a query returning a row per violation, and how to describe such a row.
struct Check {
    const char* rule;
    const char* sql;  ///< `$S` stands for the schema
};

// clang-format off
const Check kChecks[] = {
    {"users.credits >= 0",
     "SELECT id, credits FROM $S.users WHERE credits < 0"},
    {"users.credits = SUM(ledger amounts)",
     "SELECT u.id, u.credits, COALESCE(SUM(t.amount), 0) FROM $S.users u "
     "LEFT JOIN $S.credit_transactions t ON t.user_id = u.id "
     "GROUP BY u.id, u.credits HAVING u.credits <> COALESCE(SUM(t.amount), 0)"},
    {"balance_after = running sum in seq order, seq = 1..N",
     "SELECT id, user_id, seq, balance_after, running, position FROM ("
     "  SELECT id, user_id, seq, balance_after,"
     "         SUM(amount) OVER (PARTITION BY user_id ORDER BY seq) AS running,"
     "         ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY seq) AS position"
     "  FROM $S.credit_transactions) chain "
     "WHERE balance_after <> running OR seq <> position"},
    {"id order agrees with seq order",
     "SELECT id, user_id, seq FROM ("
     "  SELECT id, user_id, seq,"
     "         ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY id) AS by_id,"
     "         ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY seq) AS by_seq"
     "  FROM $S.credit_transactions) orders WHERE by_id <> by_seq"},
    {"users.ledger_seq = number of ledger rows",
     "SELECT u.id, u.ledger_seq, COUNT(t.id) FROM $S.users u "
     "LEFT JOIN $S.credit_transactions t ON t.user_id = u.id "
     "GROUP BY u.id, u.ledger_seq HAVING u.ledger_seq <> COUNT(t.id)"},
    {"amount has the sign of its type, balance_after >= 0",
     "SELECT id, type, amount, balance_after FROM $S.credit_transactions WHERE balance_after < 0 "
     "OR (type IN ('RECHARGE', 'BONUS', 'REFUND', 'ORDER_REFUND_VOID', 'REDEEM') AND amount <= 0) "
     "OR (type IN ('CONSUME', 'ORDER_REFUND') AND amount >= 0) OR amount = 0"},
    {"a PAID recharge order has one RECHARGE row of its credits (and one BONUS row of its "
     "bonus); an unpaid one has none",
     "SELECT o.order_no, o.status, o.credits, o.bonus_credits,"
     "       SUM(t.type = 'RECHARGE'), SUM(CASE WHEN t.type = 'RECHARGE' THEN t.amount END),"
     "       SUM(t.type = 'BONUS'), SUM(CASE WHEN t.type = 'BONUS' THEN t.amount END),"
     "       SUM(t.user_id <> o.user_id) "
     "FROM $S.recharge_orders o LEFT JOIN $S.credit_transactions t "
     "  ON t.related_order_no = o.order_no AND t.type IN ('RECHARGE', 'BONUS') "
     "GROUP BY o.id, o.order_no, o.status, o.credits, o.bonus_credits, o.user_id "
     "HAVING (o.status = 'PAID' AND NOT ("
     "          COALESCE(SUM(t.type = 'RECHARGE'), 0) = 1"
     "          AND SUM(CASE WHEN t.type = 'RECHARGE' THEN t.amount END) = o.credits"
     "          AND COALESCE(SUM(t.type = 'BONUS'), 0) = (o.bonus_credits > 0)"
     "          AND COALESCE(SUM(CASE WHEN t.type = 'BONUS' THEN t.amount END), 0)"
     "              = o.bonus_credits"
     "          AND COALESCE(SUM(t.user_id <> o.user_id), 0) = 0))"
     "    OR (o.status <> 'PAID' AND COUNT(t.id) > 0)"},
    {"every RECHARGE/BONUS row belongs to a PAID order",
     "SELECT t.id, t.type, t.related_order_no FROM $S.credit_transactions t "
     "LEFT JOIN $S.recharge_orders o ON o.order_no = t.related_order_no AND o.status = 'PAID' "
     "WHERE t.type IN ('RECHARGE', 'BONUS') AND o.id IS NULL"},
    {"a charge is refunded at most once",
     "SELECT refund_of, COUNT(*) FROM $S.credit_transactions WHERE refund_of IS NOT NULL "
     "GROUP BY refund_of HAVING COUNT(*) > 1"},
    {"a REFUND reverses one CONSUME row of the same user",
     "SELECT r.id, r.refund_of, r.amount, c.type, c.amount FROM $S.credit_transactions r "
     "LEFT JOIN $S.credit_transactions c ON c.id = r.refund_of "
     "WHERE r.type = 'REFUND' AND (c.id IS NULL OR c.type <> 'CONSUME' "
     "  OR c.user_id <> r.user_id OR r.amount <> -c.amount)"},
    {"a PAID membership order has its period, an unpaid one none",
     "SELECT order_no, status, member_from, member_until FROM $S.membership_orders "
     "WHERE (status = 'PAID' AND NOT (member_from < member_until)) "
     "   OR (status <> 'PAID' AND (member_from IS NOT NULL OR member_until IS NOT NULL))"},
    {"member_expired_at = the latest member_until of the user's PAID membership orders (users "
     "whose membership only orders changed)",
     "SELECT u.id, u.member_expired_at, MAX(o.member_until) FROM $S.users u "
     "JOIN $S.membership_orders o ON o.user_id = u.id AND o.status = 'PAID' "
     "WHERE NOT EXISTS (SELECT 1 FROM $S.membership_grants g "
     "                  WHERE g.user_id = u.id AND g.source <> 'ORDER') "
     "GROUP BY u.id, u.member_expired_at "
     "HAVING u.member_expired_at IS NULL OR u.member_expired_at <> MAX(o.member_until)"},
    {"member_expired_at = expired_after of the user's latest membership grant",
     "SELECT u.id, u.member_expired_at, g.expired_after FROM $S.users u "
     "JOIN $S.membership_grants g ON g.user_id = u.id "
     "  AND g.id = (SELECT MAX(id) FROM $S.membership_grants WHERE user_id = u.id) "
     "WHERE NOT (u.member_expired_at <=> g.expired_after)"},
    {"a PAID membership order has exactly one ORDER membership grant; an unpaid one has none",
     "SELECT o.order_no, o.status, COUNT(g.id) FROM $S.membership_orders o "
     "LEFT JOIN $S.membership_grants g ON g.related_order_no = o.order_no AND g.source = 'ORDER' "
     "GROUP BY o.id, o.order_no, o.status "
     "HAVING COUNT(g.id) <> (o.status = 'PAID')"},
    {"an ORDER_REFUND row takes back its refund's credits, of a PAID recharge order of the same "
     "user; an ORDER_REFUND_VOID row gives them back, only for a FAILED refund",
     "SELECT t.id, t.type, t.amount, t.related_order_no, r.status, r.credits FROM "
     "$S.credit_transactions t "
     "LEFT JOIN $S.order_refunds r ON r.order_no = t.related_order_no "
     "LEFT JOIN $S.recharge_orders o ON o.order_no = t.related_order_no "
     "WHERE t.type IN ('ORDER_REFUND', 'ORDER_REFUND_VOID') AND (r.id IS NULL OR o.id IS NULL "
     "  OR o.status <> 'PAID' OR o.user_id <> t.user_id OR r.user_id <> t.user_id "
     "  OR r.order_kind <> 'recharge' "
     "  OR (t.type = 'ORDER_REFUND' AND t.amount <> -r.credits) "
     "  OR (t.type = 'ORDER_REFUND_VOID' AND (t.amount <> r.credits OR r.status <> 'FAILED')))"},
    {"a recharge refund with credits has one ORDER_REFUND row, and one ORDER_REFUND_VOID row "
     "exactly when it FAILED; it takes back at most the order's credits + bonus, refunds at most "
     "its amount, and belongs to a PAID order",
     "SELECT r.refund_no, r.status, r.credits, r.amount_fen, o.status AS order_status, "
     "       o.credits + o.bonus_credits AS order_credits, o.amount_fen AS order_fen, "
     "       SUM(t.type = 'ORDER_REFUND') AS taken, SUM(t.type = 'ORDER_REFUND_VOID') AS given "
     "FROM $S.order_refunds r "
     "LEFT JOIN $S.recharge_orders o ON o.order_no = r.order_no "
     "LEFT JOIN $S.credit_transactions t ON t.related_order_no = r.order_no "
     "  AND t.type IN ('ORDER_REFUND', 'ORDER_REFUND_VOID') "
     "WHERE r.order_kind = 'recharge' "
     "GROUP BY r.id, r.refund_no, r.status, r.credits, r.amount_fen, o.status, o.credits, "
     "  o.bonus_credits, o.amount_fen "
     "HAVING order_status IS NULL OR order_status <> 'PAID' OR r.credits > order_credits "
     "  OR r.amount_fen > order_fen "
     "  OR COALESCE(taken, 0) <> (r.credits > 0) "
     "  OR COALESCE(given, 0) <> (r.credits > 0 AND r.status = 'FAILED')"},
    {"a membership refund belongs to a PAID membership order of the same user and refunds at "
     "most its amount",
     "SELECT r.refund_no, r.status, r.amount_fen, o.status, o.amount_fen FROM $S.order_refunds r "
     "LEFT JOIN $S.membership_orders o ON o.order_no = r.order_no "
     "WHERE r.order_kind = 'membership' AND (o.id IS NULL OR o.status <> 'PAID' "
     "  OR o.user_id <> r.user_id OR r.amount_fen > o.amount_fen OR r.credits <> 0)"},
    {"a REDEEM row is worth its code's credits, for the user who used the code",
     "SELECT t.id, t.amount, t.user_id, c.used_by, b.credits FROM $S.credit_transactions t "
     "LEFT JOIN $S.redeem_codes c ON c.id = t.related_redeem_code_id "
     "LEFT JOIN $S.redeem_batches b ON b.id = c.batch_id "
     "WHERE t.type = 'REDEEM' AND (c.id IS NULL OR c.used_by IS NULL "
     "  OR c.used_by <> t.user_id OR t.amount <> b.credits)"},
    {"a used code has one REDEEM row (credits) or one REDEEM membership grant (days) for its "
     "user; an unused one has neither",
     "SELECT c.id, c.used_by, b.credits, b.days, "
     "  (SELECT COUNT(*) FROM $S.credit_transactions t WHERE t.related_redeem_code_id = c.id "
     "     AND t.user_id <=> c.used_by) AS ledger_rows, "
     "  (SELECT COUNT(*) FROM $S.membership_grants g WHERE g.related_redeem_code_id = c.id "
     "     AND g.source = 'REDEEM' AND g.user_id <=> c.used_by AND g.days = b.days) AS grants, "
     "  (SELECT COUNT(*) FROM $S.credit_transactions t WHERE t.related_redeem_code_id = c.id) "
     "     + (SELECT COUNT(*) FROM $S.membership_grants g WHERE g.related_redeem_code_id = c.id) "
     "     AS links "
     "FROM $S.redeem_codes c JOIN $S.redeem_batches b ON b.id = c.batch_id "
     "HAVING (c.used_by IS NULL AND links <> 0) "
     "    OR (c.used_by IS NOT NULL AND b.credits > 0 AND NOT (ledger_rows = 1 AND links = 1)) "
     "    OR (c.used_by IS NOT NULL AND b.days > 0 AND NOT (grants = 1 AND links = 1))"},
};
// clang-format on

std::string WithSchema(const char* sql, const std::string& schema) {
    std::string out = sql;
    for (size_t at = out.find("$S"); at != std::string::npos; at = out.find("$S", at)) {
        out.replace(at, 2, schema);
    }
    return out;
}

// Galera nodes hand out AUTO_INCREMENT ids in interleaved ranges (auto_increment_offset per
// node), so a user's rows written through different nodes need not have ids in seq order.
constexpr const char* kSingleWriterOnly = "id order agrees with seq order";

int64_t Count(const LedgerQuery& query, const std::string& sql) {
    const auto rows = query(sql);
    return rows.empty() || rows[0].empty() ? 0 : std::stoll(rows[0][0]);
}

}  // namespace

std::string LedgerReport::Summary() const {
    return "users=" + std::to_string(users) + " ledger_rows=" + std::to_string(ledger_rows) +
           " paid_recharge_orders=" + std::to_string(paid_recharge_orders) +
           " paid_membership_orders=" + std::to_string(paid_membership_orders) +
           " charges=" + std::to_string(charges) + " refunds=" + std::to_string(refunds) +
           " violations=" + std::to_string(violations.size());
}

LedgerReport CheckLedger(MariaDb& db, const std::string& schema) {
    return CheckLedger([&db](const std::string& sql) { return db.Query(sql); }, schema);
}

LedgerReport CheckLedger(const LedgerQuery& db, const std::string& schema, bool multi_writer) {
    LedgerReport report;
    for (const Check& check : kChecks) {
        if (multi_writer && std::string(check.rule) == kSingleWriterOnly) continue;
        for (const auto& row : db(WithSchema(check.sql, schema))) {
            std::string line = std::string(check.rule) + ": ";
            for (size_t i = 0; i < row.size(); ++i) line += (i ? " | " : "") + row[i];
            report.violations.push_back(std::move(line));
        }
    }
    const std::string s = schema + ".";
    report.users = Count(db, "SELECT COUNT(*) FROM " + s + "users");
    report.ledger_rows = Count(db, "SELECT COUNT(*) FROM " + s + "credit_transactions");
    report.paid_recharge_orders =
        Count(db, "SELECT COUNT(*) FROM " + s + "recharge_orders WHERE status = 'PAID'");
    report.paid_membership_orders =
        Count(db, "SELECT COUNT(*) FROM " + s + "membership_orders WHERE status = 'PAID'");
    report.charges =
        Count(db, "SELECT COUNT(*) FROM " + s + "credit_transactions WHERE type = 'CONSUME'");
    report.refunds =
        Count(db, "SELECT COUNT(*) FROM " + s + "credit_transactions WHERE type = 'REFUND'");
    return report;
}

std::vector<std::string> CompareLedgers(const std::vector<LedgerQuery>& nodes,
                                        const std::string& schema) {
    const std::string sql =
        "SELECT u.id, u.credits, u.ledger_seq, COALESCE(SUM(t.amount), 0), COUNT(t.id) FROM " +
        schema + ".users u LEFT JOIN " + schema +
        ".credit_transactions t ON t.user_id = u.id GROUP BY u.id, u.credits, u.ledger_seq "
        "ORDER BY u.id";
    std::vector<std::string> differences;
    if (nodes.empty()) return differences;
    const auto first = nodes[0](sql);
    for (size_t n = 1; n < nodes.size(); ++n) {
        const auto other = nodes[n](sql);
        if (other == first) continue;
        std::map<std::string, std::vector<std::string>> a, b;
        for (const auto& row : first) a[row.at(0)] = row;
        for (const auto& row : other) b[row.at(0)] = row;
        for (const auto& [id, row] : a) {
            const auto it = b.find(id);
            if (it == b.end() || it->second != row) {
                std::string line = "node 0 and node " + std::to_string(n) + " differ on user " +
                                   id + ": credits|ledger_seq|sum|rows ";
                for (size_t i = 1; i < row.size(); ++i) line += (i > 1 ? "|" : "") + row[i];
                line += " vs ";
                if (it == b.end()) {
                    line += "missing";
                } else {
                    for (size_t i = 1; i < it->second.size(); ++i) {
                        line += (i > 1 ? "|" : "") + it->second[i];
                    }
                }
                differences.push_back(line);
            }
        }
        for (const auto& [id, row] : b) {
            if (a.count(id) == 0) {
                differences.push_back("user " + id + " only on node " + std::to_string(n));
            }
        }
    }
    return differences;
}

}  // namespace inkstone::testing
