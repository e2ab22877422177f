#include "lib/billing/wallet.h"

#include <stdexcept>
#include <thread>
#include <utility>

#include "lib/base/assert.h"
#include "lib/base/errors.h"
#include "lib/base/log.h"
#include "lib/base/metrics.h"
#include "lib/base/utf8.h"

namespace inkstone::lib::billing {
namespace {

// ---- The ledger ----

// The user's row is locked first; what the ledger row needs (the balance after, the seq) is then
// computed from it, with no read-back: nobody else can change the row before this transaction
// ends. ledger_seq orders the user's ledger rows (see 002_wallet.sql).
constexpr char kLockAccountSql[] =
    "SELECT credits, ledger_seq, member_expired_at, disabled_at IS NOT NULL AS disabled "
    "FROM users WHERE id = ? FOR UPDATE";
// Still conditional: with `min_balance` = the debit the balance check is part of the write
// itself, so even a caller that had not locked the row could never overdraw. And it matches the
// row as locked (credits and ledger_seq), so the ledger row's seq and balance_after, computed
// from the lock, are always those of this UPDATE: on Galera a row lock holds only on its own
// node, and a row that changed anyway (another node's commit applied here) makes the
// transaction abort and run again instead of posting a row from a stale read.
constexpr char kApplyDeltaSql[] =
    "UPDATE users SET credits = credits + ?, ledger_seq = ledger_seq + 1, updated_at = ? "
    "WHERE id = ? AND credits >= ? AND credits = ? AND ledger_seq = ?";
// On Galera, SELECT ... FOR UPDATE serialises only the transactions of its own node; a check
// made under it (a member's in-flight cap, the pending-order cap) must also write the row, so
// that certification aborts one of two such transactions committed on different nodes.
constexpr char kWriteLockUserSql[] = "UPDATE users SET serial = serial + 1 WHERE id = ?";
// The UNIQUE (user_id, seq) key the ledger INSERT can hit when two nodes appended the same seq.
constexpr char kSeqKeyName[] = "uq_credit_transactions_seq";
constexpr char kSelectBalanceSql[] = "SELECT credits, member_expired_at FROM users WHERE id = ?";
constexpr char kInsertEntrySql[] =
    "INSERT INTO credit_transactions (user_id, seq, type, amount, balance_after, description, "
    "related_order_no, related_generation_id, refund_of, related_redeem_code_id, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

constexpr char kSelectChargeSql[] =
    "SELECT user_id, amount FROM credit_transactions WHERE id = ? AND type = 'CONSUME'";
constexpr char kSelectRefundOfSql[] = "SELECT 1 FROM credit_transactions WHERE refund_of = ?";

constexpr char kListEntriesSql[] =
    "SELECT id, type, amount, balance_after, description, related_order_no, "
    "related_generation_id, created_at FROM credit_transactions WHERE user_id = ? "
    "ORDER BY seq DESC LIMIT ? OFFSET ?";
constexpr char kCountEntriesSql[] =
    "SELECT COUNT(*) AS total FROM credit_transactions WHERE user_id = ?";
constexpr char kListEntriesOfTypeSql[] =
    "SELECT id, type, amount, balance_after, description, related_order_no, "
    "related_generation_id, created_at FROM credit_transactions WHERE user_id = ? AND type = ? "
    "ORDER BY seq DESC LIMIT ? OFFSET ?";
constexpr char kCountEntriesOfTypeSql[] =
    "SELECT COUNT(*) AS total FROM credit_transactions WHERE user_id = ? AND type = ?";

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
// The membership history (the admin console's user detail): one ORDER row per paid order,
// UNIQUE (related_order_no, source), written with the extension it records.
constexpr char kInsertOrderGrantSql[] =
    "INSERT INTO membership_grants (user_id, source, months, days, expired_before, "
    "expired_after, related_order_no, created_at) VALUES (?, 'ORDER', ?, 0, ?, ?, ?, ?)";
constexpr char kLockMembershipSql[] = "SELECT member_expired_at FROM users WHERE id = ? FOR UPDATE";
constexpr char kExtendMembershipSql[] =
    "UPDATE users SET member_expired_at = ?, updated_at = ? WHERE id = ?";

// A bulk `UPDATE ... WHERE status = 'PENDING' AND expires_at < ? LIMIT ?` would lock through the
// (status, expires_at) index first and the row second, the reverse of Settle's order_no → row,
// and so deadlock with it; reading candidates first and expiring each by order_no does not.
// Orders another worker is asking its provider about right now are left to it.
constexpr char kOverdueRechargeOrdersSql[] =
    "SELECT order_no, payment_method, amount_fen FROM recharge_orders "
    "WHERE status = 'PENDING' AND expires_at < ? "
    "AND (reconcile_claimed_until IS NULL OR reconcile_claimed_until < ?) "
    "ORDER BY expires_at LIMIT ?";
constexpr char kOverdueMembershipOrdersSql[] =
    "SELECT order_no, payment_method, amount_fen FROM membership_orders "
    "WHERE status = 'PENDING' AND expires_at < ? "
    "AND (reconcile_claimed_until IS NULL OR reconcile_claimed_until < ?) "
    "ORDER BY expires_at LIMIT ?";
// Before its provider is asked an order is claimed by one conditional UPDATE, so one worker of
// all those running the job at once asks; the claim is released when the answer is in (only
// by its owner: the claim time is part of the match) and lapses by itself if that worker dies.
constexpr char kClaimRechargeOrderSql[] =
    "UPDATE recharge_orders SET reconcile_claimed_until = ? WHERE order_no = ? "
    "AND status = 'PENDING' AND (reconcile_claimed_until IS NULL OR reconcile_claimed_until < ?)";
constexpr char kClaimMembershipOrderSql[] =
    "UPDATE membership_orders SET reconcile_claimed_until = ? WHERE order_no = ? "
    "AND status = 'PENDING' AND (reconcile_claimed_until IS NULL OR reconcile_claimed_until < ?)";
constexpr char kReleaseRechargeOrderSql[] =
    "UPDATE recharge_orders SET reconcile_claimed_until = NULL "
    "WHERE order_no = ? AND reconcile_claimed_until = ?";
constexpr char kReleaseMembershipOrderSql[] =
    "UPDATE membership_orders SET reconcile_claimed_until = NULL "
    "WHERE order_no = ? AND reconcile_claimed_until = ?";
/// Longer than any provider question takes (its HTTP timeouts included).
constexpr std::chrono::seconds kReconcileClaim{120};
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
    std::optional<int64_t> related_redeem_code_id;
};

struct Posted {
    int64_t entry_id = 0;
    int64_t balance_after = 0;
};

/// The credit metrics of one committed ledger row (README, "Metrics").
void CountLedger(LedgerType type, int64_t amount) {
    namespace m = base::metrics;
    const double credits = static_cast<double>(amount < 0 ? -amount : amount);
    switch (type) {
        case LedgerType::kConsume:
            m::Count("inkstone_credits_charged_total", {}, credits);
            return;
        case LedgerType::kRefund:
            m::Count("inkstone_credits_refunded_total", {}, credits);
            return;
        case LedgerType::kRecharge:
            m::Count("inkstone_credits_issued_total", {{"source", "recharge"}}, credits);
            return;
        case LedgerType::kBonus:
            m::Count("inkstone_credits_issued_total", {{"source", "bonus"}}, credits);
            return;
        case LedgerType::kRedeem:
            m::Count("inkstone_credits_issued_total", {{"source", "redeem"}}, credits);
            return;
        case LedgerType::kOrderRefundVoid:
            m::Count("inkstone_credits_issued_total", {{"source", "order_refund_void"}}, credits);
            return;
        case LedgerType::kAdminAdjust:
            m::Count(
                amount > 0 ? "inkstone_credits_issued_total" : "inkstone_credits_revoked_total",
                {{"source", "admin"}}, credits);
            return;
        case LedgerType::kOrderRefund:
            m::Count("inkstone_credits_revoked_total", {{"source", "order_refund"}}, credits);
            return;
    }
}

/// Applies `entry` to the locked `account` inside the caller's transaction: the conditional
/// UPDATE of users and the ledger row, with the balance and seq computed from the locked row
/// (which is updated to match). The caller has checked that a debit is covered.
Posted Post(db::Lease& lease, LockedAccount& account, const Entry& entry, base::TimePoint now) {
    INKSTONE_ASSERT(account.user_id == entry.user_id,
                    "entry for user " + std::to_string(entry.user_id) + " posted to the lock of " +
                        std::to_string(account.user_id));
    const int64_t min_balance = entry.amount < 0 ? -entry.amount : 0;
    INKSTONE_ASSERT(account.credits >= min_balance, "debit of " + std::to_string(-entry.amount) +
                                                        " over a balance of " +
                                                        std::to_string(account.credits));
    if (lease.Execute(kApplyDeltaSql, entry.amount, now, entry.user_id, min_balance,
                      account.credits, account.ledger_seq) != 1) {
        // One server: impossible under the row lock. Galera: another node's commit reached
        // this row; the transaction runs again (db::RetryOnAborted) from a fresh lock.
        throw db::DbError(db::ErrorKind::kAborted, 0,
                          "user " + std::to_string(entry.user_id) +
                              " changed under its row lock (a write from another node)");
    }
    account.credits += entry.amount;
    account.ledger_seq += 1;
    Posted posted;
    posted.balance_after = account.credits;
    lease.AfterCommit([type = entry.type, amount = entry.amount] { CountLedger(type, amount); });
    try {
        posted.entry_id = lease.Insert(
            kInsertEntrySql, entry.user_id, account.ledger_seq, entry.type, entry.amount,
            posted.balance_after, entry.description, entry.related_order_no,
            entry.related_generation_id, entry.refund_of, entry.related_redeem_code_id, now);
    } catch (const db::DbError& e) {
        // Two nodes appended the same seq: a certification-style conflict, not a duplicate
        // the caller could mean (refund_of, related_order_no): retry the transaction.
        if (e.kind == db::ErrorKind::kDuplicate &&
            std::string_view(e.what()).find(kSeqKeyName) != std::string_view::npos) {
            throw db::DbError(db::ErrorKind::kAborted, e.code, e.what());
        }
        throw;
    }
    return posted;
}

std::optional<LockedAccount> LockAccount(db::Lease& lease, int64_t user_id) {
    db::Rows row = lease.Query(kLockAccountSql, user_id);
    if (!row.Next()) return std::nullopt;
    LockedAccount account;
    account.user_id = user_id;
    account.credits = row.Int("credits");
    account.ledger_seq = row.Int("ledger_seq");
    account.member_expired_at = row.OptionalTime("member_expired_at");
    account.disabled = row.Bool("disabled");
    return account;
}

}  // namespace

