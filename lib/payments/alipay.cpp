#include "lib/payments/alipay.h"

#include <cgicc/CgiUtils.h>
#include <json/value.h>

#include <initializer_list>
#include <stdexcept>
#include <utility>

#include "lib/base/errors.h"
#include "lib/base/utf8.h"
#include "lib/http/json_body.h"
#include "lib/http/message.h"
#include "lib/net/http_client.h"

namespace inkstone::lib::payments {
namespace {

constexpr int64_t kMinFen = 1;
constexpr int64_t kMaxFen = 100000000LL * 100;  // Alipay's ceiling: 100,000,000.00 yuan
constexpr char kQueryResponseName[] = "alipay_trade_query_response";
constexpr char kErrorResponseName[] = "error_response";
constexpr char kRefundResponseName[] = "alipay_trade_refund_response";
constexpr size_t kMaxRefundReasonChars = 256;

void RequireOutTradeNo(std::string_view out_trade_no) {
    if (out_trade_no.empty() || out_trade_no.size() > 64) {
        throw std::invalid_argument("out_trade_no must be 1..64 characters");
    }
    for (const char c : out_trade_no) {
        const bool ok =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!ok) throw std::invalid_argument("out_trade_no may hold only [A-Za-z0-9_]");
    }
}

std::string SigningString(const AlipayParams& params,
                          std::initializer_list<std::string_view> excluded) {
    std::string out;
    for (const auto& [name, value] : params) {
        if (value.empty()) continue;
        bool skip = false;
        for (const std::string_view name_out : excluded) skip = skip || name == name_out;
        if (skip) continue;
        if (!out.empty()) out += '&';
        out += name;
        out += '=';
        out += value;
    }
    return out;
}

/// The common parameters of every request, without `sign`.
AlipayParams CommonParams(const AlipayApp& app, std::string method, base::TimePoint now) {
    if (app.app_id.empty()) throw std::invalid_argument("Alipay app_id is not set");
    return {
        {"app_id", app.app_id}, {"method", std::move(method)}, {"format", "JSON"},
        {"charset", "utf-8"},   {"sign_type", "RSA2"},         {"timestamp", AlipayTimestamp(now)},
        {"version", "1.0"},
    };
}

std::string WithQuery(const std::string& base, const std::string& query) {
    return base + (base.find('?') == std::string::npos ? '?' : '&') + query;
}

// --- a minimal scanner over JSON already known to be valid, to find raw member text ---

size_t SkipSpace(std::string_view json, size_t pos) {
    while (pos < json.size() &&
           (json[pos] == ' ' || json[pos] == '\t' || json[pos] == '\n' || json[pos] == '\r')) {
        ++pos;
    }
    return pos;
}

/// `pos` at an opening quote; returns the position after the closing quote, or npos.
size_t SkipString(std::string_view json, size_t pos) {
    for (++pos; pos < json.size(); ++pos) {
        if (json[pos] == '\\') {
            ++pos;
        } else if (json[pos] == '"') {
            return pos + 1;
        }
    }
    return std::string_view::npos;
}

/// `pos` at the first byte of a value; returns the position after it, or npos.
size_t SkipValue(std::string_view json, size_t pos) {
    if (pos >= json.size()) return std::string_view::npos;
    if (json[pos] == '"') return SkipString(json, pos);
    if (json[pos] != '{' && json[pos] != '[') {
        while (pos < json.size() &&
               std::string_view(",}] \t\r\n").find(json[pos]) == std::string_view::npos) {
            ++pos;
        }
        return pos;
    }
    int depth = 0;
    while (pos < json.size()) {
        const char c = json[pos];
        if (c == '"') {
            pos = SkipString(json, pos);
            if (pos == std::string_view::npos) return pos;
            continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') {
            if (--depth == 0) return pos + 1;
        }
        ++pos;
    }
    return std::string_view::npos;
}

std::string StringMember(const Json::Value& object, const char* name) {
    const Json::Value& value = object[name];
    return value.isString() ? value.asString() : std::string();
}

/// `code=... msg=... sub_code=... sub_msg=...` of an error answer, for logs.
std::string GatewayErrorText(const Json::Value& response) {
    std::string text;
    for (const char* name : {"code", "msg", "sub_code", "sub_msg"}) {
        const std::string value = StringMember(response, name);
        if (value.empty()) continue;
        if (!text.empty()) text += ' ';
        text += std::string(name) + "=" + value;
    }
    return text.empty() ? "no code" : text;
}

}  // namespace

