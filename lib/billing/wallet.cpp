#include "lib/billing/wallet.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <stdexcept>
#include <thread>

#include "lib/base/errors.h"
#include "lib/base/log.h"
#include "lib/base/utf8.h"

namespace inkstone::lib::billing {
namespace {


// ---- The ledger ----

// The balance check and the change are this one statement: with `min_balance` = the debit, a
// concurrent debit on any host either sees the other's result or waits for its row lock, so the
// balance can never go below zero. ledger_seq orders the user's ledger rows (see 002_wallet.sql).
constexpr char kApplyDeltaSql[] =
    "UPDATE users SET credits = credits + ?, ledger_seq = ledger_seq + 1, updated_at = ? "
    "WHERE id = ? AND credits >= ?";
// Read back under the row lock the UPDATE holds, so it is exactly this transaction's result.
constexpr char kSelectLockedBalanceSql[] = "SELECT credits, ledger_seq FROM users WHERE id = ?";
constexpr char kSelectBalanceSql[] = "SELECT credits, member_expired_at FROM users WHERE id = ?";
constexpr char kInsertEntrySql[] =
    "INSERT INTO credit_transactions (user_id, seq, type, amount, balance_after, description, "
    "related_order_no, related_generation_id, refund_of, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

constexpr char kSelectChargeSql[] =
    "SELECT user_id, amount FROM credit_transactions WHERE id = ? AND type = 'CONSUME'";
constexpr char kSelectRefundOfSql[] = "SELECT 1 FROM credit_transactions WHERE refund_of = ?";

constexpr char kListEntriesSql[] =
    "SELECT id, type, amount, balance_after, description, related_order_no, "
    "related_generation_id, created_at FROM credit_transactions WHERE user_id = ? "
    "ORDER BY seq DESC LIMIT ? OFFSET ?";
constexpr char kCountEntriesSql[] = "SELECT COUNT(*) FROM credit_transactions WHERE user_id = ?";
constexpr char kListEntriesOfTypeSql[] =
    "SELECT id, type, amount, balance_after, description, related_order_no, "
    "related_generation_id, created_at FROM credit_transactions WHERE user_id = ? AND type = ? "
    "ORDER BY seq DESC LIMIT ? OFFSET ?";
constexpr char kCountEntriesOfTypeSql[] =
    "SELECT COUNT(*) FROM credit_transactions WHERE user_id = ? AND type = ?";

// ---- Settlement ----

constexpr char kLockRechargeOrderSql[] =
    "SELECT id, user_id, status, amount_fen, credits, bonus_credits, paid_provider, "
    "provider_trade_no FROM recharge_orders WHERE order_no = ? FOR UPDATE";
constexpr char kLockMembershipOrderSql[] =
    "SELECT id, user_id, status, amount_fen, months, paid_provider, provider_trade_no "
    "FROM membership_orders WHERE order_no = ? FOR UPDATE";
constexpr char kPayRechargeOrderSql[] =
    "UPDATE recharge_orders SET status = 'PAID', paid_at = ?, paid_provider = ?, "
    "provider_trade_no = ?, updated_at = ? WHERE id = ? AND status IN ('PENDING', 'EXPIRED')";
constexpr char kPayMembershipOrderSql[] =
    "UPDATE membership_orders SET status = 'PAID', paid_at = ?, paid_provider = ?, "
    "provider_trade_no = ?, member_from = ?, member_until = ?, updated_at = ? "
    "WHERE id = ? AND status IN ('PENDING', 'EXPIRED')";
constexpr char kLockMembershipSql[] = "SELECT member_expired_at FROM users WHERE id = ? FOR UPDATE";
constexpr char kExtendMembershipSql[] =
    "UPDATE users SET member_expired_at = ?, updated_at = ? WHERE id = ?";

// A bulk `UPDATE ... WHERE status = 'PENDING' AND expires_at < ? LIMIT ?` would lock through the
// (status, expires_at) index first and the row second, the reverse of Settle's order_no → row,
// and so deadlock with it; reading candidates first and expiring each by order_no does not.
constexpr char kOverdueRechargeOrdersSql[] =
    "SELECT order_no, payment_method, amount_fen FROM recharge_orders "
    "WHERE status = 'PENDING' AND expires_at < ? ORDER BY expires_at LIMIT ?";
constexpr char kOverdueMembershipOrdersSql[] =
    "SELECT order_no, payment_method, amount_fen FROM membership_orders "
    "WHERE status = 'PENDING' AND expires_at < ? ORDER BY expires_at LIMIT ?";
constexpr char kExpireRechargeOrderSql[] =
    "UPDATE recharge_orders SET status = 'EXPIRED', updated_at = ? "
    "WHERE order_no = ? AND status = 'PENDING' AND expires_at < ?";
constexpr char kExpireMembershipOrderSql[] =
    "UPDATE membership_orders SET status = 'EXPIRED', updated_at = ? "
    "WHERE order_no = ? AND status = 'PENDING' AND expires_at < ?";

constexpr size_t kMaxTradeNoLength = 64;

/// One ledger row to append.
struct Entry {
    int64_t user_id = 0;
    LedgerType type = LedgerType::kConsume;
    int64_t amount = 0;  ///< signed, never 0
    std::string description;
    std::optional<std::string> related_order_no;
    std::optional<int64_t> related_generation_id;
    std::optional<int64_t> refund_of;
};

struct Posted {
    int64_t entry_id = 0;
    int64_t balance_after = 0;
};

void SetOptionalString(sql::PreparedStatement& stmt, int index,
                       const std::optional<std::string>& value) {
    if (value) {
        stmt.setString(index, *value);
    } else {
        stmt.setNull(index, sql::DataType::VARCHAR);
    }
}

void SetOptionalId(sql::PreparedStatement& stmt, int index, const std::optional<int64_t>& value) {
    if (value) {
        stmt.setUInt64(index, static_cast<uint64_t>(*value));
    } else {
        stmt.setNull(index, sql::DataType::BIGINT);
    }
}

/// Applies `entry` inside the caller's transaction: the conditional UPDATE of users, the
/// read-back, the ledger row. nullopt (and nothing changed) when a debit would overdraw or the
/// user does not exist.
std::optional<Posted> Post(db::Lease& lease, const Entry& entry, base::TimePoint now) {
    sql::PreparedStatement& apply = lease.Prepare(kApplyDeltaSql);
    apply.setInt64(1, entry.amount);
    apply.setString(2, base::FormatSqlDateTime(now));
    apply.setUInt64(3, static_cast<uint64_t>(entry.user_id));
    apply.setInt64(4, entry.amount < 0 ? -entry.amount : 0);
    if (apply.executeUpdate() != 1) return std::nullopt;

    sql::PreparedStatement& select = lease.Prepare(kSelectLockedBalanceSql);
    select.setUInt64(1, static_cast<uint64_t>(entry.user_id));
    std::unique_ptr<sql::ResultSet> row(select.executeQuery());
    if (!row->next()) throw std::runtime_error("updated user row not visible in its transaction");
    Posted posted;
    posted.balance_after = row->getInt64("credits");
    const int64_t seq = row->getInt64("ledger_seq");

    sql::PreparedStatement& insert = lease.Prepare(kInsertEntrySql);
    insert.setUInt64(1, static_cast<uint64_t>(entry.user_id));
    insert.setInt64(2, seq);
    insert.setString(3, std::string(LedgerTypeName(entry.type)));
    insert.setInt64(4, entry.amount);
    insert.setInt64(5, posted.balance_after);
    insert.setString(6, entry.description);
    SetOptionalString(insert, 7, entry.related_order_no);
    SetOptionalId(insert, 8, entry.related_generation_id);
    SetOptionalId(insert, 9, entry.refund_of);
    insert.setString(10, base::FormatSqlDateTime(now));
    insert.executeUpdate();
    posted.entry_id = db::LastInsertId(lease);
    return posted;
}

void CheckDescription(std::string_view description) {
    if (description.empty() || !base::IsValidUtf8(description) ||
        base::Utf8Length(description) > kMaxDescriptionChars) {
        throw std::invalid_argument("ledger description must be 1-255 characters of UTF-8");
    }
}

bool IsKnownProvider(std::string_view provider) {
    return provider == "mock" || provider == "alipay" || provider == "wechat";
}

Json::Value NoticeFields(const SettlementNotice& notice) {
    Json::Value fields;
    fields["order_no"] = notice.order_no;
    fields["provider"] = notice.provider;
    fields["provider_trade_no"] = notice.provider_trade_no;
    fields["amount_fen"] = Json::Int64{notice.amount_fen};
    return fields;
}

/// The order row as locked for settlement (both kinds).
struct LockedOrder {
    int64_t id = 0;
    int64_t user_id = 0;
    std::string status;
    int64_t amount_fen = 0;
    int64_t credits = 0;
    int64_t bonus_credits = 0;
    int months = 0;
    std::optional<std::string> paid_provider;
    std::optional<std::string> provider_trade_no;
};

std::optional<LockedOrder> LockOrder(db::Lease& lease, OrderKind kind,
                                     const std::string& order_no) {
    const bool recharge = kind == OrderKind::kRecharge;
    sql::PreparedStatement& lock =
        lease.Prepare(recharge ? kLockRechargeOrderSql : kLockMembershipOrderSql);
    lock.setString(1, order_no);
    std::unique_ptr<sql::ResultSet> row(lock.executeQuery());
    if (!row->next()) return std::nullopt;
    LockedOrder order;
    order.id = static_cast<int64_t>(row->getUInt64("id"));
    order.user_id = static_cast<int64_t>(row->getUInt64("user_id"));
    order.status = row->getString("status").asStdString();
    order.amount_fen = row->getInt64("amount_fen");
    if (recharge) {
        order.credits = row->getInt64("credits");
        order.bonus_credits = row->getInt64("bonus_credits");
    } else {
        order.months = row->getInt("months");
    }
    if (!row->isNull("paid_provider")) {
        order.paid_provider = row->getString("paid_provider").asStdString();
    }
    if (!row->isNull("provider_trade_no")) {
        order.provider_trade_no = row->getString("provider_trade_no").asStdString();
    }
    return order;
}

/// Marks the locked order PAID; false when the provider's trade number is already taken by
/// another order (the failed statement changed nothing).
bool MarkPaid(db::Lease& lease, const char* sql_text, const LockedOrder& order,
              const SettlementNotice& notice, base::TimePoint now,
              const std::optional<billing::MembershipPeriod>& period) {
    sql::PreparedStatement& pay = lease.Prepare(sql_text);
    int index = 1;
    pay.setString(index++, base::FormatSqlDateTime(notice.paid_at));
    pay.setString(index++, notice.provider);
    pay.setString(index++, notice.provider_trade_no);
    if (period) {
        pay.setString(index++, base::FormatSqlDateTime(period->from));
        pay.setString(index++, base::FormatSqlDateTime(period->until));
    }
    pay.setString(index++, base::FormatSqlDateTime(now));
    pay.setUInt64(index++, static_cast<uint64_t>(order.id));
    try {
        if (pay.executeUpdate() != 1) {
            throw std::runtime_error("locked order changed status under its row lock");
        }
    } catch (const sql::SQLException& e) {
        if (db::Classify(e) == db::ErrorKind::kDuplicate) return false;
        throw;
    }
    return true;
}

LedgerEntry ReadEntry(sql::ResultSet& row) {
    LedgerEntry entry;
    entry.id = static_cast<int64_t>(row.getUInt64("id"));
    const std::optional<LedgerType> type = ParseLedgerType(row.getString("type").asStdString());
    if (!type) throw std::runtime_error("unknown ledger type in credit_transactions");
    entry.type = *type;
    entry.amount = row.getInt64("amount");
    entry.balance_after = row.getInt64("balance_after");
    entry.description = row.getString("description").asStdString();
    if (!row.isNull("related_order_no")) {
        entry.related_order_no = row.getString("related_order_no").asStdString();
    }
    if (!row.isNull("related_generation_id")) {
        entry.related_generation_id = static_cast<int64_t>(row.getUInt64("related_generation_id"));
    }
    entry.created_at = db::GetTime(row, "created_at");
    return entry;
}

}  // namespace

std::string_view LedgerTypeName(LedgerType type) {
    switch (type) {
        case LedgerType::kRecharge:
            return "RECHARGE";
        case LedgerType::kBonus:
            return "BONUS";
        case LedgerType::kConsume:
            return "CONSUME";
        case LedgerType::kRefund:
            return "REFUND";
        case LedgerType::kAdminAdjust:
            return "ADMIN_ADJUST";
    }
    return "UNKNOWN";
}

std::optional<LedgerType> ParseLedgerType(std::string_view name) {
    for (LedgerType type : {LedgerType::kRecharge, LedgerType::kBonus, LedgerType::kConsume,
                            LedgerType::kRefund, LedgerType::kAdminAdjust}) {
        if (LedgerTypeName(type) == name) return type;
    }
    return std::nullopt;
}

std::string_view SettleOutcomeName(SettleOutcome outcome) {
    switch (outcome) {
        case SettleOutcome::kSettled:
            return "settled";
        case SettleOutcome::kAlreadySettled:
            return "already_settled";
        case SettleOutcome::kAmountMismatch:
            return "amount_mismatch";
        case SettleOutcome::kUnknownOrder:
            return "unknown_order";
        case SettleOutcome::kTradeNoReused:
            return "trade_no_reused";
    }
    return "unknown";
}

bool IsWellFormedTradeNo(std::string_view trade_no) {
    if (trade_no.empty() || trade_no.size() > kMaxTradeNoLength) return false;
    for (char c : trade_no) {
        if (c < 0x21 || c > 0x7E) return false;
    }
    return true;
}

void Wallet::HoldLocksForTests() const {
    if (options_.hold_locks_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.hold_locks_ms));
    }
}

