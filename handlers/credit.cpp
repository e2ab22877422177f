#include "handlers/credit.h"

#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "handlers/auth.h"
#include "handlers/payment.h"
#include "lib/base/errors.h"
#include "lib/billing/idempotency.h"
#include "lib/http/json_body.h"
#include "lib/http/paging.h"

namespace inkstone::handlers {
namespace {

using lib::base::ApiError;
using lib::base::ErrorCode;
using lib::base::TimePoint;
namespace db = lib::db;
namespace billing = lib::billing;
namespace payments = lib::payments;

constexpr int64_t kMaxPriceId = std::numeric_limits<int32_t>::max();
constexpr size_t kMaxPlanChars = 32;

Json::Value OptionalTime(const std::optional<TimePoint>& t) {
    return t ? Json::Value(lib::base::FormatRfc3339(*t)) : Json::Value(Json::nullValue);
}

Json::Value OptionalId(const std::optional<int64_t>& id) {
    return id ? Json::Value(Json::Int64{*id}) : Json::Value(Json::nullValue);
}

lib::http::Response NoStore(lib::http::Response response) {
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

std::string PaymentMethod(const lib::http::JsonFields& fields) {
    const std::string method = fields.RequiredString("payment_method", 1, 16);
    if (!billing::IsPaymentMethod(method)) {
        throw ApiError::Validation("payment_method", "must be \"alipay\" or \"wechat\"");
    }
    return method;
}

lib::http::Response OrderReply(const billing::StoredResponse& response, bool replayed) {
    lib::http::Response out =
        lib::http::Response::Text(response.status, "application/json; charset=utf-8", response.body);
    if (replayed) out.headers.emplace_back("Idempotent-Replayed", "true");
    return NoStore(std::move(out));
}

/// Stores the new `order` once per Idempotency-Key (if any) and answers 201 with it. A replay
/// answers the stored first response, creates nothing and never reaches a provider. Otherwise
/// the provider learns the order first (RegisterWithProvider: live WeChat Pay), so a failure
/// there leaves nothing behind here; then the order and the key's response are stored in one
/// transaction, where of two concurrent first uses of a key exactly one stores anything (the
/// key's primary key decides; the other answers the first's response, and the WeChat order it
/// registered is never shown to anyone and lapses at its time_expire).
lib::http::Response CreateOrder(db::Pool& pool, const payments::Providers& providers,
                          const lib::http::Request& request, const std::optional<std::string>& key,
                          const char* endpoint, TimePoint now, billing::Order order) {
    const int64_t user_id = RequirePrincipal(request).user_id;
    const std::string fingerprint = key ? billing::IdempotencyFingerprint(endpoint, request.json) : "";
    if (key) {
        if (const std::optional<billing::StoredResponse> stored =
                billing::FindIdempotencyKey(pool, user_id, *key, fingerprint, now)) {
            return OrderReply(*stored, true);
        }
    }
    RegisterWithProvider(providers, order, now);
    const std::string body = lib::http::ToJson(OrderToJson(order, providers, now));
    bool replayed = false;
    const billing::StoredResponse response =
        db::RetryOnAborted(pool, "order.create", [&](db::Transaction& tx) {
            db::Lease& lease = tx.lease();
            replayed = false;
            if (key) {
                if (std::optional<billing::StoredResponse> stored =
                        billing::ClaimIdempotencyKey(lease, user_id, *key, fingerprint, now)) {
                    replayed = true;
                    return *stored;
                }
            }
            billing::InsertOrder(lease, order);
            billing::StoredResponse fresh;
            fresh.status = 201;
            fresh.body = body;
            if (key) billing::CompleteIdempotencyKey(lease, user_id, *key, fresh);
            return fresh;
        });
    return OrderReply(response, replayed);
}

Json::Value LedgerEntryToJson(const billing::LedgerEntry& entry) {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64{entry.id};
    json["type"] = std::string(billing::LedgerTypeName(entry.type));
    json["amount"] = Json::Int64{entry.amount};
    json["balance_after"] = Json::Int64{entry.balance_after};
    json["description"] = entry.description;
    json["related_order_id"] = entry.related_order_no ? Json::Value(*entry.related_order_no)
                                                      : Json::Value(Json::nullValue);
    json["related_generation_id"] = OptionalId(entry.related_generation_id);
    json["created_at"] = lib::base::FormatRfc3339(entry.created_at);
    return json;
}

}  // namespace

Json::Value OrderToJson(const billing::Order& order, const payments::Providers& providers,
                        TimePoint now) {
    Json::Value json(Json::objectValue);
    json["order_no"] = order.order_no;
    json["price_id"] = OptionalId(order.price_id);
    if (order.kind == billing::OrderKind::kRecharge) {
        json["credits"] = Json::Int64{order.credits};
        json["bonus_credits"] = Json::Int64{order.bonus_credits};
    } else {
        json["plan"] = order.plan;
        json["months"] = order.months;
        json["member_until"] = OptionalTime(order.member_until);
    }
    json["amount_fen"] = Json::Int64{order.amount_fen};
    json["payment_method"] = order.payment_method;
    json["status"] = order.status;
    json["created_at"] = lib::base::FormatRfc3339(order.created_at);
    json["expires_at"] = lib::base::FormatRfc3339(order.expires_at);
    json["paid_at"] = OptionalTime(order.paid_at);
    json["payment"] = order.status == "PENDING" ? PaymentInstructions(providers, order, now)
                                                : Json::Value(Json::nullValue);
    return json;
}

lib::http::Response BalanceHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const lib::http::Principal& principal = RequirePrincipal(request);
    const std::optional<billing::Balance> balance = wallet_.GetBalance(principal.user_id);
    if (!balance) throw ApiError(ErrorCode::kUnauthorized, "authentication required");
    Json::Value body(Json::objectValue);
    body["credits"] = Json::Int64{balance->credits};
    body["is_member"] = billing::IsMember(balance->member_expired_at, clock_.Now());
    body["member_expired_at"] = OptionalTime(balance->member_expired_at);
    body["cost_per_generation"] = Json::Int64{config_.cost_per_generation};
    return NoStore(lib::http::Response::Json(200, body));
}

lib::http::Response CreditPricesHandler::Handle(const lib::http::Request&, lib::http::StreamWriter&) const {
    Json::Value items(Json::arrayValue);
    for (const billing::CreditPackage& package : billing::ActivePackages(pool_)) {
        Json::Value item(Json::objectValue);
        item["id"] = Json::Int64{package.id};
        item["credits"] = Json::Int64{package.terms.credits};
        item["bonus_credits"] = Json::Int64{package.terms.bonus_credits};
        item["price_fen"] = Json::Int64{package.terms.amount_fen};
        items.append(std::move(item));
    }
    Json::Value body(Json::objectValue);
    body["items"] = std::move(items);
    return lib::http::Response::Json(200, body);
}

lib::http::Response MembershipPricesHandler::Handle(const lib::http::Request&, lib::http::StreamWriter&) const {
    Json::Value items(Json::arrayValue);
    for (const billing::MembershipPlan& plan : billing::ActivePlans(pool_)) {
        Json::Value item(Json::objectValue);
        item["id"] = Json::Int64{plan.id};
        item["plan"] = plan.plan;
        item["name"] = plan.name;
        item["months"] = plan.months;
        item["price_fen"] = Json::Int64{plan.price_fen};
        items.append(std::move(item));
    }
    Json::Value body(Json::objectValue);
    body["items"] = std::move(items);
    return lib::http::Response::Json(200, body);
}

lib::http::Response TransactionsHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const lib::http::Principal& principal = RequirePrincipal(request);
    std::optional<billing::LedgerType> type;
    if (const std::optional<std::string> name = request.QueryParam("type");
        name && !name->empty()) {
        type = billing::ParseLedgerType(*name);
        if (!type) {
            throw ApiError::Validation(
                "type", "must be one of RECHARGE, BONUS, CONSUME, REFUND, ADMIN_ADJUST");
        }
    }
    const lib::http::PageRequest page = lib::http::ParsePageRequest(request);
    const billing::LedgerPage entries =
        wallet_.ListTransactions(principal.user_id, type, page.limit(), page.offset());
    Json::Value items(Json::arrayValue);
    for (const billing::LedgerEntry& entry : entries.items) items.append(LedgerEntryToJson(entry));
    return NoStore(lib::http::Response::Json(200, lib::http::PageJson(std::move(items), entries.total, page)));
}

