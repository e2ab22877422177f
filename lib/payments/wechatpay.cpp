#include "lib/payments/wechatpay.h"

#include <json/value.h>

#include <iterator>
#include <limits>
#include <stdexcept>
#include <utility>

#include "lib/base/errors.h"
#include "lib/base/utf8.h"
#include "lib/http/json_body.h"
#include "lib/http/message.h"
#include "lib/net/http_client.h"

namespace inkstone::lib::payments {
namespace {

constexpr char kScheme[] = "WECHATPAY2-SHA256-RSA2048";
constexpr char kAlgorithm[] = "AEAD_AES_256_GCM";

int64_t UnixSeconds(base::TimePoint t) {
    return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string PercentEncode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                                c == '~';
        if (unreserved) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[byte >> 4]);
            out.push_back(kHex[byte & 0xF]);
        }
    }
    return out;
}

void RequireOutTradeNo(std::string_view out_trade_no) {
    if (out_trade_no.size() < 6 || out_trade_no.size() > 32) {
        throw std::invalid_argument("out_trade_no must be 6..32 characters");
    }
    for (const char c : out_trade_no) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                        (c >= 'A' && c <= 'Z') || c == '_' || c == '-' || c == '|' || c == '*';
        if (!ok) throw std::invalid_argument("out_trade_no may hold only [0-9A-Za-z_-|*]");
    }
}

/// Strict Unix seconds: 1..12 digits.
std::optional<int64_t> ParseUnixSeconds(std::string_view text) {
    if (text.empty() || text.size() > 12) return std::nullopt;
    int64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + (c - '0');
    }
    return value;
}

std::string StringMember(const Json::Value& object, const char* name) {
    const Json::Value& value = object[name];
    return value.isString() ? value.asString() : std::string();
}

bool IsJsonInteger(const Json::Value& value) {
    return value.type() == Json::intValue || value.type() == Json::uintValue;
}

/// `HTTP 404 ORDER_NOT_EXIST: message` from an error answer, for logs.
std::string ApiErrorText(long status, std::string_view body) {
    std::string text = "HTTP " + std::to_string(status);
    try {
        const Json::Value error = http::ParseJsonObject(body);
        const std::string code = StringMember(error, "code");
        const std::string message = StringMember(error, "message");
        if (!code.empty()) text += " " + code;
        if (!message.empty()) text += ": " + message;
    } catch (const base::ApiError&) {
        // A body that is not JSON (a proxy's HTML page): the status says enough.
    }
    return text;
}

WechatNotifyError ToNotifyError(WechatSignatureError error) {
    switch (error) {
        case WechatSignatureError::kMissingHeader:
            return WechatNotifyError::kMissingHeader;
        case WechatSignatureError::kBadSerial:
            return WechatNotifyError::kBadSerial;
        case WechatSignatureError::kStaleTimestamp:
            return WechatNotifyError::kStaleTimestamp;
        case WechatSignatureError::kBadSignature:
            break;
    }
    return WechatNotifyError::kBadSignature;
}

std::string JoinUrl(const std::string& base, std::string_view path) {
    std::string url = base;
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url + std::string(path);
}

}  // namespace

std::string WechatTime(base::TimePoint t) {
    std::string text = base::FormatSqlDateTimeSeconds(t + std::chrono::hours(8));
    text[10] = 'T';
    return text + "+08:00";
}