ChargeResult Wallet::ChargeIn(db::Transaction& tx, int64_t user_id, int64_t credits,
                              std::string_view description,
                              std::optional<int64_t> related_generation_id) const {
    if (credits < 1) throw std::invalid_argument("Charge: credits must be >= 1");
    CheckDescription(description);
    Entry entry;
    entry.user_id = user_id;
    entry.type = LedgerType::kConsume;
    entry.amount = -credits;
    entry.description = std::string(description);
    entry.related_generation_id = related_generation_id;

    db::Lease& lease = tx.lease();
    const std::optional<Posted> posted = Post(lease, entry, clock_.Now());
    if (!posted) {
        // Not enough (or no such user). This read takes no lock: the balance reported is the
        // one the failed UPDATE saw or a later one, which is all a client can act on.
        sql::PreparedStatement& select = lease.Prepare(kSelectBalanceSql);
        select.setUInt64(1, static_cast<uint64_t>(user_id));
        std::unique_ptr<sql::ResultSet> row(select.executeQuery());
        if (!row->next()) throw base::ApiError(base::ErrorCode::kNotFound, "user not found");
        const int64_t balance = row->getInt64("credits");
        base::ApiError error(base::ErrorCode::kInsufficientCredits,
                       "not enough credits: " + std::to_string(credits) + " required, " +
                           std::to_string(balance) + " available");
        error.extra["required"] = Json::Int64{credits};
        error.extra["balance"] = Json::Int64{balance};
        throw error;
    }
    HoldLocksForTests();
    return ChargeResult{posted->entry_id, posted->balance_after};
}

