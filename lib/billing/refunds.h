#pragma once
/// Refunds of paid orders (README, "Refunds"): the ledger side. An order is refunded at most
/// once (full or partial), in two steps around the provider's refund call:
///   1. Open: one transaction locks the order (PAID only), then the user, takes back what the
///      refund undoes and inserts the PENDING `order_refunds` row:
///        - a recharge order: ORDER_REFUND ledger row of `credits` = credits + bonus for the
///          whole amount, floor(amount × (credits + bonus) / order amount) for a part; it must
///          be covered by the balance (409 INSUFFICIENT_CREDITS otherwise);
///        - a membership order: the membership loses what is left of the order's period
///          (from max(now, member_from) to member_until), recorded as an ORDER_REFUND membership
///          grant; the amount is at most the unused share of the price (409 MEMBERSHIP_IN_USE
///          beyond it, or once the period is over).
///      The refund_no is "RF" + order_no, so every call to the provider about this order, on
///      any host, carries the same out_refund_no / out_request_no and refunds once.
///      UNIQUE (order_no) on order_refunds and UNIQUE (related_order_no, type) on the ledger
///      make a second refund of the order impossible (409 ALREADY_REFUNDED).
///   2. Resolve: the provider's answer (synchronous, a notify or a query) marks it SUCCESS, or
///      FAILED when the provider definitively refused; FAILED gives back what Open took
///      (ORDER_REFUND_VOID ledger row, or an ORDER_REFUND_VOID membership grant). A refund the
///      provider could not be asked about stays PENDING and is asked about again.
///
/// Lock order, as Settle: the order row, then the user row. Thread-safe (no mutable state).
/// Errors: ApiError (404, 409, 422) for what an admin may see; db::DbError when the database
/// fails (deadlocks are retried first).
#include <json/value.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/clock.h"
#include "lib/billing/money.h"
#include "lib/billing/order_enums.h"
#include "lib/billing/wallet.h"
#include "lib/db/db.h"

namespace inkstone::lib::billing {

enum class RefundStatus { kPending, kSuccess, kFailed };
/// `"PENDING"`, `"SUCCESS"`, `"FAILED"`.
std::string_view ToSql(RefundStatus status);
bool FromSql(std::string_view text, RefundStatus* status);

/// One `order_refunds` row with what the provider call needs of its order.
struct OrderRefund {
    int64_t id = 0;
    std::string refund_no;
    std::string order_no;
    OrderKind kind = OrderKind::kRecharge;
    int64_t user_id = 0;
    PaymentProvider provider = PaymentProvider::kMock;  ///< who was paid (orders.paid_provider)
    PaymentMethod method = PaymentMethod::kAlipay;      ///< the order's payment method
    int64_t amount_fen = 0;                             ///< refunded
    int64_t order_amount_fen = 0;                       ///< the order's whole amount
    int64_t credits = 0;                                ///< taken back (recharge)
    RefundStatus status = RefundStatus::kPending;
    std::optional<std::string> provider_refund_id;
    std::optional<std::string> failure;
    std::string reason;
    base::TimePoint created_at;
    base::TimePoint updated_at;
    std::optional<base::TimePoint> succeeded_at;
};

/// "RF" + order_no: the out_refund_no of the order's one refund.
std::string RefundNoFor(std::string_view order_no);

struct RefundRequest {
    std::string order_no;
    std::optional<int64_t> amount_fen;  ///< nullopt: the whole (refundable) amount
    std::string reason;                 ///< CheckReason'ed by the caller
};

/// Called inside Open's transaction with the refund about to be stored and the before/after of
/// the user it changes; returns the audit row's id (lib/admin records `order.refund`).
using RefundAuditHook = std::function<int64_t(db::Transaction& tx, const OrderRefund& refund,
                                              const Json::Value& before, const Json::Value& after)>;

struct OpenedRefund {
    OrderRefund refund;
    int64_t balance = 0;  ///< the user's credits after Open
    std::optional<base::TimePoint> member_expired_at;
};

/// What the provider said about a refund.
enum class RefundVerdict {
    kSucceeded,  ///< the money is on its way back
    kRefused,    ///< definitively refused: FAILED, and what Open took is given back
};

class Refunds final {
  public:
    Refunds(db::Pool& pool, const Wallet& wallet, const base::Clock& clock)
        : pool_(pool), wallet_(wallet), clock_(clock) {}

    /// Step 1 above. 404 NOT_FOUND for an unknown order, 409 NOT_PAID for an unpaid one, 409
    /// ALREADY_REFUNDED, 409 INSUFFICIENT_CREDITS, 409 MEMBERSHIP_IN_USE, 422 `amount_fen`
    /// outside 1..the order's amount.
    OpenedRefund Open(const RefundRequest& request, const RefundAuditHook& audit) const;

    /// Step 2: PENDING → SUCCESS or FAILED, at most once (a conditional UPDATE under the order's
    /// lock): true when this call changed it, false when it was already resolved (a repeated
    /// notify) or is unknown.
    bool Resolve(std::string_view refund_no, RefundVerdict verdict,
                 const std::string& provider_refund_id, const std::string& detail) const;

    /// A PENDING refund stays PENDING: notes the provider's id or why it could not be asked,
    /// and when (updated_at), so the follow-up asks again later.
    void NotePending(std::string_view refund_no, const std::string& provider_refund_id,
                     const std::string& detail) const;

    std::optional<OrderRefund> FindByOrder(std::string_view order_no) const;
    std::optional<OrderRefund> FindByRefundNo(std::string_view refund_no) const;
    /// PENDING refunds last updated before `before`, oldest first.
    std::vector<OrderRefund> Pending(base::TimePoint before, int limit) const;

  private:
    db::Pool& pool_;
    const Wallet& wallet_;
    const base::Clock& clock_;
};

}  // namespace inkstone::lib::billing
