#include "handlers/credit_views.h"

#include <optional>
#include <string>
#include <utility>

#include "lib/billing/money.h"

namespace inkstone::handlers {
namespace {

namespace billing = lib::billing;
namespace payments = lib::payments;
using lib::base::TimePoint;

Json::Value OptionalTime(const std::optional<TimePoint>& t) {
    return t ? Json::Value(lib::base::FormatRfc3339(*t)) : Json::Value(Json::nullValue);
}

Json::Value OptionalId(const std::optional<int64_t>& id) {
    return id ? Json::Value(Json::Int64{*id}) : Json::Value(Json::nullValue);
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
    json["payment_method"] = std::string(billing::ToSql(order.payment_method));
    json["status"] = std::string(billing::ToSql(order.status));
    json["created_at"] = lib::base::FormatRfc3339(order.created_at);
    json["expires_at"] = lib::base::FormatRfc3339(order.expires_at);
    json["paid_at"] = OptionalTime(order.paid_at);
    json["payment"] = order.status == billing::OrderStatus::kPending
                          ? PaymentInstructions(providers, order, now)
                          : Json::Value(Json::nullValue);
    return json;
}

Json::Value PaymentInstructions(const payments::Providers& providers, const billing::Order& order,
                                TimePoint now) {
    Json::Value payment(Json::objectValue);
    payment["order_no"] = order.order_no;
    payment["amount_fen"] = Json::Int64{order.amount_fen};
    payment["amount"] = billing::FormatFen(order.amount_fen);
    if (!providers.live()) {
        payment["provider"] = "mock";
        payment["mode"] = "mock";
        payment["method"] = "POST";
        payment["pay_url"] = kMockPayPath;
        return payment;
    }
    payment["provider"] = std::string(billing::ToSql(billing::ProviderOf(order.payment_method)));
    payment["mode"] = "live";
    if (order.payment_method == billing::PaymentMethod::kAlipay) {
        payments::AlipayPagePayOrder page;
        page.out_trade_no = order.order_no;
        page.total_fen = order.amount_fen;
        page.subject = payments::PaymentSubject(order);
        page.time_expire = order.expires_at;
        payment["method"] = "GET";
        payment["pay_url"] = providers.alipay().PagePayUrl(page, now);
    } else {
        payment["code_url"] = order.code_url ? Json::Value(*order.code_url) : Json::Value();
    }
    return payment;
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

Json::Value BalanceToJson(const billing::Balance& balance, TimePoint now,
                          int64_t cost_per_generation) {
    Json::Value body(Json::objectValue);
    body["credits"] = Json::Int64{balance.credits};
    body["is_member"] = billing::IsMember(balance.member_expired_at, now);
    body["member_expired_at"] = OptionalTime(balance.member_expired_at);
    body["cost_per_generation"] = Json::Int64{cost_per_generation};
    return body;
}

Json::Value PackagesToJson(const std::vector<billing::CreditPackage>& packages) {
    Json::Value items(Json::arrayValue);
    for (const billing::CreditPackage& package : packages) {
        Json::Value item(Json::objectValue);
        item["id"] = Json::Int64{package.id};
        item["credits"] = Json::Int64{package.terms.credits};
        item["bonus_credits"] = Json::Int64{package.terms.bonus_credits};
        item["price_fen"] = Json::Int64{package.terms.amount_fen};
        items.append(std::move(item));
    }
    Json::Value body(Json::objectValue);
    body["items"] = std::move(items);
    return body;
}

Json::Value PlansToJson(const std::vector<billing::MembershipPlan>& plans) {
    Json::Value items(Json::arrayValue);
    for (const billing::MembershipPlan& plan : plans) {
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
    return body;
}

}  // namespace inkstone::handlers