lib::http::Response RechargeHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const int64_t user_id = RequirePrincipal(request).user_id;
    const std::optional<std::string> key = billing::IdempotencyKeyOf(request);
    const lib::http::JsonFields fields(request.json);
    const bool by_package = fields.Has("price_id");
    const bool by_amount = fields.Has("amount_fen");
    if (by_package == by_amount) {
        throw ApiError::Validation("price_id", by_package
                                                   ? "give either price_id or amount_fen, not both"
                                                   : "price_id or amount_fen is required");
    }
    std::optional<int64_t> price_id;
    billing::RechargeTerms terms;
    if (by_package) {
        price_id = fields.RequiredInt("price_id", 1, kMaxPriceId);
        const std::optional<billing::CreditPackage> package =
            billing::FindActivePackage(pool_, *price_id);
        if (!package) throw ApiError::Validation("price_id", "no such credit package");
        terms = package->terms;
    } else {
        const int64_t amount_fen = fields.RequiredInt(
            "amount_fen", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
        if (const std::optional<std::string> problem = billing::CustomAmountError(amount_fen)) {
            throw ApiError::Validation("amount_fen", *problem);
        }
        terms = billing::CustomRecharge(amount_fen);
    }
    const std::string method = PaymentMethod(fields);

    const TimePoint now = clock_.Now();
    return CreateOrder(pool_, providers_, request, key, "POST /api/v1/credit/recharge", now,
                       billing::NewRechargeOrder(user_id, price_id, terms, method, now,
                                                std::chrono::seconds(config_.order_ttl_s)));
}

