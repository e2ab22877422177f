#pragma once
/// The wallet: the credit ledger and the settlement of orders (README, "Credits, orders and
/// memberships").
///
/// Every change to a user's credits goes through here, as one InnoDB transaction that
///   1. locks the user's row (`SELECT credits, ledger_seq ... FOR UPDATE`, LockAccountIn);
///   2. changes `users.credits` with one conditional UPDATE (`... WHERE id = ? AND credits >= ?`
///      for a debit), bumping `users.ledger_seq` in the same statement;
///   3. appends one `credit_transactions` row (type, signed amount, balance_after, seq,
///      description, related order / generation / refunded charge, created_at from the clock),
///      with balance_after and seq computed from the row locked in step 1 (no read-back: the
///      lock keeps every other writer out until the commit).
/// So at every commit, and after any crash: credits >= 0, credits = SUM(amount), and the
/// balance_after chain is consistent in seq order. The ledger is append-only.
///
/// Thread-safe: a Wallet has no mutable state; one instance serves every request thread.
/// Errors: ApiError for what a client may see (402, 404); db::DbError when the database fails
/// (deadlocks and lock-wait timeouts are retried first, see db::RetryOnAborted).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/clock.h"
#include "lib/billing/money.h"
#include "lib/billing/order_enums.h"
#include "lib/db/db.h"

namespace inkstone::lib::billing {

enum class LedgerType {
    kRecharge,
    kBonus,
    kConsume,
    kRefund,
    kAdminAdjust,
    kOrderRefund,      ///< < 0: credits taken back by a refunded recharge order (related_order_no)
    kOrderRefundVoid,  ///< > 0: gives an ORDER_REFUND back when the provider refused the refund
    kRedeem,           ///< > 0: a redemption code worth credits (related_redeem_code_id, UNIQUE)
};

/// `"RECHARGE"`, `"BONUS"`, `"CONSUME"`, `"REFUND"`, `"ADMIN_ADJUST"`, `"ORDER_REFUND"`,
/// `"ORDER_REFUND_VOID"`, `"REDEEM"`.
std::string_view LedgerTypeName(LedgerType type);
/// The inverse of LedgerTypeName (exact, upper-case); nullopt for anything else.
std::optional<LedgerType> ParseLedgerType(std::string_view name);
/// `credit_transactions.type`, for lib/db's typed binding: LedgerTypeName and ParseLedgerType.
std::string_view ToSql(LedgerType type);
bool FromSql(std::string_view text, LedgerType* type);

/// Longest ledger description, in characters (the column is VARCHAR(255)).
inline constexpr size_t kMaxDescriptionChars = 255;

struct WalletOptions {
    /// Test-only: milliseconds each transaction sleeps after taking its row locks, before its
    /// commit (`testing.settle_delay_ms`, honoured only with `testing.hooks`). 0 in production.
    int hold_locks_ms = 0;
};

/// A user's row as locked by LockAccountIn: what a charge needs to know without reading it again.
/// Valid only inside the transaction that took the lock; ChargeLockedIn keeps it up to date.
struct LockedAccount {
    int64_t user_id = 0;
    int64_t credits = 0;
    int64_t ledger_seq = 0;
    std::optional<base::TimePoint> member_expired_at;
    bool disabled = false;  ///< users.disabled_at is set: no new generation may start
};

/// What a ledger row posted by Wallet::PostLockedIn links to (sql/007_admin.sql: ORDER_REFUND and
/// ORDER_REFUND_VOID need related_order_no, REDEEM needs related_redeem_code_id).
struct LedgerLinks {
    std::optional<std::string> related_order_no;
    std::optional<int64_t> related_redeem_code_id;
};

struct ChargeResult {
    int64_t charge_id = 0;  ///< the CONSUME row's id: what Refund takes
    int64_t balance = 0;    ///< the user's credits right after the debit
};

/// A provider's word that an order was paid. The Alipay / WeChat Pay notify processing
/// (lib/payments/notify.h) builds one after verifying the notify's signature, for mock payments
/// too.
struct SettlementNotice {
    std::string order_no;
    PaymentProvider provider = PaymentProvider::kMock;
    std::string provider_trade_no;  ///< the provider's own trade number, 1–64 visible ASCII
    int64_t amount_fen = 0;         ///< what the provider says was paid
    base::TimePoint paid_at;        ///< when the provider says it was paid
};

enum class SettleOutcome {
    kSettled,         ///< this call marked the order PAID and applied its effect
    kAlreadySettled,  ///< the order was PAID before (a duplicate notify): success, no effect
    kAmountMismatch,  ///< amount differs from the order's: nothing changed, security event logged
    kUnknownOrder,    ///< no such order_no: nothing changed
    kTradeNoReused,   ///< the trade number already settled another order: nothing changed,
                      ///< security event logged
};

/// `"settled"`, `"already_settled"`, ... (for logs and test routes).
std::string_view SettleOutcomeName(SettleOutcome outcome);

/// What Settle accepts as a provider trade number: 1–64 visible ASCII characters (0x21–0x7E).
bool IsWellFormedTradeNo(std::string_view trade_no);

/// An unpaid order past its expiry, as the expiry job sees it before expiring it.
struct OverdueOrder {
    std::string order_no;
    PaymentMethod payment_method = PaymentMethod::kAlipay;  ///< whom to ask
    int64_t amount_fen = 0;
};

/// See Wallet::ExpireOrders: true = do not expire this order in this run (it was settled, or
/// whether it was paid cannot be told now); false = expire it.
using Reconciler = std::function<bool(const OverdueOrder& order)>;

struct Balance {
    int64_t credits = 0;
    std::optional<base::TimePoint> member_expired_at;
};

/// One ledger row as GET /credit/transactions shows it.
struct LedgerEntry {
    int64_t id = 0;
    LedgerType type = LedgerType::kConsume;
    int64_t amount = 0;
    int64_t balance_after = 0;
    std::string description;
    std::optional<std::string> related_order_no;
    std::optional<int64_t> related_generation_id;
    base::TimePoint created_at;
};

struct LedgerPage {
    std::vector<LedgerEntry> items;  ///< newest first
    int64_t total = 0;               ///< rows matching the filter, all pages
};

/// Writes the user's row (`users.serial = serial + 1`) inside the caller's transaction: an
/// exclusive row lock like SELECT ... FOR UPDATE and, on Galera, a write that certification
/// checks, so of two transactions on different nodes that decided under "the" user lock one
/// aborts (1213) and runs again. For checks that write nothing else to the user's row: the
/// in-flight cap of a member (charged 0), the pending-order cap. Does nothing to the ledger.
void WriteLockUser(db::Lease& lease, int64_t user_id);

/// Thrown out of RefundIn when a concurrent refund of the same charge committed first (the
/// UNIQUE key on refund_of): the caller's transaction must roll back, since it already holds
/// the credit. Refund() turns it into `false`.
struct AlreadyRefunded {};

class Wallet {
  public:
    Wallet(db::Pool& pool, const base::Clock& clock, WalletOptions options = {})
        : pool_(pool), clock_(clock), options_(options) {}