std::optional<base::TimePoint> ParseWechatTime(std::string_view text) {
    constexpr size_t kLocalLength = 19;  // yyyy-MM-ddTHH:mm:ss
    if (text.size() < kLocalLength + 1 || text[10] != 'T') return std::nullopt;
    std::string local(text.substr(0, kLocalLength));
    local[10] = ' ';
    const std::optional<base::TimePoint> wall = base::ParseSqlDateTime(local);
    if (!wall) return std::nullopt;
    const std::string_view zone = text.substr(kLocalLength);
    if (zone == "Z") return *wall;
    const auto digit = [&](size_t i) { return zone[i] >= '0' && zone[i] <= '9'; };
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' || !digit(1) ||
        !digit(2) || !digit(4) || !digit(5)) {
        return std::nullopt;
    }
    const int hours = (zone[1] - '0') * 10 + (zone[2] - '0');
    const int minutes = (zone[4] - '0') * 10 + (zone[5] - '0');
    if (hours > 23 || minutes > 59) return std::nullopt;
    const auto offset = std::chrono::hours(hours) + std::chrono::minutes(minutes);
    // Local time = UTC + offset.
    return zone[0] == '+' ? *wall - offset : *wall + offset;
}

std::string WechatRequestMessage(std::string_view method, std::string_view path_with_query,
                                 std::string_view timestamp, std::string_view nonce,
                                 std::string_view body) {
    std::string message;
    message.reserve(method.size() + path_with_query.size() + timestamp.size() + nonce.size() +
                    body.size() + 5);
    for (const std::string_view line : {method, path_with_query, timestamp, nonce, body}) {
        message.append(line);
        message.push_back('\n');
    }
    return message;
}

std::string WechatResponseMessage(std::string_view timestamp, std::string_view nonce,
                                  std::string_view body) {
    std::string message;
    message.reserve(timestamp.size() + nonce.size() + body.size() + 3);
    for (const std::string_view line : {timestamp, nonce, body}) {
        message.append(line);
        message.push_back('\n');
    }
    return message;
}

std::string BuildWechatAuthorization(const WechatMerchant& merchant, const PrivateKey& merchant_key,
                                     std::string_view method, std::string_view path_with_query,
                                     std::string_view body, int64_t timestamp,
                                     std::string_view nonce) {
    if (merchant.mchid.empty() || merchant.merchant_serial.empty()) {
        throw std::invalid_argument("WeChat Pay mchid and merchant_serial must be set");
    }
    const std::string stamp = std::to_string(timestamp);
    const std::string signature =
        merchant_key.SignSha256(WechatRequestMessage(method, path_with_query, stamp, nonce, body));
    return std::string(kScheme) + " mchid=\"" + merchant.mchid + "\",nonce_str=\"" +
           std::string(nonce) + "\",signature=\"" + signature + "\",timestamp=\"" + stamp +
           "\",serial_no=\"" + merchant.merchant_serial + "\"";
}

std::optional<WechatAuthorization> ParseWechatAuthorization(std::string_view header) {
    const std::string_view prefix = std::string_view(kScheme);
    if (header.substr(0, prefix.size()) != prefix || header.size() <= prefix.size() ||
        header[prefix.size()] != ' ') {
        return std::nullopt;
    }
    std::string_view rest = header.substr(prefix.size() + 1);
    std::map<std::string, std::string> fields;
    while (!rest.empty()) {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        const size_t eq = rest.find('=');
        if (eq == std::string_view::npos || eq == 0 || eq + 1 >= rest.size() ||
            rest[eq + 1] != '"') {
            return std::nullopt;
        }
        const size_t close = rest.find('"', eq + 2);
        if (close == std::string_view::npos) return std::nullopt;
        const std::string key(rest.substr(0, eq));
        if (!fields.emplace(key, std::string(rest.substr(eq + 2, close - eq - 2))).second) {
            return std::nullopt;
        }
        rest.remove_prefix(close + 1);
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        if (rest.empty()) break;
        if (rest.front() != ',') return std::nullopt;
        rest.remove_prefix(1);
    }
    WechatAuthorization out;
    const std::pair<const char*, std::string*> wanted[] = {{"mchid", &out.mchid},
                                                           {"nonce_str", &out.nonce_str},
                                                           {"signature", &out.signature},
                                                           {"timestamp", &out.timestamp},
                                                           {"serial_no", &out.serial_no}};
    if (fields.size() != std::size(wanted)) return std::nullopt;
    for (const auto& [name, slot] : wanted) {
        const auto it = fields.find(name);
        if (it == fields.end()) return std::nullopt;
        *slot = it->second;
    }
    return out;
}