ChargeResult Wallet::Charge(int64_t user_id, int64_t credits, std::string_view description,
                            std::optional<int64_t> related_generation_id) const {
    return db::RetryOnAborted(pool_, "credit.consume", [&](db::Transaction& tx) {
        return ChargeIn(tx, user_id, credits, description, related_generation_id);
    });
}

std::optional<int64_t> Wallet::RefundIn(db::Transaction& tx, int64_t charge_id,
                                        std::string_view description) const {
    CheckDescription(description);
    db::Lease& lease = tx.lease();
    sql::PreparedStatement& charge = lease.Prepare(kSelectChargeSql);
    charge.setUInt64(1, static_cast<uint64_t>(charge_id));
    std::unique_ptr<sql::ResultSet> row(charge.executeQuery());
    if (!row->next()) throw base::ApiError(base::ErrorCode::kNotFound, "charge not found");
    Entry entry;
    entry.user_id = static_cast<int64_t>(row->getUInt64("user_id"));
    entry.type = LedgerType::kRefund;
    entry.amount = -row->getInt64("amount");
    entry.description = std::string(description);
    entry.refund_of = charge_id;

    // Only a shortcut for the common repeat; the UNIQUE key on refund_of decides.
    sql::PreparedStatement& refunded = lease.Prepare(kSelectRefundOfSql);
    refunded.setUInt64(1, static_cast<uint64_t>(charge_id));
    if (std::unique_ptr<sql::ResultSet>(refunded.executeQuery())->next()) return std::nullopt;

    std::optional<Posted> posted;
    try {
        posted = Post(lease, entry, clock_.Now());
    } catch (const sql::SQLException& e) {
        // A concurrent refund of this charge committed first: ours must leave no trace, so the
        // caller's transaction (with the credit already applied above) has to roll back.
        if (db::Classify(e) == db::ErrorKind::kDuplicate) throw AlreadyRefunded{};
        throw;
    }
    if (!posted) throw std::runtime_error("refund of a missing user");
    HoldLocksForTests();
    return posted->entry_id;
}