    /// Debits `credits` (>= 1) from the user, atomically: either the balance covered it and a
    /// CONSUME row (amount = -credits) was appended, or nothing changed and this throws
    /// ApiError 402 INSUFFICIENT_CREDITS with `required` (= credits) and `balance` (the
    /// balance seen). 404 NOT_FOUND when the user does not exist. `description` is 1–255
    /// characters of valid UTF-8; credits < 1 or a bad description is std::invalid_argument.
    ChargeResult Charge(int64_t user_id, int64_t credits, std::string_view description,
                        std::optional<int64_t> related_generation_id = std::nullopt) const;

    /// Gives back a charge: appends a REFUND row (amount = the charge's credits, refund_of =
    /// charge_id) and credits the user, in one transaction. At most once per charge, enforced
    /// by the UNIQUE key on refund_of (not by a prior read): of any number of concurrent or
    /// repeated calls on any hosts exactly one returns true and every other returns false with
    /// no effect. 404 NOT_FOUND (ApiError) when charge_id is not a CONSUME row.
    bool Refund(int64_t charge_id, std::string_view description) const;

    /// The user a charge (a CONSUME row) belongs to; nullopt when `charge_id` is not a charge.
    std::optional<int64_t> ChargeOwner(int64_t charge_id) const;

    /// Charge() inside the caller's transaction, so a charge can commit or roll back together
    /// with other writes (a generation's start). Same rules and errors; no retry of its own.
    /// Three statements: LockAccountIn, the UPDATE, the ledger INSERT.
    ChargeResult ChargeIn(db::Transaction& tx, int64_t user_id, int64_t credits,
                          std::string_view description,
                          std::optional<int64_t> related_generation_id = std::nullopt) const;

    /// Locks the user's row for the rest of `tx` (`SELECT ... FOR UPDATE`) and returns it;
    /// nullopt when the user does not exist. For a caller that decides on the row itself (a
    /// generation's limits and membership) before it charges with ChargeLockedIn.
    std::optional<LockedAccount> LockAccountIn(db::Transaction& tx, int64_t user_id) const;

