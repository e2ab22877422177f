#pragma once
/// Alipay's open platform protocol (RSA2 = SHA256withRSA), PC web payment:
/// - the signed `alipay.trade.page.pay` URL an order hands to the browser;
/// - verification of the asynchronous notify (异步通知) Alipay POSTs to `notify_url`;
/// - the signed `alipay.trade.query` request and the verification of its signed response, for
///   reconciliation, and AlipayClient, which sends it over libcurl.
///
/// Protocol rules (Alipay's open platform docs; README, "Going live"):
/// - Requests: the string to sign is every parameter except `sign` (so `sign_type` is
///   included), empty values dropped, sorted by key in byte order, `key=value` joined with `&`,
///   values raw (not URL-encoded). SHA256withRSA with the app's private key, base64.
/// - Notifies: every received parameter except `sign` and `sign_type`, URL-decoded, empty
///   values dropped, sorted, joined the same way; verified with Alipay's public key (never the
///   app's key). Only `sign_type=RSA2` is accepted: legacy `RSA` is SHA1withRSA.
/// - Responses: `{"<method with dots as _>_response":{...},"sign":"..."}`; the signature covers
///   the exact bytes of the response object's JSON text as received (never re-serialised).
/// - `timestamp` is `yyyy-MM-dd HH:mm:ss` in Beijing time (GMT+8, no daylight saving).
/// - Amounts are yuan with exactly two decimals ("10.00"); inside inkstone money is integer fen.
///
/// Everything here is pure and thread-safe except AlipayClient's network call (also
/// thread-safe: it keeps no mutable state).
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/clock.h"
#include "lib/base/result.h"
#include "lib/payments/crypto.h"

namespace inkstone::lib::payments {

inline constexpr char kAlipayDefaultGateway[] = "https://openapi.alipay.com/gateway.do";

/// The merchant's Alipay application.
struct AlipayApp {
    std::string app_id;
    std::string gateway = kAlipayDefaultGateway;
    std::string notify_url;  ///< where Alipay POSTs the async notify
    std::string return_url;  ///< optional page the browser returns to; empty = none
    /// Optional (2088...): when set, the notify handler must require a notify's seller_id to
    /// equal it. Not sent in requests.
    std::string seller_id;
};

// --- Amounts ---

/// `fen` as yuan with exactly two decimals: 1 → "0.01", 1000 → "10.00".
/// Throws std::invalid_argument outside Alipay's range [0.01, 100000000.00] yuan.
std::string FormatAlipayAmount(int64_t fen);

/// Strict inverse of FormatAlipayAmount for amounts Alipay sends: digits, a dot, exactly two
/// digits ("0.01", "10.00"); no sign, exponent, spaces or leading zeros ("01.00"), and not
/// "10", "10.0" or "10.001". Alipay documents amounts as 精确到小数点后2位 and always sends two
/// decimals; anything else is rejected rather than guessed at. At most 12 integer digits.
std::optional<int64_t> ParseAlipayAmount(std::string_view text);

// --- Forms and strings to sign ---

/// Parameters by name; std::map keeps them sorted by key in byte order, as Alipay sorts.
using AlipayParams = std::map<std::string, std::string>;

/// Parses an application/x-www-form-urlencoded body (names and values decoded with
/// cgicc::form_urldecode: `+` is a space, `%XX` a byte). Empty segments (`a=1&&b=2`) are
/// skipped and a segment without `=` is a name with an empty value. nullopt when a name is
/// empty or appears twice: a signed form with two values for one name is ambiguous.
std::optional<AlipayParams> ParseFormBody(std::string_view body);

/// `application/x-www-form-urlencoded` of `params` (cgicc::form_urlencode), sorted by name.
std::string EncodeFormBody(const AlipayParams& params);

/// The request string to sign: all parameters but `sign`, empty values dropped, `k=v&...`.
std::string AlipayRequestSigningString(const AlipayParams& params);

/// The notify string to verify: all parameters but `sign` and `sign_type`, empty values
/// dropped, `k=v&...`.
std::string AlipayNotifySigningString(const AlipayParams& params);

// --- alipay.trade.page.pay ---

struct AlipayPagePayOrder {
    std::string out_trade_no;  ///< the merchant order number: 1..64 of [A-Za-z0-9_]
    int64_t total_fen = 0;     ///< 1 .. 10^10
    std::string subject;       ///< shown to the payer: 1..256 characters of valid UTF-8
    /// Optional: Alipay refuses payment after this time (biz_content `time_expire`,
    /// `yyyy-MM-dd HH:mm:ss` Beijing time, whole seconds).
    std::optional<base::TimePoint> time_expire = std::nullopt;
};

/// The full URL (gateway + `?` + form-encoded parameters, `sign` included) that starts an
/// `alipay.trade.page.pay` (FAST_INSTANT_TRADE_PAY) payment; `now` sets `timestamp`.
/// Parameters: app_id, method, format=JSON, charset=utf-8, sign_type=RSA2, timestamp,
/// version=1.0, notify_url, return_url (when set), biz_content = {out_trade_no,
/// product_code, total_amount, subject, time_expire (when set)}, sign.
/// Throws std::invalid_argument for an order outside the limits above; CryptoError if signing
/// fails.
std::string BuildAlipayPagePayUrl(const AlipayApp& app, const PrivateKey& app_key,
                                  const AlipayPagePayOrder& order, base::TimePoint now);

/// `timestamp` as Alipay wants it: `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8).
std::string AlipayTimestamp(base::TimePoint now);
/// The inverse, for the times Alipay sends (`gmt_payment`, ...): nullopt unless exactly
/// `yyyy-MM-dd HH:mm:ss`.
std::optional<base::TimePoint> ParseAlipayTimestamp(std::string_view text);

// --- Async notify ---

/// A verified notify. Only the signature and the syntax have been checked: the caller must
/// still compare app_id (and seller_id when configured), out_trade_no and total_amount_fen
/// with its own order, as Alipay's docs require.
struct AlipayNotice {
    std::string notify_id;
    std::string app_id;
    std::string seller_id;     ///< empty when absent
    std::string out_trade_no;  ///< the merchant order number
    std::string trade_no;      ///< Alipay's trade number
    std::string trade_status;  ///< TRADE_SUCCESS, TRADE_FINISHED, TRADE_CLOSED, WAIT_BUYER_PAY
    int64_t total_amount_fen = 0;
    std::string gmt_payment;  ///< `yyyy-MM-dd HH:mm:ss` Beijing time; empty when absent