std::string FormatAlipayAmount(int64_t fen) {
    if (fen < kMinFen || fen > kMaxFen) {
        throw std::invalid_argument("Alipay amounts are 0.01 to 100000000.00 yuan");
    }
    std::string cents = std::to_string(fen % 100);
    if (cents.size() < 2) cents.insert(0, "0");
    return std::to_string(fen / 100) + "." + cents;
}

std::optional<int64_t> ParseAlipayAmount(std::string_view text) {
    const size_t dot = text.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot > 12 || text.size() != dot + 3) {
        return std::nullopt;
    }
    if (dot > 1 && text[0] == '0') return std::nullopt;  // "01.00"
    int64_t fen = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (i == dot) continue;
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
        fen = fen * 10 + (text[i] - '0');  // at most 14 digits: no overflow
    }
    return fen;
}

std::optional<AlipayParams> ParseFormBody(std::string_view body) {
    AlipayParams params;
    size_t pos = 0;
    while (pos <= body.size()) {
        size_t end = body.find('&', pos);
        if (end == std::string_view::npos) end = body.size();
        const std::string_view segment = body.substr(pos, end - pos);
        pos = end + 1;
        if (segment.empty()) continue;
        const size_t eq = segment.find('=');
        const std::string name = cgicc::form_urldecode(std::string(segment.substr(0, eq)));
        const std::string value = eq == std::string_view::npos
                                      ? std::string()
                                      : cgicc::form_urldecode(std::string(segment.substr(eq + 1)));
        if (name.empty()) return std::nullopt;
        if (!params.emplace(name, value).second) return std::nullopt;
    }
    return params;
}

std::string EncodeFormBody(const AlipayParams& params) {
    std::string out;
    for (const auto& [name, value] : params) {
        if (!out.empty()) out += '&';
        out += cgicc::form_urlencode(name);
        out += '=';
        out += cgicc::form_urlencode(value);
    }
    return out;
}

std::string AlipayRequestSigningString(const AlipayParams& params) {
    return SigningString(params, {"sign"});
}

std::string AlipayNotifySigningString(const AlipayParams& params) {
    return SigningString(params, {"sign", "sign_type"});
}

std::string AlipayTimestamp(base::TimePoint now) {
    // China has kept UTC+8 without daylight saving since 1991: a fixed offset needs no tzdata.
    return base::FormatSqlDateTimeSeconds(now + std::chrono::hours(8));
}

std::optional<base::TimePoint> ParseAlipayTimestamp(std::string_view text) {
    if (text.size() != 19) return std::nullopt;
    const std::optional<base::TimePoint> beijing = base::ParseSqlDateTime(text);
    if (!beijing) return std::nullopt;
    return *beijing - std::chrono::hours(8);
}

std::string BuildAlipayPagePayUrl(const AlipayApp& app, const PrivateKey& app_key,
                                  const AlipayPagePayOrder& order, base::TimePoint now) {
    RequireOutTradeNo(order.out_trade_no);
    if (order.subject.empty() || !base::IsValidUtf8(order.subject) ||
        base::Utf8Length(order.subject) > 256) {
        throw std::invalid_argument("subject must be 1..256 characters of UTF-8");
    }
    if (app.notify_url.empty()) throw std::invalid_argument("Alipay notify_url is not set");
    Json::Value biz(Json::objectValue);
    biz["out_trade_no"] = order.out_trade_no;
    biz["product_code"] = "FAST_INSTANT_TRADE_PAY";
    biz["total_amount"] = FormatAlipayAmount(order.total_fen);
    biz["subject"] = order.subject;
    if (order.time_expire) biz["time_expire"] = AlipayTimestamp(*order.time_expire);

    AlipayParams params = CommonParams(app, "alipay.trade.page.pay", now);
    params["notify_url"] = app.notify_url;
    if (!app.return_url.empty()) params["return_url"] = app.return_url;
    params["biz_content"] = base::ToJson(biz);
    params["sign"] = app_key.SignSha256(AlipayRequestSigningString(params));
    return WithQuery(app.gateway, EncodeFormBody(params));
}

