#include "handlers/payment.h"

#include <optional>
#include <stdexcept>
#include <string>

#include "handlers/auth.h"
#include "handlers/credit.h"
#include "lib/errors.h"
#include "lib/json_body.h"
#include "lib/money.h"

namespace inkstone::handlers {
namespace {

using lib::ApiError;
using lib::ErrorCode;
namespace money = lib::money;
namespace orders = lib::orders;
namespace wallet = lib::wallet;

// Longer than any order_no, so a wrong one is a 404 (not found) rather than a 422.
constexpr size_t kMaxOrderNoChars = 64;

}  // namespace

Json::Value PaymentInstructions(const lib::PaymentConfig& config, const orders::Order& order) {
    Json::Value payment(Json::objectValue);
    payment["order_no"] = order.order_no;
    payment["amount_fen"] = Json::Int64{order.amount_fen};
    payment["amount"] = money::FormatFen(order.amount_fen);
    if (config.mode == "mock") {
        payment["provider"] = "mock";
        payment["mode"] = "mock";
        payment["method"] = "POST";
        payment["pay_url"] = kMockPayPath;
        return payment;
    }
    // Live: issue 6 puts the signed alipay.trade.page.pay URL / WeChat Native code_url here.
    payment["provider"] = order.payment_method;
    payment["mode"] = "live";
    return payment;
}

std::string MockTradeNo(const std::string& order_no) { return "MOCK-" + order_no; }

lib::Response MockPayHandler::Handle(const lib::Request& request, lib::StreamWriter&) const {
    const lib::Principal& principal = RequirePrincipal(request);
    // The route exists only in mock mode; this guards a table that routes it anyway.
    if (config_.mode != "mock") throw ApiError(ErrorCode::kNotFound, "not found");
    const lib::JsonFields fields(request.json);
    const std::string order_no = fields.RequiredString("order_no", 1, kMaxOrderNoChars);
    const std::optional<money::OrderKind> kind = money::OrderKindOf(order_no);
    const ApiError not_found(ErrorCode::kNotFound, "order not found");
    if (!kind) throw not_found;
    // Ownership first: another user's order is indistinguishable from a missing one.
    const std::optional<orders::Order> order =
        orders::FindUserOrder(pool_, *kind, principal.user_id, order_no);
    if (!order) throw not_found;

    wallet::SettlementNotice notice;
    notice.order_no = order_no;
    notice.provider = "mock";
    notice.provider_trade_no = MockTradeNo(order_no);
    notice.amount_fen = order->amount_fen;
    notice.paid_at = clock_.Now();
    const wallet::SettleOutcome outcome = wallet_.Settle(notice);
    if (outcome != wallet::SettleOutcome::kSettled &&
        outcome != wallet::SettleOutcome::kAlreadySettled) {
        // The notice was built from the order itself, so nothing else can happen.
        throw std::logic_error("mock settlement: " +
                               std::string(wallet::SettleOutcomeName(outcome)));
    }
    const std::optional<orders::Order> paid =
        orders::FindUserOrder(pool_, *kind, principal.user_id, order_no);
    if (!paid) throw std::logic_error("settled order disappeared");
    Json::Value body = OrderToJson(*paid, config_);
    body["settled_now"] = outcome == wallet::SettleOutcome::kSettled;
    lib::Response response = lib::Response::Json(200, body);
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

}  // namespace inkstone::handlers
