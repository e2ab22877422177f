#include "handlers/credit.h"

#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "handlers/auth.h"
#include "handlers/credit_views.h"
#include "lib/base/errors.h"
#include "lib/billing/idempotency.h"
#include "lib/http/json_body.h"
#include "lib/http/paging.h"

namespace inkstone::handlers {
namespace {

using lib::base::ApiError;
using lib::base::ErrorCode;
using lib::base::TimePoint;
namespace billing = lib::billing;
namespace http = lib::http;

constexpr int64_t kMaxPriceId = std::numeric_limits<int32_t>::max();
constexpr size_t kMaxPlanChars = 32;
constexpr char kRechargeEndpoint[] = "POST /api/v1/credit/recharge";
constexpr char kMembershipEndpoint[] = "POST /api/v1/credit/membership";

http::Response NoStore(http::Response response) {
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

billing::PaymentMethod PaymentMethodOf(const http::JsonFields& fields) {
    const std::string text = fields.RequiredString("payment_method", 1, 16);
    billing::PaymentMethod method;
    if (!FromSql(text, &method)) {
        throw ApiError::Validation("payment_method", "must be \"alipay\" or \"wechat\"");
    }
    return method;
}

http::Response OrderReply(const billing::CreatedOrder& created) {
    http::Response out = http::Response::Text(
        created.response.status, "application/json; charset=utf-8", created.response.body);
    if (created.replayed) out.headers.emplace_back("Idempotent-Replayed", "true");
    return NoStore(std::move(out));
}

/// The 201 body of a new order: the order's view.
billing::OrderService::Render OrderRenderer(const lib::payments::Providers& providers) {
    return [&providers](const billing::Order& order, TimePoint now) {
        return lib::base::ToJson(OrderToJson(order, providers, now));
    };
}

billing::RechargeRequest ParseRecharge(const http::JsonFields& fields) {
    const bool by_package = fields.Has("price_id");
    const bool by_amount = fields.Has("amount_fen");
    if (by_package == by_amount) {
        throw ApiError::Validation("price_id", by_package
                                                   ? "give either price_id or amount_fen, not both"
                                                   : "price_id or amount_fen is required");
    }
    billing::RechargeRequest parsed;
    if (by_package) {
        parsed.price_id = fields.RequiredInt("price_id", 1, kMaxPriceId);
    } else {
        const int64_t amount_fen = fields.RequiredInt(
            "amount_fen", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
        if (const std::optional<std::string> problem = billing::CustomAmountError(amount_fen)) {
            throw ApiError::Validation("amount_fen", *problem);
        }
        parsed.custom = billing::CustomRecharge(amount_fen);
    }
    parsed.method = PaymentMethodOf(fields);
    return parsed;
}

billing::MembershipRequest ParseMembership(const http::JsonFields& fields) {
    billing::MembershipRequest parsed;
    parsed.plan = fields.OptionalString("plan", 1, kMaxPlanChars);
    parsed.price_id = fields.OptionalInt("price_id", 1, kMaxPriceId);
    if (!parsed.plan && !parsed.price_id) {
        throw ApiError::Validation("plan", "plan or price_id is required");
    }
    parsed.method = PaymentMethodOf(fields);
    return parsed;
}

}  // namespace

http::Response BalanceHandler::Handle(const http::Request& request, http::StreamWriter&) const {
    // The row the token lookup read: no second statement.
    const http::Principal& principal = RequirePrincipal(request);
    billing::Balance balance;
    balance.credits = principal.credits;
    balance.member_expired_at = principal.member_expired_at;
    return NoStore(http::Response::Json(
        200, BalanceToJson(balance, clock_.Now(), config_.cost_per_generation)));
}

http::Response CreditPricesHandler::Handle(const http::Request&, http::StreamWriter&) const {
    return http::Response::Json(200, PackagesToJson(billing::ActivePackages(pool_)));
}

http::Response MembershipPricesHandler::Handle(const http::Request&, http::StreamWriter&) const {
    return http::Response::Json(200, PlansToJson(billing::ActivePlans(pool_)));
}

http::Response TransactionsHandler::Handle(const http::Request& request,
                                           http::StreamWriter&) const {
    const http::Principal& principal = RequirePrincipal(request);
    std::optional<billing::LedgerType> type;
    if (const std::optional<std::string> name = request.QueryParam("type");
        name && !name->empty()) {
        type = billing::ParseLedgerType(*name);
        if (!type) {
            throw ApiError::Validation(
                "type", "must be one of RECHARGE, BONUS, CONSUME, REFUND, ADMIN_ADJUST");
        }
    }
    const http::PageRequest page = http::ParsePageRequest(request);
    const billing::LedgerPage entries =
        wallet_.ListTransactions(principal.user_id, type, page.limit(), page.offset());
    Json::Value items(Json::arrayValue);
    for (const billing::LedgerEntry& entry : entries.items) items.append(LedgerEntryToJson(entry));
    return NoStore(
        http::Response::Json(200, http::PageJson(std::move(items), entries.total, page)));
}

http::Response RechargeHandler::Handle(const http::Request& request, http::StreamWriter&) const {
    const int64_t user_id = RequirePrincipal(request).user_id;
    const std::optional<billing::IdempotentRequest> idempotency =
        billing::IdempotentRequestOf(request, kRechargeEndpoint);
    const billing::RechargeRequest parsed = ParseRecharge(http::JsonFields(request.json));
    return OrderReply(
        orders_.CreateRecharge(user_id, parsed, idempotency, OrderRenderer(providers_)));
}

http::Response MembershipHandler::Handle(const http::Request& request, http::StreamWriter&) const {
    const int64_t user_id = RequirePrincipal(request).user_id;
    const std::optional<billing::IdempotentRequest> idempotency =
        billing::IdempotentRequestOf(request, kMembershipEndpoint);
    const billing::MembershipRequest parsed = ParseMembership(http::JsonFields(request.json));
    return OrderReply(
        orders_.CreateMembership(user_id, parsed, idempotency, OrderRenderer(providers_)));
}

http::Response OrderListHandler::Handle(const http::Request& request, http::StreamWriter&) const {
    const http::Principal& principal = RequirePrincipal(request);
    const http::PageRequest page = http::ParsePageRequest(request);
    const billing::OrderPage found =
        billing::ListUserOrders(pool_, kind_, principal.user_id, page.limit(), page.offset());
    Json::Value items(Json::arrayValue);
    const TimePoint now = clock_.Now();
    for (const billing::Order& order : found.items) {
        items.append(OrderToJson(order, providers_, now));
    }
    return NoStore(http::Response::Json(200, http::PageJson(std::move(items), found.total, page)));
}

http::Response OrderDetailHandler::Handle(const http::Request& request, http::StreamWriter&) const {
    const http::Principal& principal = RequirePrincipal(request);
    const std::optional<billing::Order> order =
        billing::FindUserOrder(pool_, kind_, principal.user_id, request.PathParam("order_no"));
    if (!order) throw ApiError(ErrorCode::kNotFound, "order not found");
    return NoStore(http::Response::Json(200, OrderToJson(*order, providers_, clock_.Now())));
}

}  // namespace inkstone::handlers