bool AlipayNotice::IsPaid() const {
    return trade_status == "TRADE_SUCCESS" || trade_status == "TRADE_FINISHED";
}

std::string_view AlipayNotifyErrorName(AlipayNotifyError error) {
    switch (error) {
        case AlipayNotifyError::kMalformedBody:
            return "malformed_body";
        case AlipayNotifyError::kUnsupportedSignType:
            return "unsupported_sign_type";
        case AlipayNotifyError::kBadSignature:
            return "bad_signature";
        case AlipayNotifyError::kMissingField:
            return "missing_field";
        case AlipayNotifyError::kMalformedAmount:
            return "malformed_amount";
    }
    return "unknown";
}

base::Result<AlipayNotice, AlipayNotifyError> VerifyAlipayNotify(std::string_view form_body,
                                                                 const PublicKey& alipay_key) {
    const std::optional<AlipayParams> params = ParseFormBody(form_body);
    if (!params) {
        return base::Fail(AlipayNotifyError::kMalformedBody, "not a form, or a repeated parameter");
    }
    const auto find = [&](const char* name) -> std::string {
        const auto it = params->find(name);
        return it == params->end() ? std::string() : it->second;
    };
    const std::string sign_type = find("sign_type");
    if (sign_type != "RSA2") {
        return base::Fail(AlipayNotifyError::kUnsupportedSignType,
                          sign_type.empty() ? "no sign_type" : "sign_type is not RSA2");
    }
    const std::string sign = find("sign");
    if (sign.empty()) return base::Fail(AlipayNotifyError::kBadSignature, "no sign");
    if (!alipay_key.VerifySha256(AlipayNotifySigningString(*params), sign)) {
        return base::Fail(AlipayNotifyError::kBadSignature,
                          "sign does not verify with Alipay's key");
    }

    AlipayNotice notice;
    notice.notify_id = find("notify_id");
    notice.app_id = find("app_id");
    notice.seller_id = find("seller_id");
    notice.out_trade_no = find("out_trade_no");
    notice.trade_no = find("trade_no");
    notice.trade_status = find("trade_status");
    notice.gmt_payment = find("gmt_payment");
    const std::string amount = find("total_amount");
    for (const auto& [name, value] :
         {std::pair<const char*, const std::string*>{"app_id", &notice.app_id},
          {"out_trade_no", &notice.out_trade_no},
          {"trade_no", &notice.trade_no},
          {"trade_status", &notice.trade_status},
          {"total_amount", &amount}}) {
        if (value->empty()) {
            return base::Fail(AlipayNotifyError::kMissingField, std::string("no ") + name);
        }
    }
    const std::optional<int64_t> fen = ParseAlipayAmount(amount);
    if (!fen) {
        return base::Fail(AlipayNotifyError::kMalformedAmount,
                          "total_amount is not yuan with two decimals");
    }
    notice.total_amount_fen = *fen;
    return notice;
}

std::string SignAlipayNotify(AlipayParams params, const PrivateKey& alipay_key) {
    params.erase("sign");
    params["sign_type"] = "RSA2";
    params["sign"] = alipay_key.SignSha256(AlipayNotifySigningString(params));
    return EncodeFormBody(params);
}