    /// TRADE_SUCCESS or TRADE_FINISHED: the money was taken.
    bool IsPaid() const;
};

enum class AlipayNotifyError {
    kMalformedBody,        ///< not a form, an empty or repeated parameter name
    kUnsupportedSignType,  ///< `sign_type` missing or not RSA2
    kBadSignature,         ///< `sign` missing, not base64, or not Alipay's signature of the form
    kMissingField,         ///< app_id, out_trade_no, trade_no, trade_status or total_amount
    kMalformedAmount,      ///< total_amount not in ParseAlipayAmount's syntax
};
std::string_view AlipayNotifyErrorName(AlipayNotifyError error);

/// Verifies a notify body exactly as received (before any other parsing) with Alipay's public
/// key, then extracts the fields. Reply `success` to Alipay only after the order is settled.
base::Result<AlipayNotice, AlipayNotifyError> VerifyAlipayNotify(std::string_view form_body,
                                                                 const PublicKey& alipay_key);

/// Signs `params` as Alipay signs a notify (adds `sign_type=RSA2` and `sign`) and returns the
/// form body. For the mock provider and tests, with a locally generated "Alipay" key.
std::string SignAlipayNotify(AlipayParams params, const PrivateKey& alipay_key);

// --- alipay.trade.query ---

/// A request to the gateway: POST `url` (the gateway with the signed common parameters as
/// its query) with `form_body` (biz_content) as application/x-www-form-urlencoded.
struct AlipayGatewayRequest {
    std::string url;
    std::string form_body;
};

/// A signed `alipay.trade.query` for `out_trade_no` (same limits as the page.pay order).
AlipayGatewayRequest BuildAlipayTradeQuery(const AlipayApp& app, const PrivateKey& app_key,
                                           std::string_view out_trade_no, base::TimePoint now);

struct AlipayTrade {
    /// false when Alipay answered ACQ.TRADE_NOT_EXIST: the payer never reached the cashier,
    /// nothing was paid. The other fields are then empty.
    bool exists = false;
    std::string out_trade_no;
    std::string trade_no;
    std::string trade_status;  ///< WAIT_BUYER_PAY, TRADE_CLOSED, TRADE_SUCCESS, TRADE_FINISHED
    int64_t total_amount_fen = 0;