WechatSignedHeaders WechatSignedHeaders::From(
    const std::map<std::string, std::string>& lower_headers) {
    const auto get = [&](const char* name) {
        const auto it = lower_headers.find(name);
        return it == lower_headers.end() ? std::string() : it->second;
    };
    return WechatSignedHeaders{get("wechatpay-timestamp"), get("wechatpay-nonce"),
                               get("wechatpay-signature"), get("wechatpay-serial")};
}

std::optional<base::Failure<WechatSignatureError>> VerifyWechatSignature(
    const WechatSignedHeaders& headers, std::string_view body, const WechatPlatformKey& platform,
    base::TimePoint now) {
    if (headers.timestamp.empty() || headers.nonce.empty() || headers.signature.empty() ||
        headers.serial.empty()) {
        return base::Fail(WechatSignatureError::kMissingHeader,
                          "Wechatpay-Timestamp, -Nonce, -Signature or -Serial missing");
    }
    if (headers.serial != platform.serial) {
        return base::Fail(WechatSignatureError::kBadSerial,
                          "Wechatpay-Serial is not the configured platform key id");
    }
    const std::optional<int64_t> timestamp = ParseUnixSeconds(headers.timestamp);
    if (!timestamp) {
        return base::Fail(WechatSignatureError::kStaleTimestamp,
                          "Wechatpay-Timestamp is not Unix time");
    }
    const int64_t skew = *timestamp - UnixSeconds(now);
    if (skew > kWechatMaxClockSkew.count() || skew < -kWechatMaxClockSkew.count()) {
        return base::Fail(WechatSignatureError::kStaleTimestamp,
                          "Wechatpay-Timestamp is " + std::to_string(skew) + " s from now");
    }
    // WeChat Pay sometimes probes merchants with deliberately wrong signatures
    // (WECHATPAY/SIGNTEST/...): they must fail here like any forgery.
    if (!platform.key.VerifySha256(WechatResponseMessage(headers.timestamp, headers.nonce, body),
                                   headers.signature)) {
        return base::Fail(WechatSignatureError::kBadSignature,
                          "Wechatpay-Signature does not verify with the platform key");
    }
    return std::nullopt;
}

WechatSignedHeaders SignWechatMessage(std::string_view body, const PrivateKey& platform_key,
                                      std::string_view serial, base::TimePoint now) {
    WechatSignedHeaders headers;
    headers.timestamp = std::to_string(UnixSeconds(now));
    headers.nonce = RandomHex(16);
    headers.serial = std::string(serial);
    headers.signature =
        platform_key.SignSha256(WechatResponseMessage(headers.timestamp, headers.nonce, body));
    return headers;
}

bool WechatTransaction::IsPaid() const { return trade_state == "SUCCESS"; }

base::Result<WechatTransaction, WechatTransactionError> ParseWechatTransaction(
    std::string_view json) {
    Json::Value parsed;
    try {
        parsed = http::ParseJsonObject(json);
    } catch (const base::ApiError&) {
        return base::Fail(WechatTransactionError::kMalformed, "not a JSON object");
    }
    const Json::Value& object = parsed;
    WechatTransaction transaction;
    transaction.mchid = StringMember(object, "mchid");
    transaction.appid = StringMember(object, "appid");
    transaction.out_trade_no = StringMember(object, "out_trade_no");
    transaction.trade_state = StringMember(object, "trade_state");
    transaction.transaction_id = StringMember(object, "transaction_id");
    transaction.trade_type = StringMember(object, "trade_type");
    transaction.success_time = StringMember(object, "success_time");
    if (transaction.mchid.empty() || transaction.appid.empty() ||
        transaction.out_trade_no.empty() || transaction.trade_state.empty()) {
        return base::Fail(WechatTransactionError::kMalformed,
                          "mchid, appid, out_trade_no or trade_state missing");
    }
    const Json::Value& amount = object["amount"];
    const bool has_total = amount.isObject() && amount.isMember("total");
    if (has_total) {
        const Json::Value& total = amount["total"];
        if (!IsJsonInteger(total) || !total.isInt64() || total.asInt64() < 0) {
            return base::Fail(WechatTransactionError::kMalformed,
                              "amount.total is not a non-negative integer");
        }
        transaction.amount_total_fen = total.asInt64();
    }
    if (transaction.IsPaid() && (transaction.transaction_id.empty() || !has_total)) {
        return base::Fail(WechatTransactionError::kMalformed,
                          "a SUCCESS transaction without transaction_id or amount.total");
    }
    return transaction;
}