AlipayGatewayRequest BuildAlipayTradeQuery(const AlipayApp& app, const PrivateKey& app_key,
                                           std::string_view out_trade_no, base::TimePoint now) {
    RequireOutTradeNo(out_trade_no);
    Json::Value biz(Json::objectValue);
    biz["out_trade_no"] = std::string(out_trade_no);

    AlipayParams common = CommonParams(app, "alipay.trade.query", now);
    const AlipayParams body = {{"biz_content", base::ToJson(biz)}};
    // The signature covers every parameter wherever it travels; like Alipay's SDKs, the common
    // parameters go in the URL and the business content in the form body.
    AlipayParams all = common;
    all.insert(body.begin(), body.end());
    common["sign"] = app_key.SignSha256(AlipayRequestSigningString(all));
    return AlipayGatewayRequest{WithQuery(app.gateway, EncodeFormBody(common)),
                                EncodeFormBody(body)};
}

bool AlipayTrade::IsPaid() const {
    return exists && (trade_status == "TRADE_SUCCESS" || trade_status == "TRADE_FINISHED");
}

std::string_view AlipayQueryErrorName(AlipayQueryError error) {
    switch (error) {
        case AlipayQueryError::kTransport:
            return "transport";
        case AlipayQueryError::kHttpStatus:
            return "http_status";
        case AlipayQueryError::kMalformedResponse:
            return "malformed_response";
        case AlipayQueryError::kMissingSignature:
            return "missing_signature";
        case AlipayQueryError::kBadSignature:
            return "bad_signature";
        case AlipayQueryError::kGatewayError:
            return "gateway_error";
        case AlipayQueryError::kMalformedAmount:
            return "malformed_amount";
    }
    return "unknown";
}

std::optional<std::string_view> RawJsonMember(std::string_view json, std::string_view name) {
    size_t pos = SkipSpace(json, 0);
    if (pos >= json.size() || json[pos] != '{') return std::nullopt;
    pos = SkipSpace(json, pos + 1);
    while (pos < json.size() && json[pos] == '"') {
        const size_t key_end = SkipString(json, pos);
        if (key_end == std::string_view::npos) return std::nullopt;
        const std::string_view key = json.substr(pos + 1, key_end - pos - 2);
        pos = SkipSpace(json, key_end);
        if (pos >= json.size() || json[pos] != ':') return std::nullopt;
        const size_t value_begin = SkipSpace(json, pos + 1);
        const size_t value_end = SkipValue(json, value_begin);
        if (value_end == std::string_view::npos) return std::nullopt;
        if (key == name) return json.substr(value_begin, value_end - value_begin);
        pos = SkipSpace(json, value_end);
        if (pos >= json.size() || json[pos] != ',') return std::nullopt;
        pos = SkipSpace(json, pos + 1);
    }
    return std::nullopt;
}

std::string SignAlipayResponse(std::string_view response_name, std::string_view response_json,
                               const PrivateKey& alipay_key) {
    const std::string sign = alipay_key.SignSha256(response_json);
    return "{\"" + std::string(response_name) + "\":" + std::string(response_json) +
           ",\"sign\":\"" + sign + "\"}";
}

namespace {

/// A gateway answer whose signature verified: `response` is the object named `name` (or the
/// gateway's `error_response`, then `is_error`), exactly the text Alipay signed.
struct SignedAnswer {
    Json::Value response;
    bool is_error = false;
};

base::Result<SignedAnswer, AlipayQueryError> VerifySignedAnswer(std::string_view body,
                                                                const PublicKey& alipay_key,
                                                                const char* response_name) {
    Json::Value root;
    try {
        root = http::ParseJsonObject(body);
    } catch (const base::ApiError&) {
        return base::Fail(AlipayQueryError::kMalformedResponse, "the answer is not a JSON object");
    }
    SignedAnswer answer;
    answer.is_error = !root.isMember(response_name);
    const char* name = answer.is_error ? kErrorResponseName : response_name;
    if (!root[name].isObject()) {
        return base::Fail(AlipayQueryError::kMalformedResponse,
                          std::string("no ") + response_name + " object");
    }
    answer.response = root[name];
    if (!root["sign"].isString() || root["sign"].asString().empty()) {
        return base::Fail(AlipayQueryError::kMissingSignature,
                          "unsigned answer (" + GatewayErrorText(answer.response) + ")");
    }
    const std::optional<std::string_view> signed_text = RawJsonMember(body, name);
    if (!signed_text || !alipay_key.VerifySha256(*signed_text, root["sign"].asString())) {
        return base::Fail(AlipayQueryError::kBadSignature,
                          "sign does not verify with Alipay's key");
    }
    return answer;
}

}  // namespace

