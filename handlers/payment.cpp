#include "handlers/payment.h"

#include <optional>
#include <stdexcept>
#include <string>

#include "handlers/auth.h"
#include "handlers/credit_views.h"
#include "lib/base/errors.h"
#include "lib/http/json_body.h"

namespace inkstone::handlers {
namespace {

using lib::base::ApiError;
using lib::base::ErrorCode;
using lib::payments::NotifyOutcome;
using lib::payments::NotifyResult;

// Longer than any order_no, so a wrong one is a 404 (not found) rather than a 422.
constexpr size_t kMaxOrderNoChars = 64;

lib::http::Response AlipayReply(int status, const char* text) {
    return lib::http::Response::Text(status, "text/plain; charset=utf-8", text);
}

// One fixed message per class of failure: the reason (bad_signature, amount_mismatch, ...) would
// tell a forger which check stopped them, so it goes only to the log (`payment.security`).
constexpr char kWechatUnauthentic[] = "unauthenticated";
constexpr char kWechatRejected[] = "rejected";
constexpr char kWechatFailed[] = "internal error, retry later";

lib::http::Response WechatFailure(int status, const char* message) {
    Json::Value body(Json::objectValue);
    body["code"] = "FAIL";
    body["message"] = message;
    return lib::http::Response::Json(status, body);
}

}  // namespace

lib::http::Response AlipayNotifyHandler::Handle(const lib::http::Request& request,
                                                lib::http::StreamWriter&) const {
    const NotifyResult result = processor_.ProcessAlipay(request.body);
    if (result.Acknowledged()) return AlipayReply(200, "success");
    return AlipayReply(result.outcome == NotifyOutcome::kFailed ? 500 : 200, "fail");
}

lib::http::Response WechatNotifyHandler::Handle(const lib::http::Request& request,
                                                lib::http::StreamWriter&) const {
    const NotifyResult result = processor_.ProcessWechat(
        lib::payments::WechatSignedHeaders::From(request.headers), request.body);
    switch (result.outcome) {
        case NotifyOutcome::kSettled:
        case NotifyOutcome::kAlreadySettled:
        case NotifyOutcome::kIgnored:
            return lib::http::Response::NoContent();
        case NotifyOutcome::kUnauthentic:
            return WechatFailure(401, kWechatUnauthentic);
        case NotifyOutcome::kRejected:
            return WechatFailure(400, kWechatRejected);
        case NotifyOutcome::kFailed:
            break;
    }
    return WechatFailure(500, kWechatFailed);
}

lib::http::Response MockPayHandler::Handle(const lib::http::Request& request,
                                           lib::http::StreamWriter&) const {
    const lib::http::Principal& principal = RequirePrincipal(request);
    // The route exists only in mock mode; this guards a table that routes it anyway.
    if (providers_.live()) throw ApiError(ErrorCode::kNotFound, "not found");
    const lib::http::JsonFields fields(request.json);
    const std::string order_no = fields.RequiredString("order_no", 1, kMaxOrderNoChars);
    const lib::payments::MockPayment paid = processor_.PayMock(pool_, principal.user_id, order_no);
    Json::Value body = OrderToJson(paid.order, providers_, paid.at);
    body["settled_now"] = paid.settled_now;
    lib::http::Response response = lib::http::Response::Json(200, body);
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

}  // namespace inkstone::handlers