std::string_view WechatNotifyErrorName(WechatNotifyError error) {
    switch (error) {
        case WechatNotifyError::kMissingHeader:
            return "missing_header";
        case WechatNotifyError::kBadSerial:
            return "bad_serial";
        case WechatNotifyError::kStaleTimestamp:
            return "stale_timestamp";
        case WechatNotifyError::kBadSignature:
            return "bad_signature";
        case WechatNotifyError::kMalformedJson:
            return "malformed_json";
        case WechatNotifyError::kUnsupportedResource:
            return "unsupported_resource";
        case WechatNotifyError::kBadCiphertext:
            return "bad_ciphertext";
        case WechatNotifyError::kMalformedTransaction:
            return "malformed_transaction";
    }
    return "unknown";
}

base::Result<WechatEnvelope, WechatNotifyError> OpenWechatNotify(const WechatSignedHeaders& headers,
                                                                 std::string_view body,
                                                                 const WechatPlatformKey& platform,
                                                                 std::string_view apiv3_key,
                                                                 base::TimePoint now) {
    if (apiv3_key.size() != kAes256KeyBytes) {
        throw std::invalid_argument("the WeChat Pay APIv3 key must be 32 bytes");
    }
    if (auto failure = VerifyWechatSignature(headers, body, platform, now)) {
        return base::Fail(ToNotifyError(failure->code), std::move(failure->detail));
    }
    Json::Value parsed;
    try {
        parsed = http::ParseJsonObject(body);
    } catch (const base::ApiError&) {
        return base::Fail(WechatNotifyError::kMalformedJson, "the body is not a JSON object");
    }
    const Json::Value& envelope = parsed;
    const Json::Value& resource = envelope["resource"];
    if (!resource.isObject() || !resource["ciphertext"].isString() ||
        !resource["nonce"].isString() ||
        !(resource["associated_data"].isNull() || resource["associated_data"].isString())) {
        return base::Fail(WechatNotifyError::kMalformedJson,
                          "no resource object with ciphertext, nonce and associated_data");
    }
    if (StringMember(resource, "algorithm") != kAlgorithm) {
        return base::Fail(WechatNotifyError::kUnsupportedResource,
                          "resource.algorithm is not AEAD_AES_256_GCM");
    }
    const std::optional<std::string> sealed = Base64Decode(resource["ciphertext"].asString());
    if (!sealed) return base::Fail(WechatNotifyError::kBadCiphertext, "ciphertext is not base64");
    std::optional<std::string> plaintext =
        Aes256GcmDecrypt(apiv3_key, resource["nonce"].asString(),
                         StringMember(resource, "associated_data"), *sealed);
    if (!plaintext) {
        return base::Fail(WechatNotifyError::kBadCiphertext,
                          "AES-256-GCM authentication failed (ciphertext, tag or APIv3 key)");
    }
    WechatEnvelope opened;
    opened.id = StringMember(envelope, "id");
    opened.event_type = StringMember(envelope, "event_type");
    opened.plaintext = std::move(*plaintext);
    return opened;
}