base::Result<AlipayTrade, AlipayQueryError> ParseAlipayTradeQueryResponse(
    std::string_view body, const PublicKey& alipay_key) {
    base::Result<SignedAnswer, AlipayQueryError> verified =
        VerifySignedAnswer(body, alipay_key, kQueryResponseName);
    if (!verified.ok()) return base::Fail(verified.error(), verified.detail());
    const bool is_error = verified.value().is_error;
    const Json::Value& response = verified.value().response;

    const std::string code = StringMember(response, "code");
    if (!is_error && code == "40004" &&
        StringMember(response, "sub_code") == "ACQ.TRADE_NOT_EXIST") {
        return AlipayTrade{};
    }
    if (is_error || code != "10000") {
        return base::Fail(AlipayQueryError::kGatewayError, GatewayErrorText(response));
    }
    AlipayTrade trade;
    trade.exists = true;
    trade.out_trade_no = StringMember(response, "out_trade_no");
    trade.trade_no = StringMember(response, "trade_no");
    trade.trade_status = StringMember(response, "trade_status");
    const std::string amount = StringMember(response, "total_amount");
    if (trade.out_trade_no.empty() || trade.trade_no.empty() || trade.trade_status.empty() ||
        amount.empty()) {
        return base::Fail(AlipayQueryError::kMalformedResponse,
                          "out_trade_no, trade_no, trade_status or total_amount missing");
    }
    const std::optional<int64_t> fen = ParseAlipayAmount(amount);
    if (!fen) {
        return base::Fail(AlipayQueryError::kMalformedAmount,
                          "total_amount is not yuan with two decimals");
    }
    trade.total_amount_fen = *fen;
    return trade;
}

AlipayGatewayRequest BuildAlipayTradeRefund(const AlipayApp& app, const PrivateKey& app_key,
                                            const AlipayRefundRequest& refund,
                                            base::TimePoint now) {
    RequireOutTradeNo(refund.out_trade_no);
    RequireOutTradeNo(refund.out_request_no);
    if (refund.refund_fen < 1) throw std::invalid_argument("refund_amount must be >= 1 fen");
    Json::Value biz(Json::objectValue);
    biz["out_trade_no"] = refund.out_trade_no;
    biz["refund_amount"] = FormatAlipayAmount(refund.refund_fen);
    biz["out_request_no"] = refund.out_request_no;
    if (!refund.reason.empty()) {
        biz["refund_reason"] = base::Utf8Prefix(refund.reason, kMaxRefundReasonChars);
    }
    AlipayParams common = CommonParams(app, "alipay.trade.refund", now);
    const AlipayParams body = {{"biz_content", base::ToJson(biz)}};
    AlipayParams all = common;
    all.insert(body.begin(), body.end());
    common["sign"] = app_key.SignSha256(AlipayRequestSigningString(all));
    return AlipayGatewayRequest{WithQuery(app.gateway, EncodeFormBody(common)),
                                EncodeFormBody(body)};
}

