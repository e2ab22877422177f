#include "handlers/admin_orders.h"

#include <optional>
#include <string>
#include <utility>

#include "handlers/credit_views.h"
#include "lib/admin/audit.h"
#include "lib/admin/orders.h"
#include "lib/base/errors.h"
#include "lib/base/json.h"
#include "lib/http/json_body.h"
#include "lib/http/paging.h"

namespace inkstone::handlers {
namespace {

namespace admin = lib::admin;
namespace http = lib::http;
using lib::base::ApiError;
using lib::base::ErrorCode;

/// Longer than any order_no: a longer {order_no} is a 404 like an unknown one.
constexpr size_t kMaxOrderNoChars = 64;
/// Far above any order's amount (the columns allow more, the providers 2^31-1 fen).
constexpr int64_t kMaxRefundFen = 2'147'483'647;

std::string OrderNoOf(const http::Request& request) {
    std::string order_no = request.PathParam("order_no");
    if (order_no.empty() || order_no.size() > kMaxOrderNoChars) {
        throw ApiError(ErrorCode::kNotFound, "order not found");
    }
    return order_no;
}

}  // namespace

AdminOrderHandlers::AdminOrderHandlers(lib::db::Pool& pool, const lib::base::Clock& clock,
                                       const lib::payments::NotifyProcessor& notifies)
    : orders([&pool](const http::Request& request) {
          return AdminJson(200, admin::SearchOrders(pool, admin::ParseOrderFilter(request),
                                                    http::ParsePageRequest(request)));
      }),
      order([&pool, &notifies](const http::Request& request) {
          const admin::OrderDetail detail =
              admin::GetOrderDetail(pool, notifies, OrderNoOf(request));
          Json::Value body(Json::objectValue);
          body["order"] = detail.order;
          body["refund"] = detail.refund;
          Json::Value ledger(Json::arrayValue);
          for (const auto& entry : detail.ledger) ledger.append(LedgerEntryToJson(entry));
          body["ledger"] = std::move(ledger);
          body["notifies"] = detail.notifies;
          body["membership_grants"] = detail.membership_grants;
          return AdminJson(200, body);
      }),
      order_reconcile([&pool, &clock, &notifies](const http::Request& request) {
          const std::string order_no = OrderNoOf(request);
          const std::string reason = admin::ParseReason(request.json);
          const admin::ReconcileResult result = admin::ReconcileOrder(
              pool, clock, notifies, admin::ActorOf(request), order_no, reason);
          Json::Value body(Json::objectValue);
          body["order"] = result.order;
          body["outcome"] = result.outcome;
          body["refund"] = result.refund;
          return AdminJson(200, body);
      }),
      order_refund([&pool, &clock, &notifies](const http::Request& request) {
          const std::string order_no = OrderNoOf(request);
          const http::JsonFields fields(request.json);
          const std::optional<int64_t> amount = fields.OptionalInt("amount_fen", 1, kMaxRefundFen);
          const std::string reason = admin::ParseReason(request.json);
          const admin::RefundResult result = admin::RefundOrder(
              pool, clock, notifies, admin::ActorOf(request), order_no, amount, reason);
          Json::Value body(Json::objectValue);
          body["refund"] = admin::RefundToJson(result.refund);
          body["balance"] = Json::Int64{result.balance};
          body["member_expired_at"] = lib::base::TimeOrNull(result.member_expired_at);
          return AdminJson(200, body);
      }) {}

}  // namespace inkstone::handlers