base::Result<WechatNotification, WechatNotifyError> VerifyWechatNotify(
    const WechatSignedHeaders& headers, std::string_view body, const WechatPlatformKey& platform,
    std::string_view apiv3_key, base::TimePoint now) {
    base::Result<WechatEnvelope, WechatNotifyError> opened =
        OpenWechatNotify(headers, body, platform, apiv3_key, now);
    if (!opened.ok()) return base::Fail(opened.error(), opened.detail());
    base::Result<WechatTransaction, WechatTransactionError> transaction =
        ParseWechatTransaction(opened.value().plaintext);
    if (!transaction.ok()) {
        return base::Fail(WechatNotifyError::kMalformedTransaction, transaction.detail());
    }
    WechatNotification notification;
    notification.id = opened.value().id;
    notification.event_type = opened.value().event_type;
    notification.transaction = std::move(transaction).value();
    return notification;
}

namespace {

WechatSignedMessage BuildSealedNotify(std::string_view resource_json,
                                      std::string_view original_type, std::string_view event_type,
                                      std::string_view summary, std::string_view apiv3_key,
                                      const PrivateKey& platform_key,
                                      std::string_view platform_serial, base::TimePoint now) {
    const std::string nonce = RandomHex(6);  // 12 characters, like WeChat Pay's
    const std::string associated_data(original_type);
    Json::Value resource(Json::objectValue);
    resource["original_type"] = associated_data;
    resource["algorithm"] = kAlgorithm;
    resource["ciphertext"] =
        Base64Encode(Aes256GcmEncrypt(apiv3_key, nonce, associated_data, resource_json));
    resource["associated_data"] = associated_data;
    resource["nonce"] = nonce;
    Json::Value envelope(Json::objectValue);
    envelope["id"] = RandomHex(16);
    envelope["create_time"] = WechatTime(now);
    envelope["resource_type"] = "encrypt-resource";
    envelope["event_type"] = std::string(event_type);
    envelope["summary"] = std::string(summary);
    envelope["resource"] = resource;
    WechatSignedMessage message;
    message.body = base::ToJson(envelope);
    message.headers = SignWechatMessage(message.body, platform_key, platform_serial, now);
    return message;
}

}  // namespace

WechatSignedMessage BuildWechatNotify(std::string_view transaction_json, std::string_view apiv3_key,
                                      const PrivateKey& platform_key,
                                      std::string_view platform_serial, base::TimePoint now) {
    return BuildSealedNotify(transaction_json, "transaction", "TRANSACTION.SUCCESS", "支付成功",
                             apiv3_key, platform_key, platform_serial, now);
}

WechatSignedMessage BuildWechatRefundNotify(std::string_view refund_json,
                                            std::string_view event_type, std::string_view apiv3_key,
                                            const PrivateKey& platform_key,
                                            std::string_view platform_serial, base::TimePoint now) {
    return BuildSealedNotify(refund_json, "refund", event_type, "退款结果", apiv3_key, platform_key,
                             platform_serial, now);
}

std::string BuildWechatRefundBody(const WechatMerchant& merchant,
                                  const WechatRefundRequest& refund) {
    RequireOutTradeNo(refund.out_trade_no);
    if (refund.out_refund_no.empty() || refund.out_refund_no.size() > 64) {
        throw std::invalid_argument("out_refund_no must be 1..64 characters");
    }
    if (refund.total_fen < 1 || refund.total_fen > std::numeric_limits<int32_t>::max() ||
        refund.refund_fen < 1 || refund.refund_fen > refund.total_fen) {
        throw std::invalid_argument("amount.refund must be 1 .. amount.total");
    }
    if (merchant.notify_url.empty()) throw std::invalid_argument("notify_url must be set");
    Json::Value body(Json::objectValue);
    body["out_trade_no"] = refund.out_trade_no;
    body["out_refund_no"] = refund.out_refund_no;
    if (!refund.reason.empty()) body["reason"] = base::Utf8Prefix(refund.reason, 80);
    body["notify_url"] = merchant.notify_url;
    Json::Value amount(Json::objectValue);
    amount["refund"] = Json::Int64{refund.refund_fen};
    amount["total"] = Json::Int64{refund.total_fen};
    amount["currency"] = "CNY";
    body["amount"] = amount;
    return base::ToJson(body);
}