    /// exists and TRADE_SUCCESS or TRADE_FINISHED.
    bool IsPaid() const;
};

enum class AlipayQueryError {
    kTransport,          ///< no HTTP answer (connection, TLS, timeout)
    kHttpStatus,         ///< an HTTP status other than 200
    kMalformedResponse,  ///< not JSON, no response object, a field of the wrong type or missing
    kMissingSignature,   ///< no `sign` (Alipay signs every answer to a correctly signed request)
    kBadSignature,       ///< `sign` does not verify with Alipay's public key
    kGatewayError,       ///< a signed answer with a code other than 10000 / ACQ.TRADE_NOT_EXIST
    kMalformedAmount,    ///< total_amount not in ParseAlipayAmount's syntax
};
std::string_view AlipayQueryErrorName(AlipayQueryError error);

/// Verifies and reads the raw body of an `alipay.trade.query` answer.
base::Result<AlipayTrade, AlipayQueryError> ParseAlipayTradeQueryResponse(
    std::string_view body, const PublicKey& alipay_key);

/// The exact JSON text of the value of the top-level member `name` of a JSON object `json`,
/// or nullopt when `json` is not an object or has no such member. `json` must already be
/// known to be valid JSON. This is the text Alipay signs in a response.
std::optional<std::string_view> RawJsonMember(std::string_view json, std::string_view name);

/// Signs a response object as Alipay's gateway does:
/// `{"<response_name>":<response_json>,"sign":"..."}`. For the mock provider and tests.
std::string SignAlipayResponse(std::string_view response_name, std::string_view response_json,
                               const PrivateKey& alipay_key);

// --- alipay.trade.refund ---

/// One refund of a paid trade. `out_request_no` is our refund_no: Alipay refunds a given
/// (out_trade_no, out_request_no) at most once, so a request repeated after a lost answer is
/// answered with the first refund (fund_change "N") instead of refunding again.
struct AlipayRefundRequest {
    std::string out_trade_no;
    std::string out_request_no;  ///< 6..32 of [0-9A-Za-z_-|*], like out_trade_no
    int64_t refund_fen = 0;      ///< 1 .. the trade's amount
    std::string reason;          ///< refund_reason, at most 256 characters (cut when longer)
};

/// A signed `alipay.trade.refund` (biz_content out_trade_no, refund_amount in yuan,
/// out_request_no, refund_reason). std::invalid_argument outside the limits above.
AlipayGatewayRequest BuildAlipayTradeRefund(const AlipayApp& app, const PrivateKey& app_key,
                                            const AlipayRefundRequest& refund, base::TimePoint now);

/// A verified answer to alipay.trade.refund: code 10000 (accepted: the refund is done, Alipay's
/// refund is synchronous) or code 40004 (refused, with Alipay's sub_code: ACQ.TRADE_NOT_EXIST,
/// ACQ.TRADE_HAS_CLOSE, ACQ.REFUND_AMT_NOT_EQUAL_TOTAL, ACQ.SELLER_BALANCE_NOT_ENOUGH, ...).
struct AlipayRefundReply {
    bool accepted = false;
    std::string sub_code;  ///< when refused
    std::string sub_msg;   ///< when refused
    std::string trade_no;
    std::string fund_change;     ///< "Y" when this call moved money, "N" for a repeat
    int64_t refund_fee_fen = 0;  ///< the trade's refunded total so far (when accepted)
};

/// Verifies and reads the raw body of an `alipay.trade.refund` answer. A signed answer with a
/// code other than 10000 and 40004 (20000 service unavailable, 40002 invalid arguments, ...) is
/// kGatewayError: nothing is known about the refund, ask again with the same out_request_no.
base::Result<AlipayRefundReply, AlipayQueryError> ParseAlipayTradeRefundResponse(
    std::string_view body, const PublicKey& alipay_key);

/// The Alipay sub_codes of a refused refund that may succeed when asked again later with the
/// same out_request_no (ACQ.SYSTEM_ERROR, ACQ.SELLER_BALANCE_NOT_ENOUGH, ...); any other refusal
/// is final.
bool IsTransientAlipayRefusal(std::string_view sub_code);

// --- Client ---

/// Talks to the Alipay gateway (or a local fake of it). Thread-safe; holds no mutable state.
class AlipayClient final {
  public:
    AlipayClient(AlipayApp app, PrivateKey app_key, PublicKey alipay_key,
                 std::chrono::milliseconds timeout = std::chrono::seconds(15));

    const AlipayApp& app() const { return app_; }

    /// BuildAlipayPagePayUrl with this client's app and key.
    std::string PagePayUrl(const AlipayPagePayOrder& order, base::TimePoint now) const;

    /// VerifyAlipayNotify with Alipay's key.
    base::Result<AlipayNotice, AlipayNotifyError> VerifyNotify(std::string_view form_body) const;

    /// Asks Alipay about `out_trade_no` (alipay.trade.query) and verifies the answer. A trade
    /// whose out_trade_no differs from the one asked for is kMalformedResponse.
    base::Result<AlipayTrade, AlipayQueryError> QueryTrade(std::string_view out_trade_no,
                                                           base::TimePoint now) const;

    /// Sends an alipay.trade.refund and verifies the answer (same errors as QueryTrade). An
    /// accepted answer about another out_trade_no is kMalformedResponse.
    base::Result<AlipayRefundReply, AlipayQueryError> Refund(const AlipayRefundRequest& refund,
                                                             base::TimePoint now) const;

  private:
    /// POSTs a signed gateway request; the answer body of an HTTP 200.
    base::Result<std::string, AlipayQueryError> Send(const AlipayGatewayRequest& call) const;

    AlipayApp app_;
    PrivateKey app_key_;
    PublicKey alipay_key_;
    std::chrono::milliseconds timeout_;
};

}  // namespace inkstone::lib::payments