lib::http::Response MembershipHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const int64_t user_id = RequirePrincipal(request).user_id;
    const std::optional<std::string> key = billing::IdempotencyKeyOf(request);
    const lib::http::JsonFields fields(request.json);
    const std::optional<std::string> plan_name = fields.OptionalString("plan", 1, kMaxPlanChars);
    const std::optional<int64_t> price_id = fields.OptionalInt("price_id", 1, kMaxPriceId);
    if (!plan_name && !price_id) throw ApiError::Validation("plan", "plan or price_id is required");
    const std::optional<billing::MembershipPlan> plan =
        billing::FindActivePlan(pool_, price_id, plan_name);
    if (!plan) {
        if (plan_name && price_id) {
            throw ApiError::Validation("plan", "plan and price_id do not name one active plan");
        }
        throw ApiError::Validation(plan_name ? "plan" : "price_id", "no such membership plan");
    }
    const std::string method = PaymentMethod(fields);

    const TimePoint now = clock_.Now();
    return CreateOrder(pool_, providers_, request, key, "POST /api/v1/credit/membership", now,
                       billing::NewMembershipOrder(user_id, *plan, method, now,
                                                  std::chrono::seconds(config_.order_ttl_s)));
}

lib::http::Response OrderListHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const lib::http::Principal& principal = RequirePrincipal(request);
    const lib::http::PageRequest page = lib::http::ParsePageRequest(request);
    const billing::OrderPage found =
        billing::ListUserOrders(pool_, kind_, principal.user_id, page.limit(), page.offset());
    Json::Value items(Json::arrayValue);
    const TimePoint now = clock_.Now();
    for (const billing::Order& order : found.items) {
        items.append(OrderToJson(order, providers_, now));
    }
    return NoStore(lib::http::Response::Json(200, lib::http::PageJson(std::move(items), found.total, page)));
}

lib::http::Response OrderDetailHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const lib::http::Principal& principal = RequirePrincipal(request);
    const std::optional<billing::Order> order =
        billing::FindUserOrder(pool_, kind_, principal.user_id, request.PathParam("order_no"));
    if (!order) throw ApiError(ErrorCode::kNotFound, "order not found");
    return NoStore(lib::http::Response::Json(200, OrderToJson(*order, providers_, clock_.Now())));
}

}  // namespace inkstone::handlers
