#pragma once
/// The admin console's orders (docs/admin-api.md, "Orders"; README, "Refunds"): search, the
/// detail page (with its refund, ledger rows, notify history and membership grants), reconcile
/// now, and refunds. The API handlers (handlers/admin_orders.cpp) and inkstone-admin call the
/// same functions, so both write the same rows. Thread-safe (no state). Errors: ApiError 404
/// for an unknown order, 409 for a refused change, 422 for bad input; db::DbError when the
/// database fails.
#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/admin/audit.h"
#include "lib/base/clock.h"
#include "lib/billing/wallet.h"
#include "lib/db/db.h"
#include "lib/http/message.h"
#include "lib/http/paging.h"
#include "lib/payments/notify.h"

namespace inkstone::lib::admin {

/// The filters of GET /admin/orders; an empty one matches everything.
struct OrderFilter {
    std::optional<std::string> order_no;
    std::optional<int64_t> user_id;
    std::optional<std::string> kind;      ///< recharge | membership
    std::optional<std::string> status;    ///< PENDING | PAID | EXPIRED
    std::optional<std::string> method;    ///< alipay | wechat
    std::optional<base::TimePoint> from;  ///< created_at >= (a UTC day's start)
    std::optional<base::TimePoint> to;    ///< created_at < (the day after `to`'s start)
};

/// Reads the filters from the query; 422 (with the field) for a value outside its set or a
/// date that is not YYYY-MM-DD.
OrderFilter ParseOrderFilter(const http::Request& request);

/// One page of both kinds of orders, newest first: `{"order_no", "kind", "user_id", "username",
/// "status", "amount_fen", "credits", "bonus_credits", "plan", "months", "payment_method",
/// "created_at", "paid_at", "provider_trade_no", "refund_status"}`.
Json::Value SearchOrders(db::Pool& pool, const OrderFilter& filter, const http::PageRequest& page);

/// GET /admin/orders/{order_no}, apart from the ledger rows (rendered like /credit/transactions
/// by the caller).
struct OrderDetail {
    Json::Value order;  ///< as SearchOrders, plus `paid_provider`, `expires_at`
    Json::Value refund{Json::nullValue};
    std::vector<billing::LedgerEntry> ledger;  ///< rows linked by related_order_no, oldest first
    Json::Value notifies{Json::arrayValue};    ///< notify_log rows, oldest first
    Json::Value membership_grants{Json::arrayValue};
};
/// ApiError 404 NOT_FOUND for an unknown order_no.
OrderDetail GetOrderDetail(db::Pool& pool, const payments::NotifyProcessor& notifies,
                           const std::string& order_no);

/// The refund as the order detail shows it.
Json::Value RefundToJson(const billing::OrderRefund& refund);

struct ReconcileResult {
    Json::Value order;    ///< as SearchOrders, after
    std::string outcome;  ///< settled | still_pending | expired | unchanged | refund_checked
    Json::Value refund{Json::nullValue};
};
/// "Reconcile now": a PENDING order's provider is asked as the expiry job asks it (live mode;
/// mock mode has nobody to ask), and an order past its expiry that the provider knows unpaid
/// is expired. A PAID order with a PENDING refund has its refund asked about again. The audit
/// row `order.reconcile` records the status before and after.
ReconcileResult ReconcileOrder(db::Pool& pool, const base::Clock& clock,
                               const payments::NotifyProcessor& notifies, const Actor& actor,
                               const std::string& order_no, const std::string& reason);

struct RefundResult {
    billing::OrderRefund refund;
    int64_t balance = 0;
    std::optional<base::TimePoint> member_expired_at;
};
/// Refunds a PAID order (billing::Refunds::Open, with the audit row `order.refund` in its
/// transaction), then asks the provider (NotifyProcessor::SubmitRefund, outside any
/// transaction). `amount_fen` nullopt: the whole (refundable) amount. 409 MOCK_PAYMENT when the
/// order was paid in the other payment mode (a mock payment in live mode, or the reverse).
RefundResult RefundOrder(db::Pool& pool, const base::Clock& clock,
                         const payments::NotifyProcessor& notifies, const Actor& actor,
                         const std::string& order_no, std::optional<int64_t> amount_fen,
                         const std::string& reason);

}  // namespace inkstone::lib::admin