void WriteLockUser(db::Lease& lease, int64_t user_id) { lease.Execute(kWriteLockUserSql, user_id); }

namespace {

/// The lock of a user who must exist (the order's or the charge's owner).
LockedAccount LockOwner(db::Lease& lease, int64_t user_id) {
    std::optional<LockedAccount> account = LockAccount(lease, user_id);
    INKSTONE_ASSERT(account.has_value(),
                    "ledger entry for missing user " + std::to_string(user_id));
    return *account;
}

void CheckDescription(std::string_view description) {
    if (description.empty() || !base::IsValidUtf8(description) ||
        base::Utf8Length(description) > kMaxDescriptionChars) {
        throw std::invalid_argument("ledger description must be 1-255 characters of UTF-8");
    }
}

bool IsKnownProvider(PaymentProvider provider) {
    switch (provider) {
        case PaymentProvider::kAlipay:
        case PaymentProvider::kWechat:
        case PaymentProvider::kMock:
            return true;
    }
    return false;
}

Json::Value NoticeFields(const SettlementNotice& notice) {
    Json::Value fields;
    fields["order_no"] = notice.order_no;
    fields["provider"] = std::string(ToSql(notice.provider));
    fields["provider_trade_no"] = notice.provider_trade_no;
    fields["amount_fen"] = Json::Int64{notice.amount_fen};
    return fields;
}

/// The order row as locked for settlement (both kinds).
struct LockedOrder {
    int64_t id = 0;
    int64_t user_id = 0;
    OrderStatus status = OrderStatus::kPending;
    int64_t amount_fen = 0;
    int64_t credits = 0;
    int64_t bonus_credits = 0;
    int months = 0;
    std::optional<PaymentProvider> paid_provider;
    std::optional<std::string> provider_trade_no;
};

std::optional<LockedOrder> LockOrder(db::Lease& lease, OrderKind kind,
                                     const std::string& order_no) {
    const bool recharge = kind == OrderKind::kRecharge;
    db::Rows row =
        lease.Query(recharge ? kLockRechargeOrderSql : kLockMembershipOrderSql, order_no);
    if (!row.Next()) return std::nullopt;
    LockedOrder order;
    order.id = row.Int("id");
    order.user_id = row.Int("user_id");
    order.status = row.Enum<OrderStatus>("status");
    order.amount_fen = row.Int("amount_fen");
    if (recharge) {
        order.credits = row.Int("credits");
        order.bonus_credits = row.Int("bonus_credits");
    } else {
        order.months = static_cast<int>(row.Int("months"));
    }
    order.paid_provider = row.OptionalEnum<PaymentProvider>("paid_provider");
    order.provider_trade_no = row.OptionalString("provider_trade_no");
    return order;
}

/// Marks the locked order PAID by `pay` (one of the kPay*OrderSql, bound by the caller's
/// `execute`); false when the provider's trade number is already taken by another order (the
/// failed statement changed nothing).
template <class Execute>
bool MarkPaid(const LockedOrder& order, Execute&& execute) {
    uint64_t updated = 0;
    try {
        updated = execute();
    } catch (const db::DbError& e) {
        if (e.kind == db::ErrorKind::kDuplicate) return false;
        throw;
    }
    INKSTONE_ASSERT(updated == 1, "locked order " + std::to_string(order.id) +
                                      " changed status under its row lock");
    return true;
}

/// A PAID order settled again: success with no effect. A different trade number (the user paid
/// twice) is logged, since an operator has to refund one payment.
void CheckDuplicateNotice(const LockedOrder& order, const SettlementNotice& notice) {
    if (order.paid_provider == notice.provider &&
        order.provider_trade_no == notice.provider_trade_no) {
        return;
    }
    Json::Value fields = NoticeFields(notice);
    fields["settled_by_provider"] =
        order.paid_provider ? std::string(ToSql(*order.paid_provider)) : std::string();
    fields["settled_by_trade_no"] = order.provider_trade_no.value_or("");
    base::Log(base::LogLevel::kWarn, "payment.double_payment", fields);
}

/// Steps 3 and 4 of Settle for a recharge order: PAID, then the RECHARGE and BONUS rows. False
/// when the trade number was reused (nothing changed).
bool DeliverRecharge(db::Lease& lease, const LockedOrder& order, const SettlementNotice& notice,
                     base::TimePoint now) {
    if (!MarkPaid(order, [&] {
            return lease.Execute(kPayRechargeOrderSql, notice.paid_at, notice.provider,
                                 notice.provider_trade_no, now, order.id);
        })) {
        return false;
    }
    Entry recharge;
    recharge.user_id = order.user_id;
    recharge.type = LedgerType::kRecharge;
    recharge.amount = order.credits;
    recharge.description =
        "Recharge ¥" + billing::FormatFen(order.amount_fen) + ", order " + notice.order_no;
    recharge.related_order_no = notice.order_no;
    LockedAccount account = LockOwner(lease, order.user_id);
    Post(lease, account, recharge, now);
    if (order.bonus_credits > 0) {
        Entry bonus = recharge;
        bonus.type = LedgerType::kBonus;
        bonus.amount = order.bonus_credits;
        bonus.description = "Bonus, order " + notice.order_no;
        Post(lease, account, bonus, now);
    }
    return true;
}

/// Steps 3 and 4 of Settle for a membership order: PAID with the period, then the user's new
/// member_expired_at. False when the trade number was reused (nothing changed).
bool DeliverMembership(db::Lease& lease, const LockedOrder& order, const SettlementNotice& notice,
                       base::TimePoint now) {
    db::Rows user = lease.Query(kLockMembershipSql, order.user_id);
    INKSTONE_ASSERT(user.Next(), "order " + notice.order_no + " of missing user " +
                                     std::to_string(order.user_id));
    const std::optional<base::TimePoint> current = user.OptionalTime("member_expired_at");
    const billing::MembershipPeriod period = billing::ExtendMembership(current, now, order.months);
    if (!MarkPaid(order, [&] {
            return lease.Execute(kPayMembershipOrderSql, notice.paid_at, notice.provider,
                                 notice.provider_trade_no, period.from, period.until, now,
                                 order.id);
        })) {
        return false;
    }
    lease.Execute(kExtendMembershipSql, period.until, now, order.user_id);
    lease.Execute(kInsertOrderGrantSql, order.user_id, order.months, current, period.until,
                  notice.order_no, now);
    return true;
}

LedgerEntry ReadEntry(const db::Rows& row) {
    LedgerEntry entry;
    entry.id = row.Int("id");
    entry.type = row.Enum<LedgerType>("type");
    entry.amount = row.Int("amount");
    entry.balance_after = row.Int("balance_after");
    entry.description = row.String("description");
    entry.related_order_no = row.OptionalString("related_order_no");
    entry.related_generation_id = row.OptionalInt("related_generation_id");
    entry.created_at = row.Time("created_at");
    return entry;
}

/// The single row of a `SELECT COUNT(*) AS total ...`.
int64_t Total(db::Rows rows) {
    INKSTONE_ASSERT(rows.Next(), "COUNT(*) returned no row");
    return rows.Int("total");
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
        case LedgerType::kOrderRefund:
            return "ORDER_REFUND";
        case LedgerType::kOrderRefundVoid:
            return "ORDER_REFUND_VOID";
        case LedgerType::kRedeem:
            return "REDEEM";
    }
    INKSTONE_INVARIANT_FAILED("LedgerType " + std::to_string(static_cast<int>(type)));
}