base::Result<WechatRefund, WechatTransactionError> ParseWechatRefund(std::string_view json) {
    Json::Value parsed;
    try {
        parsed = http::ParseJsonObject(json);
    } catch (const base::ApiError&) {
        return base::Fail(WechatTransactionError::kMalformed, "not a JSON object");
    }
    const Json::Value& object = parsed;
    WechatRefund refund;
    refund.mchid = StringMember(object, "mchid");
    refund.out_trade_no = StringMember(object, "out_trade_no");
    refund.out_refund_no = StringMember(object, "out_refund_no");
    refund.refund_id = StringMember(object, "refund_id");
    refund.status = StringMember(object, "status");
    if (refund.status.empty()) refund.status = StringMember(object, "refund_status");
    if (refund.out_refund_no.empty() || refund.refund_id.empty() || refund.status.empty()) {
        return base::Fail(WechatTransactionError::kMalformed,
                          "out_refund_no, refund_id or status missing");
    }
    const Json::Value& amount = object["amount"];
    if (amount.isObject() && amount.isMember("refund")) {
        const Json::Value& value = amount["refund"];
        if (!IsJsonInteger(value) || !value.isInt64() || value.asInt64() < 0) {
            return base::Fail(WechatTransactionError::kMalformed,
                              "amount.refund is not a non-negative integer");
        }
        refund.refund_fen = value.asInt64();
    }
    return refund;
}

bool IsTransientWechatRefusal(std::string_view code) {
    return code == "SYSTEM_ERROR" || code == "FREQUENCY_LIMITED" || code == "NOT_ENOUGH";
}

std::string BuildWechatNativeOrderBody(const WechatMerchant& merchant,
                                       const WechatNativeOrder& order) {
    RequireOutTradeNo(order.out_trade_no);
    if (order.description.empty() || !base::IsValidUtf8(order.description) ||
        base::Utf8Length(order.description) > 127) {
        throw std::invalid_argument("description must be 1..127 characters of UTF-8");
    }
    if (order.total_fen < 1 || order.total_fen > std::numeric_limits<int32_t>::max()) {
        throw std::invalid_argument("amount.total must be 1 .. 2^31-1 fen");
    }
    if (merchant.appid.empty() || merchant.mchid.empty() || merchant.notify_url.empty()) {
        throw std::invalid_argument("WeChat Pay appid, mchid and notify_url must be set");
    }
    Json::Value body(Json::objectValue);
    body["appid"] = merchant.appid;
    body["mchid"] = merchant.mchid;
    body["description"] = order.description;
    body["out_trade_no"] = order.out_trade_no;
    body["notify_url"] = merchant.notify_url;
    if (order.time_expire) body["time_expire"] = WechatTime(*order.time_expire);
    Json::Value amount(Json::objectValue);
    amount["total"] = static_cast<Json::Int64>(order.total_fen);
    amount["currency"] = "CNY";
    body["amount"] = amount;
    return base::ToJson(body);
}

std::string WechatQueryPath(std::string_view out_trade_no, std::string_view mchid) {
    RequireOutTradeNo(out_trade_no);
    return "/v3/pay/transactions/out-trade-no/" + PercentEncode(out_trade_no) +
           "?mchid=" + PercentEncode(mchid);
}

std::string_view WechatApiErrorName(WechatApiError error) {
    switch (error) {
        case WechatApiError::kTransport:
            return "transport";
        case WechatApiError::kBadResponseSignature:
            return "bad_response_signature";
        case WechatApiError::kApiError:
            return "api_error";
        case WechatApiError::kMalformedResponse:
            return "malformed_response";
    }
    return "unknown";
}