base::Result<AlipayRefundReply, AlipayQueryError> ParseAlipayTradeRefundResponse(
    std::string_view body, const PublicKey& alipay_key) {
    base::Result<SignedAnswer, AlipayQueryError> verified =
        VerifySignedAnswer(body, alipay_key, kRefundResponseName);
    if (!verified.ok()) return base::Fail(verified.error(), verified.detail());
    const bool is_error = verified.value().is_error;
    const Json::Value& response = verified.value().response;
    const std::string code = StringMember(response, "code");
    AlipayRefundReply reply;
    reply.trade_no = StringMember(response, "trade_no");
    if (!is_error && code == "40004") {
        reply.sub_code = StringMember(response, "sub_code");
        reply.sub_msg = StringMember(response, "sub_msg");
        return reply;
    }
    if (is_error || code != "10000") {
        return base::Fail(AlipayQueryError::kGatewayError, GatewayErrorText(response));
    }
    reply.accepted = true;
    reply.fund_change = StringMember(response, "fund_change");
    const std::optional<int64_t> fen = ParseAlipayAmount(StringMember(response, "refund_fee"));
    if (!fen) {
        return base::Fail(AlipayQueryError::kMalformedAmount,
                          "refund_fee is not yuan with two decimals");
    }
    reply.refund_fee_fen = *fen;
    return reply;
}

bool IsTransientAlipayRefusal(std::string_view sub_code) {
    return sub_code == "ACQ.SYSTEM_ERROR" || sub_code == "ACQ.SELLER_BALANCE_NOT_ENOUGH" ||
           sub_code == "ACQ.REFUND_CHARGE_ERROR" ||
           sub_code == "ACQ.CURRENT_TRADE_REFUND_PROCESSING";
}

AlipayClient::AlipayClient(AlipayApp app, PrivateKey app_key, PublicKey alipay_key,
                           std::chrono::milliseconds timeout)
    : app_(std::move(app)),
      app_key_(std::move(app_key)),
      alipay_key_(std::move(alipay_key)),
      timeout_(timeout) {}

std::string AlipayClient::PagePayUrl(const AlipayPagePayOrder& order, base::TimePoint now) const {
    return BuildAlipayPagePayUrl(app_, app_key_, order, now);
}

base::Result<AlipayNotice, AlipayNotifyError> AlipayClient::VerifyNotify(
    std::string_view form_body) const {
    return VerifyAlipayNotify(form_body, alipay_key_);
}

base::Result<std::string, AlipayQueryError> AlipayClient::Send(
    const AlipayGatewayRequest& call) const {
    net::OutboundRequest request;
    request.method = "POST";
    request.url = call.url;
    request.body = call.form_body;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded;charset=utf-8"},
                       {"Accept", "application/json"}};
    request.timeout = timeout_;
    const base::Result<net::OutboundResponse, net::OutboundError> sent = net::SendOutbound(request);
    if (!sent.ok()) return base::Fail(AlipayQueryError::kTransport, sent.detail());
    if (sent.value().status != 200) {
        return base::Fail(AlipayQueryError::kHttpStatus,
                          "HTTP " + std::to_string(sent.value().status) + " from the gateway");
    }
    return sent.value().body;
}

base::Result<AlipayTrade, AlipayQueryError> AlipayClient::QueryTrade(std::string_view out_trade_no,
                                                                     base::TimePoint now) const {
    const base::Result<std::string, AlipayQueryError> body =
        Send(BuildAlipayTradeQuery(app_, app_key_, out_trade_no, now));
    if (!body.ok()) return base::Fail(body.error(), body.detail());
    base::Result<AlipayTrade, AlipayQueryError> trade =
        ParseAlipayTradeQueryResponse(body.value(), alipay_key_);
    if (trade.ok() && trade.value().exists && trade.value().out_trade_no != out_trade_no) {
        return base::Fail(AlipayQueryError::kMalformedResponse,
                          "the answer is about another out_trade_no");
    }
    return trade;
}

base::Result<AlipayRefundReply, AlipayQueryError> AlipayClient::Refund(
    const AlipayRefundRequest& refund, base::TimePoint now) const {
    const base::Result<std::string, AlipayQueryError> body =
        Send(BuildAlipayTradeRefund(app_, app_key_, refund, now));
    if (!body.ok()) return base::Fail(body.error(), body.detail());
    return ParseAlipayTradeRefundResponse(body.value(), alipay_key_);
}

}  // namespace inkstone::lib::payments