std::optional<LedgerType> ParseLedgerType(std::string_view name) {
    for (LedgerType type : {LedgerType::kRecharge, LedgerType::kBonus, LedgerType::kConsume,
                            LedgerType::kRefund, LedgerType::kAdminAdjust, LedgerType::kOrderRefund,
                            LedgerType::kOrderRefundVoid, LedgerType::kRedeem}) {
        if (LedgerTypeName(type) == name) return type;
    }
    return std::nullopt;
}

std::string_view ToSql(LedgerType type) { return LedgerTypeName(type); }

bool FromSql(std::string_view text, LedgerType* type) {
    const std::optional<LedgerType> parsed = ParseLedgerType(text);
    if (parsed) *type = *parsed;
    return parsed.has_value();
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

std::optional<LockedAccount> Wallet::LockAccountIn(db::Transaction& tx, int64_t user_id) const {
    return LockAccount(tx.lease(), user_id);
}

ChargeResult Wallet::ChargeIn(db::Transaction& tx, int64_t user_id, int64_t credits,
                              std::string_view description,
                              std::optional<int64_t> related_generation_id) const {
    if (credits < 1) throw std::invalid_argument("Charge: credits must be >= 1");
    CheckDescription(description);
    std::optional<LockedAccount> account = LockAccount(tx.lease(), user_id);
    if (!account) throw base::ApiError(base::ErrorCode::kNotFound, "user not found");
    return ChargeLockedIn(tx, *account, credits, description, related_generation_id);
}

ChargeResult Wallet::ChargeLockedIn(db::Transaction& tx, LockedAccount& account, int64_t credits,
                                    std::string_view description,
                                    std::optional<int64_t> related_generation_id) const {
    if (credits < 1) throw std::invalid_argument("Charge: credits must be >= 1");
    CheckDescription(description);
    if (account.credits < credits) {
        // Read under the lock, so this is the balance the debit was refused against.
        base::ApiError error(base::ErrorCode::kInsufficientCredits,
                             "not enough credits: " + std::to_string(credits) + " required, " +
                                 std::to_string(account.credits) + " available");
        error.extra["required"] = Json::Int64{credits};
        error.extra["balance"] = Json::Int64{account.credits};
        throw error;
    }
    Entry entry;
    entry.user_id = account.user_id;
    entry.type = LedgerType::kConsume;
    entry.amount = -credits;
    entry.description = std::string(description);
    entry.related_generation_id = related_generation_id;
    const Posted posted = Post(tx.lease(), account, entry, clock_.Now());
    HoldLocksForTests();
    return ChargeResult{posted.entry_id, posted.balance_after};
}

ChargeResult Wallet::AdjustLockedIn(db::Transaction& tx, LockedAccount& account, int64_t amount,
                                    std::string_view description) const {
    if (amount == 0) throw std::invalid_argument("AdjustLockedIn: amount must not be 0");
    CheckDescription(description);
    if (amount < 0 && account.credits < -amount) {
        // A conflict with the account's state, not a payment the caller owes: 409, not 402.
        base::ApiError error = base::ApiError::Specific(
            base::ErrorCode::kConflict, "INSUFFICIENT_CREDITS",
            "the adjustment would take the balance below 0: " + std::to_string(account.credits) +
                " available");
        error.extra["balance"] = Json::Int64{account.credits};
        throw error;
    }
    Entry entry;
    entry.user_id = account.user_id;
    entry.type = LedgerType::kAdminAdjust;
    entry.amount = amount;
    entry.description = std::string(description);
    const Posted posted = Post(tx.lease(), account, entry, clock_.Now());
    return ChargeResult{posted.entry_id, posted.balance_after};
}

ChargeResult Wallet::PostLockedIn(db::Transaction& tx, LockedAccount& account, LedgerType type,
                                  int64_t amount, std::string_view description,
                                  const LedgerLinks& links) const {
    CheckDescription(description);
    switch (type) {
        case LedgerType::kOrderRefund:
            if (amount >= 0) throw std::invalid_argument("ORDER_REFUND must be < 0");
            if (!links.related_order_no) throw std::invalid_argument("ORDER_REFUND needs an order");
            break;
        case LedgerType::kOrderRefundVoid:
            if (amount <= 0) throw std::invalid_argument("ORDER_REFUND_VOID must be > 0");
            if (!links.related_order_no) {
                throw std::invalid_argument("ORDER_REFUND_VOID needs an order");
            }
            break;
        case LedgerType::kRedeem:
            if (amount <= 0) throw std::invalid_argument("REDEEM must be > 0");
            if (!links.related_redeem_code_id) throw std::invalid_argument("REDEEM needs a code");
            break;
        default:
            throw std::invalid_argument("PostLockedIn does not post " +
                                        std::string(LedgerTypeName(type)));
    }
    if (amount < 0 && account.credits < -amount) {
        base::ApiError error = base::ApiError::Specific(
            base::ErrorCode::kConflict, "INSUFFICIENT_CREDITS",
            "the balance does not cover " + std::to_string(-amount) +
                " credits: " + std::to_string(account.credits) + " available");
        error.extra["balance"] = Json::Int64{account.credits};
        throw error;
    }
    Entry entry;
    entry.user_id = account.user_id;
    entry.type = type;
    entry.amount = amount;
    entry.description = std::string(description);
    if (type != LedgerType::kRedeem) entry.related_order_no = links.related_order_no;
    if (type == LedgerType::kRedeem) entry.related_redeem_code_id = links.related_redeem_code_id;
    const Posted posted = Post(tx.lease(), account, entry, clock_.Now());
    return ChargeResult{posted.entry_id, posted.balance_after};
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
    db::Rows charge = lease.Query(kSelectChargeSql, charge_id);
    if (!charge.Next()) throw base::ApiError(base::ErrorCode::kNotFound, "charge not found");
    Entry entry;
    entry.user_id = charge.Int("user_id");
    entry.type = LedgerType::kRefund;
    entry.amount = -charge.Int("amount");
    entry.description = std::string(description);
    entry.refund_of = charge_id;

    // Only a shortcut for the common repeat; the UNIQUE key on refund_of decides.
    if (lease.Query(kSelectRefundOfSql, charge_id).Next()) return std::nullopt;

    Posted posted;
    try {
        LockedAccount account = LockOwner(lease, entry.user_id);
        posted = Post(lease, account, entry, clock_.Now());
    } catch (const db::DbError& e) {
        // A concurrent refund of this charge committed first: ours must leave no trace, so the
        // caller's transaction (with the credit already applied above) has to roll back.
        if (e.kind == db::ErrorKind::kDuplicate) throw AlreadyRefunded{};
        throw;
    }
    HoldLocksForTests();
    return posted.entry_id;
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
    const SettleOutcome outcome =
        db::RetryOnAborted(pool_, "payment.settle",
                           [&](db::Transaction& tx) { return SettleIn(tx, *kind, notice, now); });
    if (outcome == SettleOutcome::kSettled) {
        const std::string provider(ToSql(notice.provider));
        base::metrics::Count("inkstone_orders_paid_total",
                             {{"kind", *kind == OrderKind::kRecharge ? "recharge" : "membership"},
                              {"provider", provider}});
        base::metrics::Count("inkstone_revenue_fen_total", {{"provider", provider}},
                             static_cast<double>(notice.amount_fen));
    }
    return outcome;
}

SettleOutcome Wallet::SettleIn(db::Transaction& tx, OrderKind kind, const SettlementNotice& notice,
                               base::TimePoint now) const {
    db::Lease& lease = tx.lease();
    const std::optional<LockedOrder> order = LockOrder(lease, kind, notice.order_no);
    if (!order) return SettleOutcome::kUnknownOrder;
    if (order->status == OrderStatus::kPaid) {
        CheckDuplicateNotice(*order, notice);
        return SettleOutcome::kAlreadySettled;
    }
    if (notice.amount_fen != order->amount_fen) {
        Json::Value fields = NoticeFields(notice);
        fields["expected_fen"] = Json::Int64{order->amount_fen};
        base::Log(base::LogLevel::kWarn, "payment.amount_mismatch", fields);
        return SettleOutcome::kAmountMismatch;
    }
    const bool delivered = kind == OrderKind::kRecharge
                               ? DeliverRecharge(lease, *order, notice, now)
                               : DeliverMembership(lease, *order, notice, now);
    if (!delivered) {
        base::Log(base::LogLevel::kWarn, "payment.trade_no_reused", NoticeFields(notice));
        return SettleOutcome::kTradeNoReused;
    }
    HoldLocksForTests();
    Json::Value fields = NoticeFields(notice);
    fields["user_id"] = Json::Int64{order->user_id};
    base::Log(base::LogLevel::kInfo, "payment.settled", fields);
    return SettleOutcome::kSettled;
}

int64_t Wallet::ExpireOrders(base::TimePoint now, int batch, const Reconciler& reconcile,
                             std::chrono::steady_clock::time_point ask_until) const {
    struct Kind {
        const char* select_overdue;
        const char* expire;
        const char* claim;
        const char* release;
    };
    int64_t expired = 0;
    for (const Kind& kind : {Kind{kOverdueRechargeOrdersSql, kExpireRechargeOrderSql,
                                  kClaimRechargeOrderSql, kReleaseRechargeOrderSql},
                             Kind{kOverdueMembershipOrdersSql, kExpireMembershipOrderSql,
                                  kClaimMembershipOrderSql, kReleaseMembershipOrderSql}}) {
        const std::vector<OverdueOrder> overdue = db::WithLease(pool_, [&](db::Lease& lease) {
            db::Rows rows = lease.Query(kind.select_overdue, now, now, batch);
            std::vector<OverdueOrder> found;
            while (rows.Next()) {
                OverdueOrder order;
                order.order_no = rows.String("order_no");
                order.payment_method = rows.Enum<PaymentMethod>("payment_method");
                order.amount_fen = rows.Int("amount_fen");
                found.push_back(std::move(order));
            }
            return found;
        });
        for (const OverdueOrder& order : overdue) {
            if (reconcile) {
                // Out of time for this run: the rest is asked about by the next one.
                if (std::chrono::steady_clock::now() >= ask_until) return expired;
                const base::TimePoint claim = now + kReconcileClaim;
                const bool claimed = db::WithLease(pool_, [&](db::Lease& lease) {
                    return lease.Execute(kind.claim, claim, order.order_no, now) == 1;
                });
                if (!claimed) continue;  // settled meanwhile, or another worker asks
                // The provider is asked with no lease held: its answer may take seconds.
                bool keep = true;
                try {
                    keep = reconcile(order);
                } catch (...) {
                    db::WithLease(pool_, [&](db::Lease& lease) {
                        return lease.Execute(kind.release, order.order_no, claim);
                    });
                    throw;
                }
                db::WithLease(pool_, [&](db::Lease& lease) {
                    return lease.Execute(kind.release, order.order_no, claim);
                });
                if (keep) continue;
            }
            expired += db::WithLease(pool_, [&](db::Lease& lease) -> int64_t {
                try {
                    const auto changed =
                        static_cast<int64_t>(lease.Execute(kind.expire, now, order.order_no, now));
                    base::metrics::Count(
                        "inkstone_orders_expired_total",
                        {{"kind",
                          kind.expire == kExpireRechargeOrderSql ? "recharge" : "membership"}},
                        static_cast<double>(changed));
                    return changed;
                } catch (const db::DbError& e) {
                    // Someone is settling it right now; whichever way that ends, the next run
                    // sees the outcome.
                    if (e.kind == db::ErrorKind::kAborted) return 0;
                    throw;
                }
            });
        }
    }
    return expired;
}

std::optional<int64_t> Wallet::ChargeOwner(int64_t charge_id) const {
    return db::WithLease(pool_, [&](db::Lease& lease) -> std::optional<int64_t> {
        db::Rows charge = lease.Query(kSelectChargeSql, charge_id);
        if (!charge.Next()) return std::nullopt;
        return charge.Int("user_id");
    });
}

std::optional<Balance> Wallet::GetBalance(int64_t user_id) const {
    return db::WithLease(pool_, [&](db::Lease& lease) -> std::optional<Balance> {
        db::Rows row = lease.Query(kSelectBalanceSql, user_id);
        if (!row.Next()) return std::nullopt;
        Balance balance;
        balance.credits = row.Int("credits");
        balance.member_expired_at = row.OptionalTime("member_expired_at");
        return balance;
    });
}

LedgerPage Wallet::ListTransactions(int64_t user_id, std::optional<LedgerType> type, int64_t limit,
                                    int64_t offset) const {
    return db::WithLease(pool_, [&](db::Lease& lease) {
        LedgerPage page;
        db::Rows rows = type ? lease.Query(kListEntriesOfTypeSql, user_id, *type, limit, offset)
                             : lease.Query(kListEntriesSql, user_id, limit, offset);
        while (rows.Next()) page.items.push_back(ReadEntry(rows));
        page.total = Total(type ? lease.Query(kCountEntriesOfTypeSql, user_id, *type)
                                : lease.Query(kCountEntriesSql, user_id));
        return page;
    });
}

}  // namespace inkstone::lib::billing