base::Result<std::string, WechatApiError> ParseWechatNativeOrderResponse(std::string_view body) {
    Json::Value parsed;
    try {
        parsed = http::ParseJsonObject(body);
    } catch (const base::ApiError&) {
        return base::Fail(WechatApiError::kMalformedResponse, "the answer is not a JSON object");
    }
    const std::string code_url = StringMember(parsed, "code_url");
    if (code_url.empty()) return base::Fail(WechatApiError::kMalformedResponse, "no code_url");
    return code_url;
}

struct WechatPayClient::Answer {
    long status = 0;
    std::string body;
};

WechatPayClient::WechatPayClient(WechatMerchant merchant, PrivateKey merchant_key,
                                 WechatPlatformKey platform, std::string apiv3_key,
                                 std::chrono::milliseconds timeout)
    : merchant_(std::move(merchant)),
      merchant_key_(std::move(merchant_key)),
      platform_(std::move(platform)),
      apiv3_key_(std::move(apiv3_key)),
      timeout_(timeout) {
    if (apiv3_key_.size() != kAes256KeyBytes) {
        throw std::invalid_argument("the WeChat Pay APIv3 key must be 32 bytes");
    }
}

base::Result<WechatPayClient::Answer, WechatApiError> WechatPayClient::Call(
    const char* method, const std::string& path_with_query, const std::string& body,
    base::TimePoint now) const {
    net::OutboundRequest request;
    request.method = method;
    request.url = JoinUrl(merchant_.api_base, path_with_query);
    request.body = body;
    request.timeout = timeout_;
    request.headers = {
        {"Authorization",
         BuildWechatAuthorization(merchant_, merchant_key_, method, path_with_query, body,
                                  UnixSeconds(now), RandomHex(16))},
        {"Accept", "application/json"},
        // WeChat Pay refuses requests without a User-Agent.
        {"User-Agent", std::string("inkstone/") + INKSTONE_VERSION},
    };
    if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");

    const base::Result<net::OutboundResponse, net::OutboundError> sent = net::SendOutbound(request);
    if (!sent.ok()) return base::Fail(WechatApiError::kTransport, sent.detail());
    const net::OutboundResponse& response = sent.value();
    const WechatSignedHeaders headers = WechatSignedHeaders::From(response.headers);
    const auto failure = VerifyWechatSignature(headers, response.body, platform_, now);
    if (failure && failure->code == WechatSignatureError::kMissingHeader &&
        (response.status < 200 || response.status > 299)) {
        // WeChat Pay signs every answer to a request it authenticated; an unsigned error is a
        // refusal of our signature (401) or a proxy's answer. Report it as the error it is.
        return base::Fail(WechatApiError::kApiError,
                          ApiErrorText(response.status, response.body) + " (unsigned)");
    }
    if (failure) {
        return base::Fail(WechatApiError::kBadResponseSignature,
                          "HTTP " + std::to_string(response.status) + ": " + failure->detail);
    }
    return Answer{response.status, response.body};
}

base::Result<std::string, WechatApiError> WechatPayClient::CreateNativeOrder(
    const WechatNativeOrder& order, base::TimePoint now) const {
    const std::string body = BuildWechatNativeOrderBody(merchant_, order);
    base::Result<Answer, WechatApiError> answer = Call("POST", kWechatNativePath, body, now);
    if (!answer.ok()) return base::Fail(answer.error(), answer.detail());
    if (answer.value().status != 200) {
        return base::Fail(WechatApiError::kApiError,
                          ApiErrorText(answer.value().status, answer.value().body));
    }
    return ParseWechatNativeOrderResponse(answer.value().body);
}

