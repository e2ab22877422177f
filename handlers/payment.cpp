#include "handlers/payment.h"

#include <optional>
#include <stdexcept>
#include <string>

#include "handlers/auth.h"
#include "handlers/credit.h"
#include "lib/base/errors.h"
#include "lib/http/json_body.h"
#include "lib/base/log.h"
#include "lib/billing/money.h"

namespace inkstone::handlers {
namespace {

using lib::base::ApiError;
using lib::base::ErrorCode;
using lib::payments::NotifyOutcome;
using lib::payments::NotifyResult;
namespace billing = lib::billing;
namespace payments = lib::payments;

// Longer than any order_no, so a wrong one is a 404 (not found) rather than a 422.
constexpr size_t kMaxOrderNoChars = 64;
// The orders.code_url column (sql/004_live_payments.sql).
constexpr size_t kMaxCodeUrlChars = 512;

lib::http::Response AlipayReply(int status, const char* text) {
    return lib::http::Response::Text(status, "text/plain; charset=utf-8", text);
}

lib::http::Response WechatFailure(int status, const std::string& message) {
    Json::Value body(Json::objectValue);
    body["code"] = "FAIL";
    body["message"] = message;
    return lib::http::Response::Json(status, body);
}

}  // namespace

Json::Value PaymentInstructions(const payments::Providers& providers, const billing::Order& order,
                                lib::base::TimePoint now) {
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
    payment["provider"] = order.payment_method;
    payment["mode"] = "live";
    if (order.payment_method == "alipay") {
        lib::payments::AlipayPagePayOrder page;
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

void RegisterWithProvider(const payments::Providers& providers, billing::Order& order,
                          lib::base::TimePoint now) {
    if (!providers.live() || order.payment_method != "wechat") return;
    lib::payments::WechatNativeOrder native;
    native.out_trade_no = order.order_no;
    native.description = payments::PaymentSubject(order);
    native.total_fen = order.amount_fen;
    // WeChat Pay then refuses payment once the order has expired here, so a payment after expiry
    // (which Settle would still honour) becomes rare.
    native.time_expire = order.expires_at;
    const lib::base::Result<std::string, lib::payments::WechatApiError> code_url =
        providers.wechat().CreateNativeOrder(native, now);
    std::string problem;
    if (!code_url.ok()) {
        problem = std::string(lib::payments::WechatApiErrorName(code_url.error())) + ": " + code_url.detail();
    } else if (code_url.value().size() > kMaxCodeUrlChars) {
        problem = "code_url longer than " + std::to_string(kMaxCodeUrlChars) + " characters";
    }
    if (!problem.empty()) {
        Json::Value fields(Json::objectValue);
        fields["provider"] = "wechat";
        fields["order_no"] = order.order_no;
        fields["error"] = problem;
        lib::base::Log(lib::base::LogLevel::kWarn, "payment.order_upstream_failed", fields);
        throw ApiError(ErrorCode::kUpstreamError,
                       "WeChat Pay did not accept the order; nothing was created, try again");
    }
    order.code_url = code_url.value();
}

lib::http::Response AlipayNotifyHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const NotifyResult result = processor_.ProcessAlipay(request.body);
    if (result.Acknowledged()) return AlipayReply(200, "success");
    return AlipayReply(result.outcome == NotifyOutcome::kFailed ? 500 : 200, "fail");
}

lib::http::Response WechatNotifyHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const NotifyResult result =
        processor_.ProcessWechat(lib::payments::WechatSignedHeaders::From(request.headers), request.body);
    switch (result.outcome) {
        case NotifyOutcome::kSettled:
        case NotifyOutcome::kAlreadySettled:
        case NotifyOutcome::kIgnored:
            return lib::http::Response::NoContent();
        case NotifyOutcome::kUnauthentic:
            return WechatFailure(401, "signature verification failed: " + result.reason);
        case NotifyOutcome::kRejected:
            return WechatFailure(400, "notify rejected: " + result.reason);
        case NotifyOutcome::kFailed:
            break;
    }
    return WechatFailure(500, "internal error, retry later");
}

lib::http::Response MockPayHandler::Handle(const lib::http::Request& request, lib::http::StreamWriter&) const {
    const lib::http::Principal& principal = RequirePrincipal(request);
    // The route exists only in mock mode; this guards a table that routes it anyway.
    if (providers_.live()) throw ApiError(ErrorCode::kNotFound, "not found");
    const lib::http::JsonFields fields(request.json);
    const std::string order_no = fields.RequiredString("order_no", 1, kMaxOrderNoChars);
    const std::optional<billing::OrderKind> kind = billing::OrderKindOf(order_no);
    const ApiError not_found(ErrorCode::kNotFound, "order not found");
    if (!kind) throw not_found;
    // Ownership first: another user's order is indistinguishable from a missing one.
    const std::optional<billing::Order> order =
        billing::FindUserOrder(pool_, *kind, principal.user_id, order_no);
    if (!order) throw not_found;

    const lib::base::TimePoint now = clock_.Now();
    NotifyResult result;
    if (order->payment_method == "wechat") {
        const lib::payments::WechatSignedMessage notify =
            payments::BuildMockWechatNotify(providers_, *order, now);
        result = processor_.ProcessWechat(notify.headers, notify.body);
    } else {
        result = processor_.ProcessAlipay(payments::BuildMockAlipayNotify(providers_, *order, now));
    }
    if (result.outcome == NotifyOutcome::kFailed) {
        throw ApiError(ErrorCode::kUnavailable,
                       "the service is temporarily unavailable, try again");
    }
    if (result.outcome != NotifyOutcome::kSettled &&
        result.outcome != NotifyOutcome::kAlreadySettled) {
        // The notify was built from the order itself with the worker's own key.
        throw std::logic_error("mock notify not settled: " + result.reason);
    }
    const std::optional<billing::Order> paid =
        billing::FindUserOrder(pool_, *kind, principal.user_id, order_no);
    if (!paid) throw std::logic_error("settled order disappeared");
    Json::Value body = OrderToJson(*paid, providers_, now);
    body["settled_now"] = result.outcome == NotifyOutcome::kSettled;
    lib::http::Response response = lib::http::Response::Json(200, body);
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

}  // namespace inkstone::handlers