bool Wallet::Refund(int64_t charge_id, std::string_view description) const {
    try {
        return db::RetryOnAborted(pool_, "credit.refund", [&](db::Transaction& tx) {
            return RefundIn(tx, charge_id, description).has_value();
        });
    } catch (const AlreadyRefunded&) {
        return false;
    }
}

SettleOutcome Wallet::Settle(const SettlementNotice& notice) const {
    if (!IsKnownProvider(notice.provider)) {
        throw std::invalid_argument("Settle: unknown provider");
    }
    if (!IsWellFormedTradeNo(notice.provider_trade_no)) {
        throw std::invalid_argument("Settle: malformed provider_trade_no");
    }
    const std::optional<OrderKind> kind = billing::OrderKindOf(notice.order_no);
    if (!kind) return SettleOutcome::kUnknownOrder;
    const base::TimePoint now = clock_.Now();

    return db::RetryOnAborted(pool_, "payment.settle", [&](db::Transaction& tx) {
        db::Lease& lease = tx.lease();
        const std::optional<LockedOrder> order = LockOrder(lease, *kind, notice.order_no);
        if (!order) return SettleOutcome::kUnknownOrder;
        if (order->status == "PAID") {
            if (order->paid_provider != notice.provider ||
                order->provider_trade_no != notice.provider_trade_no) {
                // Money arrived twice for one order: an operator has to refund one payment.
                Json::Value fields = NoticeFields(notice);
                fields["settled_by_provider"] = order->paid_provider.value_or("");
                fields["settled_by_trade_no"] = order->provider_trade_no.value_or("");
                base::Log(base::LogLevel::kWarn, "payment.double_payment", fields);
            }
            return SettleOutcome::kAlreadySettled;
        }
        if (notice.amount_fen != order->amount_fen) {
            Json::Value fields = NoticeFields(notice);
            fields["expected_fen"] = Json::Int64{order->amount_fen};
            base::Log(base::LogLevel::kWarn, "payment.amount_mismatch", fields);
            return SettleOutcome::kAmountMismatch;
        }

        const auto trade_no_reused = [&] {
            Json::Value fields = NoticeFields(notice);
            base::Log(base::LogLevel::kWarn, "payment.trade_no_reused", fields);
            return SettleOutcome::kTradeNoReused;
        };
        if (*kind == OrderKind::kRecharge) {
            if (!MarkPaid(lease, kPayRechargeOrderSql, *order, notice, now, std::nullopt)) {
                return trade_no_reused();
            }
            Entry recharge;
            recharge.user_id = order->user_id;
            recharge.type = LedgerType::kRecharge;
            recharge.amount = order->credits;
            recharge.description =
                "Recharge ¥" + billing::FormatFen(order->amount_fen) + ", order " + notice.order_no;
            recharge.related_order_no = notice.order_no;
            if (!Post(lease, recharge, now)) throw std::runtime_error("order of a missing user");
            if (order->bonus_credits > 0) {
                Entry bonus = recharge;
                bonus.type = LedgerType::kBonus;
                bonus.amount = order->bonus_credits;
                bonus.description = "Bonus, order " + notice.order_no;
                if (!Post(lease, bonus, now)) throw std::runtime_error("order of a missing user");
            }
        } else {
            sql::PreparedStatement& lock = lease.Prepare(kLockMembershipSql);
            lock.setUInt64(1, static_cast<uint64_t>(order->user_id));
            std::unique_ptr<sql::ResultSet> user(lock.executeQuery());
            if (!user->next()) throw std::runtime_error("order of a missing user");
            const std::optional<base::TimePoint> current =
                db::GetOptionalTime(*user, "member_expired_at");
            const billing::MembershipPeriod period =
                billing::ExtendMembership(current, now, order->months);
            if (!MarkPaid(lease, kPayMembershipOrderSql, *order, notice, now, period)) {
                return trade_no_reused();
            }
            sql::PreparedStatement& extend = lease.Prepare(kExtendMembershipSql);
            extend.setString(1, base::FormatSqlDateTime(period.until));
            extend.setString(2, base::FormatSqlDateTime(now));
            extend.setUInt64(3, static_cast<uint64_t>(order->user_id));
            extend.executeUpdate();
        }
        HoldLocksForTests();
        Json::Value fields = NoticeFields(notice);
        fields["user_id"] = Json::Int64{order->user_id};
        base::Log(base::LogLevel::kInfo, "payment.settled", fields);
        return SettleOutcome::kSettled;
    });
}