    /// ChargeIn() on a row already locked by LockAccountIn in `tx`: two statements (the UPDATE,
    /// the ledger INSERT), the balance computed from the lock. 402 INSUFFICIENT_CREDITS (with
    /// the locked balance) when it does not cover `credits`. `account` is updated to the row as
    /// it is after the debit.
    ChargeResult ChargeLockedIn(db::Transaction& tx, LockedAccount& account, int64_t credits,
                                std::string_view description,
                                std::optional<int64_t> related_generation_id = std::nullopt) const;
    /// An ADMIN_ADJUST row of signed `amount` (non-zero) on a row locked by LockAccountIn in
    /// `tx`, with the balance change (the admin console's credit adjustment). ApiError 409
    /// INSUFFICIENT_CREDITS (with `balance`) when a debit would take the balance below 0;
    /// nothing is written then. `account` is updated to the row as it is afterwards.
    ChargeResult AdjustLockedIn(db::Transaction& tx, LockedAccount& account, int64_t amount,
                                std::string_view description) const;
    /// Appends one ledger row of `type` and signed `amount` (non-zero, with the type's sign) on a
    /// row locked by LockAccountIn in `tx`, with the balance change: the admin console's
    /// ORDER_REFUND, ORDER_REFUND_VOID and REDEEM rows. A debit beyond the locked balance is
    /// ApiError 409 INSUFFICIENT_CREDITS (with `balance`) and writes nothing. A UNIQUE key
    /// (one ORDER_REFUND per order, one REDEEM per code) surfaces as db::DbError 1062 from the
    /// INSERT: the caller's transaction must roll back. std::invalid_argument for a type this
    /// does not post (use ChargeLockedIn, RefundIn, AdjustLockedIn, Settle for those), a wrong
    /// sign, a missing link or a bad description. `account` is updated to the row afterwards.
    ChargeResult PostLockedIn(db::Transaction& tx, LockedAccount& account, LedgerType type,
                              int64_t amount, std::string_view description,
                              const LedgerLinks& links) const;
    /// Refund() inside the caller's transaction: the REFUND row's id, or nullopt when the
    /// charge had been refunded before (nothing written). Throws AlreadyRefunded when a
    /// concurrent refund wins the UNIQUE key (roll the transaction back), ApiError 404 for a
    /// charge_id that is not a CONSUME row.
    std::optional<int64_t> RefundIn(db::Transaction& tx, int64_t charge_id,
                                    std::string_view description) const;

    /// The one settlement transaction (README, "Credits, orders and memberships": Settlement),
    /// for every provider:
    ///   1. lock the order row (SELECT ... FOR UPDATE); PAID → kAlreadySettled;
    ///   2. amount_fen must equal the order's, else kAmountMismatch (warn log
    ///      `payment.amount_mismatch`);
    ///   3. PENDING or EXPIRED → PAID with paid_at, provider and provider_trade_no (UNIQUE per
    ///      provider; a clash is kTradeNoReused, warn log `payment.trade_no_reused`);
    ///   4. recharge: a RECHARGE row (+credits) and, when bonus_credits > 0, a BONUS row;
    ///      membership: member_expired_at = max(now, member_expired_at) + months (calendar
    ///      months, clamped), the period recorded on the order (member_from, member_until);
    ///   5. commit.
    /// Idempotent: a duplicate notify is kAlreadySettled and changes nothing (a different trade
    /// number for a PAID order — the user paid twice — is also logged, `payment.double_payment`).
    /// "now" for the membership is the clock at settlement. Throws std::invalid_argument for an
    /// unknown provider or a malformed trade number; db::DbError when the database fails.
    SettleOutcome Settle(const SettlementNotice& notice) const;

    /// Marks PENDING orders whose expires_at < now as EXPIRED, up to `batch` of each kind per
    /// call, and returns how many it marked. The candidates are read without locks, then each is
    /// expired by its own conditional UPDATE (`WHERE order_no = ? AND status = 'PENDING' AND
    /// expires_at < ?`), which takes the order's locks in the same order as Settle (so the two
    /// never deadlock): safe on every worker of every host at once, and an order being settled
    /// at the same moment is either settled first (and skipped here) or expired first (and still
    /// honoured by Settle). `reconcile`, when given, is asked about each candidate first,
    /// outside any transaction; it returns true when it settled the order itself (live mode: the
    /// provider says it was paid) or the provider could not be asked (the next run asks again),
    /// and false to let it expire. An order whose UPDATE
    /// hits a deadlock or lock-wait timeout is left for the next run. Call again while it
    /// returns >= batch.
    ///
    /// With `reconcile`, each candidate is first claimed (`reconcile_claimed_until`, a
    /// conditional UPDATE): of the workers and hosts running this at once exactly one asks the
    /// provider about an order, and an order claimed by another is skipped. The claim is
    /// released once the answer is in, and lapses after two minutes if its worker died. No
    /// provider is asked after `ask_until`: the call returns what it expired so far, and the
    /// next run goes on, so a slow provider cannot hold the job thread beyond its budget.
    int64_t ExpireOrders(base::TimePoint now, int batch, const Reconciler& reconcile = nullptr,
                         std::chrono::steady_clock::time_point ask_until =
                             std::chrono::steady_clock::time_point::max()) const;

    /// The user's credits and membership end; nullopt when the user does not exist.
    std::optional<Balance> GetBalance(int64_t user_id) const;

    /// One page of the user's ledger, newest first, optionally only rows of `type`.
    LedgerPage ListTransactions(int64_t user_id, std::optional<LedgerType> type, int64_t limit,
                                int64_t offset) const;

  private:
    void HoldLocksForTests() const;
    /// Settle's transaction: steps 1 to 4 under the order's row lock.
    SettleOutcome SettleIn(db::Transaction& tx, OrderKind kind, const SettlementNotice& notice,
                           base::TimePoint now) const;

    db::Pool& pool_;
    const base::Clock& clock_;
    const WalletOptions options_;
};

}  // namespace inkstone::lib::billing