base::Result<WechatOrderQuery, WechatApiError> WechatPayClient::QueryOrder(
    std::string_view out_trade_no, base::TimePoint now) const {
    base::Result<Answer, WechatApiError> answer =
        Call("GET", WechatQueryPath(out_trade_no, merchant_.mchid), "", now);
    if (!answer.ok()) return base::Fail(answer.error(), answer.detail());
    const Answer& reply = answer.value();
    if (reply.status == 404) {
        try {
            if (StringMember(http::ParseJsonObject(reply.body), "code") == "ORDER_NOT_EXIST") {
                return WechatOrderQuery{};
            }
        } catch (const base::ApiError&) {
            // Not WeChat Pay's error shape: reported below.
        }
    }
    if (reply.status != 200) {
        return base::Fail(WechatApiError::kApiError, ApiErrorText(reply.status, reply.body));
    }
    base::Result<WechatTransaction, WechatTransactionError> transaction =
        ParseWechatTransaction(reply.body);
    if (!transaction.ok()) {
        return base::Fail(WechatApiError::kMalformedResponse, transaction.detail());
    }
    if (transaction.value().out_trade_no != out_trade_no ||
        transaction.value().mchid != merchant_.mchid) {
        return base::Fail(WechatApiError::kMalformedResponse,
                          "the answer is about another order or merchant");
    }
    return WechatOrderQuery{true, std::move(transaction).value()};
}

base::Result<WechatRefundReply, WechatApiError> WechatPayClient::RefundReply(
    base::Result<Answer, WechatApiError> answer, std::string_view out_refund_no) const {
    if (!answer.ok()) return base::Fail(answer.error(), answer.detail());
    const Answer& reply = answer.value();
    WechatRefundReply result;
    result.http_status = reply.status;
    if (reply.status >= 400 && reply.status < 500) {
        result.refused = true;
        try {
            const Json::Value error = http::ParseJsonObject(reply.body);
            result.code = StringMember(error, "code");
            result.message = StringMember(error, "message");
        } catch (const base::ApiError&) {
            result.code = "HTTP_" + std::to_string(reply.status);
        }
        return result;
    }
    if (reply.status != 200) {
        return base::Fail(WechatApiError::kApiError, ApiErrorText(reply.status, reply.body));
    }
    base::Result<WechatRefund, WechatTransactionError> refund = ParseWechatRefund(reply.body);
    if (!refund.ok()) return base::Fail(WechatApiError::kMalformedResponse, refund.detail());
    if (refund.value().out_refund_no != out_refund_no) {
        return base::Fail(WechatApiError::kMalformedResponse,
                          "the answer is about another out_refund_no");
    }
    result.refund = std::move(refund).value();
    return result;
}

base::Result<WechatRefundReply, WechatApiError> WechatPayClient::CreateRefund(
    const WechatRefundRequest& refund, base::TimePoint now) const {
    const std::string body = BuildWechatRefundBody(merchant_, refund);
    return RefundReply(Call("POST", kWechatRefundPath, body, now), refund.out_refund_no);
}

base::Result<WechatRefundReply, WechatApiError> WechatPayClient::QueryRefund(
    std::string_view out_refund_no, base::TimePoint now) const {
    const std::string path = std::string(kWechatRefundPath) + "/" + PercentEncode(out_refund_no);
    return RefundReply(Call("GET", path, "", now), out_refund_no);
}

base::Result<WechatEnvelope, WechatNotifyError> WechatPayClient::OpenNotify(
    const WechatSignedHeaders& headers, std::string_view body, base::TimePoint now) const {
    return OpenWechatNotify(headers, body, platform_, apiv3_key_, now);
}

base::Result<WechatNotification, WechatNotifyError> WechatPayClient::VerifyNotify(
    const WechatSignedHeaders& headers, std::string_view body, base::TimePoint now) const {
    return VerifyWechatNotify(headers, body, platform_, apiv3_key_, now);
}

}  // namespace inkstone::lib::payments