int64_t Wallet::ExpireOrders(base::TimePoint now, int batch, const Reconciler& reconcile) const {
    struct Kind {
        const char* select_overdue;
        const char* expire;
    };
    int64_t expired = 0;
    for (const Kind& kind : {Kind{kOverdueRechargeOrdersSql, kExpireRechargeOrderSql},
                             Kind{kOverdueMembershipOrdersSql, kExpireMembershipOrderSql}}) {
        const std::vector<OverdueOrder> overdue = db::WithLease(pool_, [&](db::Lease& lease) {
            sql::PreparedStatement& select = lease.Prepare(kind.select_overdue);
            select.setString(1, base::FormatSqlDateTime(now));
            select.setInt(2, batch);
            std::unique_ptr<sql::ResultSet> rows(select.executeQuery());
            std::vector<OverdueOrder> found;
            while (rows->next()) {
                OverdueOrder order;
                order.order_no = rows->getString("order_no").asStdString();
                order.payment_method = rows->getString("payment_method").asStdString();
                order.amount_fen = rows->getInt64("amount_fen");
                found.push_back(std::move(order));
            }
            return found;
        });
        for (const OverdueOrder& order : overdue) {
            // The provider is asked with no lease held: its answer may take seconds.
            if (reconcile && reconcile(order)) continue;
            expired += db::WithLease(pool_, [&](db::Lease& lease) -> int64_t {
                sql::PreparedStatement& expire = lease.Prepare(kind.expire);
                expire.setString(1, base::FormatSqlDateTime(now));
                expire.setString(2, order.order_no);
                expire.setString(3, base::FormatSqlDateTime(now));
                try {
                    return expire.executeUpdate();
                } catch (const sql::SQLException& e) {
                    // Someone is settling it right now; whichever way that ends, the next run
                    // sees the outcome.
                    if (db::Classify(e) == db::ErrorKind::kAborted) return 0;
                    throw;
                }
            });
        }
    }
    return expired;
}

std::optional<Balance> Wallet::GetBalance(int64_t user_id) const {
    return db::WithLease(pool_, [&](db::Lease& lease) -> std::optional<Balance> {
        sql::PreparedStatement& select = lease.Prepare(kSelectBalanceSql);
        select.setUInt64(1, static_cast<uint64_t>(user_id));
        std::unique_ptr<sql::ResultSet> row(select.executeQuery());
        if (!row->next()) return std::nullopt;
        Balance balance;
        balance.credits = row->getInt64("credits");
        balance.member_expired_at = db::GetOptionalTime(*row, "member_expired_at");
        return balance;
    });
}

LedgerPage Wallet::ListTransactions(int64_t user_id, std::optional<LedgerType> type, int64_t limit,
                                    int64_t offset) const {
    return db::WithLease(pool_, [&](db::Lease& lease) {
        LedgerPage page;
        sql::PreparedStatement& list =
            lease.Prepare(type ? kListEntriesOfTypeSql : kListEntriesSql);
        sql::PreparedStatement& count =
            lease.Prepare(type ? kCountEntriesOfTypeSql : kCountEntriesSql);
        int index = 1;
        list.setUInt64(index, static_cast<uint64_t>(user_id));
        count.setUInt64(index++, static_cast<uint64_t>(user_id));
        if (type) {
            const std::string name(LedgerTypeName(*type));
            list.setString(index, name);
            count.setString(index++, name);
        }
        list.setInt64(index++, limit);
        list.setInt64(index, offset);
        std::unique_ptr<sql::ResultSet> rows(list.executeQuery());
        while (rows->next()) page.items.push_back(ReadEntry(*rows));
        std::unique_ptr<sql::ResultSet> total(count.executeQuery());
        if (!total->next()) throw std::runtime_error("COUNT(*) returned no row");
        page.total = total->getInt64(1);
        return page;
    });
}

}  // namespace inkstone::lib::billing
