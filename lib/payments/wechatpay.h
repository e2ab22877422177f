#pragma once
/// WeChat Pay API v3, Native (QR code) payments:
/// - the `WECHATPAY2-SHA256-RSA2048` Authorization header that signs every request;
/// - the Native order request and its `code_url` answer, the query by out_trade_no;
/// - verification of WeChat Pay's signature on responses and notifies, with the platform
///   public key chosen by `Wechatpay-Serial`;
/// - verification and decryption (AEAD_AES_256_GCM with the APIv3 key) of payment notifies;
/// - WechatPayClient, which sends the requests over libcurl.
///
/// Protocol rules (WeChat Pay API v3 docs; README, "Going live"):
/// - Request signature: SHA256withRSA with the merchant private key over
///   `METHOD\nPATH_WITH_QUERY\nTIMESTAMP\nNONCE\nBODY\n` (five lines, each ending in `\n`, the
///   body empty for GET), base64, sent as `Authorization: WECHATPAY2-SHA256-RSA2048
///   mchid="..",nonce_str="..",signature="..",timestamp="..",serial_no=".."`.
/// - Response and notify signature: `Wechatpay-Signature` (base64 SHA256withRSA) over
///   `Wechatpay-Timestamp\nWechatpay-Nonce\nRAW_BODY\n`, by the key whose id is
///   `Wechatpay-Serial`; the timestamp must be within 5 minutes of now (both directions).
/// - Notify resource: AES-256-GCM, key = the APIv3 key (32 bytes), nonce = `resource.nonce`,
///   AAD = `resource.associated_data`, `resource.ciphertext` = base64(ciphertext || 16-byte tag).
/// - Amounts are integer fen (`amount.total`), currency CNY.
///
/// Everything here is pure and thread-safe except WechatPayClient's network calls (also
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

inline constexpr char kWechatDefaultApiBase[] = "https://api.mch.weixin.qq.com";
/// How far a signed timestamp may be from now, either way, inclusive.
inline constexpr std::chrono::seconds kWechatMaxClockSkew{300};

/// The merchant's side of WeChat Pay.
struct WechatMerchant {
    std::string mchid;
    std::string appid;
    std::string merchant_serial;  ///< serial number of the merchant API certificate
    std::string api_base = kWechatDefaultApiBase;
    std::string notify_url;  ///< HTTPS, no query string (WeChat's rule; not enforced here)
};

/// WeChat Pay's key for responses and notifies: the platform public key and its id (a
/// `PUB_KEY_ID_...` public-key id or a platform certificate serial).
struct WechatPlatformKey {
    std::string serial;
    PublicKey key;
};

// --- Times ---

/// `2026-01-01T08:30:00+08:00`: a time as WeChat Pay writes them (RFC 3339, Beijing time).
std::string WechatTime(base::TimePoint t);
/// An RFC 3339 time as WeChat Pay sends them (`success_time`): `yyyy-MM-ddTHH:mm:ss` then `Z` or
/// `+hh:mm` / `-hh:mm`, no fraction. nullopt for anything else.
std::optional<base::TimePoint> ParseWechatTime(std::string_view text);

// --- Signatures ---

/// `METHOD\nPATH_WITH_QUERY\nTIMESTAMP\nNONCE\nBODY\n`.
std::string WechatRequestMessage(std::string_view method, std::string_view path_with_query,
                                 std::string_view timestamp, std::string_view nonce,
                                 std::string_view body);
/// `TIMESTAMP\nNONCE\nBODY\n`.
std::string WechatResponseMessage(std::string_view timestamp, std::string_view nonce,
                                  std::string_view body);

/// The Authorization header value for one request. `timestamp` is Unix seconds; `nonce` a
/// fresh random string (RandomHex(16)). Throws CryptoError if signing fails.
std::string BuildWechatAuthorization(const WechatMerchant& merchant, const PrivateKey& merchant_key,
                                     std::string_view method, std::string_view path_with_query,
                                     std::string_view body, int64_t timestamp,
                                     std::string_view nonce);

/// The fields of an Authorization header value.
struct WechatAuthorization {
    std::string mchid;
    std::string nonce_str;
    std::string signature;
    std::string timestamp;
    std::string serial_no;
};
/// Parses `WECHATPAY2-SHA256-RSA2048 k="v",...` (any order, each of the five keys exactly once,
/// no other keys). nullopt when malformed. For fakes of the WeChat API and diagnostics.
std::optional<WechatAuthorization> ParseWechatAuthorization(std::string_view header);

/// The four headers WeChat Pay signs responses and notifies with.
struct WechatSignedHeaders {
    std::string timestamp;  ///< Wechatpay-Timestamp
    std::string nonce;      ///< Wechatpay-Nonce
    std::string signature;  ///< Wechatpay-Signature
    std::string serial;     ///< Wechatpay-Serial

    /// From a map of lower-case header names (lib::http::Request::headers, OutboundResponse).
    static WechatSignedHeaders From(const std::map<std::string, std::string>& lower_headers);
};

enum class WechatSignatureError {
    kMissingHeader,   ///< one of the four headers is absent or empty
    kBadSerial,       ///< Wechatpay-Serial is not the configured platform key id
    kStaleTimestamp,  ///< not Unix seconds, or more than 5 minutes from now
    kBadSignature,    ///< the signature does not verify with the platform key
};

/// Checks, in this order: headers present, serial, timestamp within ±5 minutes of `now`
/// (exactly 300 s still passes), signature over WechatResponseMessage(ts, nonce, body).
/// nullopt when all pass.
std::optional<base::Failure<WechatSignatureError>> VerifyWechatSignature(
    const WechatSignedHeaders& headers, std::string_view body, const WechatPlatformKey& platform,
    base::TimePoint now);

/// Signs `body` as WeChat Pay signs a response or notify (for the mock provider and tests).
WechatSignedHeaders SignWechatMessage(std::string_view body, const PrivateKey& platform_key,
                                      std::string_view serial, base::TimePoint now);

// --- Transactions and notifies ---

/// A transaction as WeChat Pay reports it (query answer, decrypted notify resource).
struct WechatTransaction {
    std::string mchid;
    std::string appid;
    std::string out_trade_no;
    std::string transaction_id;    ///< empty until paid
    std::string trade_type;        ///< NATIVE, ...; empty when absent
    std::string trade_state;       ///< SUCCESS, NOTPAY, CLOSED, REFUND, USERPAYING, PAYERROR, ...
    int64_t amount_total_fen = 0;  ///< amount.total; 0 when absent (unpaid)
    std::string success_time;      ///< RFC 3339 with offset; empty until paid

    /// trade_state == SUCCESS.
    bool IsPaid() const;
};

enum class WechatTransactionError { kMalformed };

/// Parses a transaction object. Required: mchid, appid, out_trade_no, trade_state (strings);
/// when trade_state is SUCCESS also transaction_id and amount.total (a JSON integer, ≥ 0).
base::Result<WechatTransaction, WechatTransactionError> ParseWechatTransaction(
    std::string_view json);

/// A verified, decrypted payment notify. The caller must still compare mchid, appid,
/// out_trade_no and amount_total_fen with its own order and require trade_state SUCCESS.
struct WechatNotification {
    std::string id;          ///< the notify's id
    std::string event_type;  ///< TRANSACTION.SUCCESS for payments
    WechatTransaction transaction;
};

enum class WechatNotifyError {
    kMissingHeader,         ///< see WechatSignatureError
    kBadSerial,             ///< see WechatSignatureError
    kStaleTimestamp,        ///< see WechatSignatureError
    kBadSignature,          ///< see WechatSignatureError
    kMalformedJson,         ///< the body is not a JSON object with a `resource` object
    kUnsupportedResource,   ///< resource.algorithm is not AEAD_AES_256_GCM
    kBadCiphertext,         ///< ciphertext not base64, or GCM authentication failed (tag,
                            ///< ciphertext, nonce, AAD or APIv3 key wrong)
    kMalformedTransaction,  ///< the plaintext is not a transaction (ParseWechatTransaction)
};
std::string_view WechatNotifyErrorName(WechatNotifyError error);

/// A notify whose signature verified and whose resource decrypted, before it is read as a
/// transaction (TRANSACTION.*) or a refund (REFUND.*).
struct WechatEnvelope {
    std::string id;
    std::string event_type;  ///< TRANSACTION.SUCCESS, REFUND.SUCCESS, REFUND.ABNORMAL, ...
    std::string plaintext;   ///< the decrypted resource (JSON)
};

/// The first half of VerifyWechatNotify: signature (nothing is decrypted before it passes),
/// then the envelope and the AES-256-GCM resource. kMalformedTransaction is not returned.
base::Result<WechatEnvelope, WechatNotifyError> OpenWechatNotify(const WechatSignedHeaders& headers,
                                                                 std::string_view body,
                                                                 const WechatPlatformKey& platform,
                                                                 std::string_view apiv3_key,
                                                                 base::TimePoint now);

/// Verifies a notify from its headers and raw body (VerifyWechatSignature first: nothing is
/// decrypted before the signature passes), then decrypts and parses the resource.
/// Throws std::invalid_argument when `apiv3_key` is not 32 bytes (a setup bug).
base::Result<WechatNotification, WechatNotifyError> VerifyWechatNotify(
    const WechatSignedHeaders& headers, std::string_view body, const WechatPlatformKey& platform,
    std::string_view apiv3_key, base::TimePoint now);

/// A notify as WeChat Pay sends one: `transaction_json` encrypted with `apiv3_key` under a
/// fresh nonce (associated_data "transaction"), wrapped in the TRANSACTION.SUCCESS envelope,
/// signed by `platform_key`. For the mock provider and tests.
struct WechatSignedMessage {
    WechatSignedHeaders headers;
    std::string body;
};
WechatSignedMessage BuildWechatNotify(std::string_view transaction_json, std::string_view apiv3_key,
                                      const PrivateKey& platform_key,
                                      std::string_view platform_serial, base::TimePoint now);

// --- Refunds ---

inline constexpr char kWechatRefundPath[] = "/v3/refund/domestic/refunds";

/// One refund of a paid order. `out_refund_no` is our refund_no: WeChat Pay refunds one
/// out_refund_no at most once, so a repeated request answers the first refund.
struct WechatRefundRequest {
    std::string out_trade_no;
    std::string out_refund_no;  ///< 1..64 of [0-9A-Za-z_-|*@]
    std::string reason;         ///< at most 80 characters (cut when longer); may be empty
    int64_t refund_fen = 0;     ///< 1 .. total_fen
    int64_t total_fen = 0;      ///< the order's amount
};

/// The JSON body of POST /v3/refund/domestic/refunds: out_trade_no, out_refund_no, reason,
/// notify_url (the merchant's notify_url: refund notifies arrive where payment notifies do),
/// amount {refund, total, currency "CNY"}. std::invalid_argument outside the limits.
std::string BuildWechatRefundBody(const WechatMerchant& merchant,
                                  const WechatRefundRequest& refund);

/// A refund as WeChat Pay reports it: the answer to a refund request or query (`status`), or a
/// decrypted refund notify (`refund_status`).
struct WechatRefund {
    std::string mchid;  ///< notifies only
    std::string out_trade_no;
    std::string out_refund_no;
    std::string refund_id;
    std::string status;      ///< SUCCESS, PROCESSING, CLOSED, ABNORMAL
    int64_t refund_fen = 0;  ///< amount.refund
};

/// Parses a refund object. Required: out_refund_no, refund_id, status or refund_status.
base::Result<WechatRefund, WechatTransactionError> ParseWechatRefund(std::string_view json);

/// WeChat Pay's answer to a refund request or query: the refund, or its refusal (an error
/// status with WeChat Pay's error code: NOT_ENOUGH, INVALID_REQUEST, RESOURCE_NOT_EXISTS...).
struct WechatRefundReply {
    bool refused = false;
    long http_status = 0;
    std::string code;     ///< when refused
    std::string message;  ///< when refused
    WechatRefund refund;  ///< when not refused
};

/// The refusal codes that may succeed when asked again later with the same out_refund_no
/// (SYSTEM_ERROR, FREQUENCY_LIMITED, NOT_ENOUGH); any other refusal is final.
bool IsTransientWechatRefusal(std::string_view code);

/// A refund notify as WeChat Pay sends one (event REFUND.SUCCESS etc., associated_data
/// "refund"), encrypted and signed like BuildWechatNotify. For the mock provider and tests.
WechatSignedMessage BuildWechatRefundNotify(std::string_view refund_json,
                                            std::string_view event_type, std::string_view apiv3_key,
                                            const PrivateKey& platform_key,
                                            std::string_view platform_serial, base::TimePoint now);

// --- Orders ---

struct WechatNativeOrder {
    std::string out_trade_no;  ///< 6..32 of [0-9A-Za-z_-|*]
    std::string description;   ///< 1..127 characters of UTF-8
    int64_t total_fen = 0;     ///< 1 .. 2^31-1
    /// Optional: no payment after this time (sent as `time_expire`, RFC 3339 +08:00).
    std::optional<base::TimePoint> time_expire;
};

inline constexpr char kWechatNativePath[] = "/v3/pay/transactions/native";

/// The JSON body of POST /v3/pay/transactions/native: appid, mchid, description,
/// out_trade_no, notify_url, amount {total, currency "CNY"} (and time_expire when set).
/// Throws std::invalid_argument outside the limits above or without notify_url.
std::string BuildWechatNativeOrderBody(const WechatMerchant& merchant,
                                       const WechatNativeOrder& order);

/// `/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mchid}`, percent-encoded: the
/// exact path and query that is both sent and signed.
std::string WechatQueryPath(std::string_view out_trade_no, std::string_view mchid);

enum class WechatApiError {
    kTransport,             ///< no HTTP answer (connection, TLS, timeout)
    kBadResponseSignature,  ///< signed headers present but wrong (serial, time, signature)
    kApiError,              ///< an error status (`detail`: HTTP status, code and message)
    kMalformedResponse,     ///< a 2xx answer without the expected JSON
};
std::string_view WechatApiErrorName(WechatApiError error);

/// The `code_url` of a Native order answer body (`{"code_url":"weixin://..."}`).
base::Result<std::string, WechatApiError> ParseWechatNativeOrderResponse(std::string_view body);

/// The outcome of a query by out_trade_no.
struct WechatOrderQuery {
    /// false when WeChat Pay answered 404 ORDER_NOT_EXIST: nothing was paid.
    bool exists = false;
    WechatTransaction transaction;
};

// --- Client ---

/// Talks to the WeChat Pay API (or a local fake of it). Thread-safe; no mutable state.
class WechatPayClient final {
  public:
    /// Throws std::invalid_argument when `apiv3_key` is not 32 bytes.
    WechatPayClient(WechatMerchant merchant, PrivateKey merchant_key, WechatPlatformKey platform,
                    std::string apiv3_key,
                    std::chrono::milliseconds timeout = std::chrono::seconds(15));

    const WechatMerchant& merchant() const { return merchant_; }

    /// POST /v3/pay/transactions/native; the verified `code_url` to show as a QR code.
    base::Result<std::string, WechatApiError> CreateNativeOrder(const WechatNativeOrder& order,
                                                                base::TimePoint now) const;

    /// GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=..., verified. A transaction
    /// about another order or merchant is kMalformedResponse.
    base::Result<WechatOrderQuery, WechatApiError> QueryOrder(std::string_view out_trade_no,
                                                              base::TimePoint now) const;

    /// POST /v3/refund/domestic/refunds, verified. An answer about another out_refund_no is
    /// kMalformedResponse; a 5xx is kApiError (ask again); a 4xx is a refusal.
    base::Result<WechatRefundReply, WechatApiError> CreateRefund(const WechatRefundRequest& refund,
                                                                 base::TimePoint now) const;

    /// GET /v3/refund/domestic/refunds/{out_refund_no}, verified; 404 is a refusal with code
    /// RESOURCE_NOT_EXISTS (the request never arrived: send it again).
    base::Result<WechatRefundReply, WechatApiError> QueryRefund(std::string_view out_refund_no,
                                                                base::TimePoint now) const;

    /// OpenWechatNotify with this client's platform key and APIv3 key.
    base::Result<WechatEnvelope, WechatNotifyError> OpenNotify(const WechatSignedHeaders& headers,
                                                               std::string_view body,
                                                               base::TimePoint now) const;

    /// VerifyWechatNotify with this client's platform key and APIv3 key.
    base::Result<WechatNotification, WechatNotifyError> VerifyNotify(
        const WechatSignedHeaders& headers, std::string_view body, base::TimePoint now) const;

  private:
    struct Answer;
    /// A refund answer: 200 → the refund (about `out_refund_no`), 4xx → refused, else kApiError.
    base::Result<WechatRefundReply, WechatApiError> RefundReply(
        base::Result<Answer, WechatApiError> answer, std::string_view out_refund_no) const;
    base::Result<Answer, WechatApiError> Call(const char* method,
                                              const std::string& path_with_query,
                                              const std::string& body, base::TimePoint now) const;

    WechatMerchant merchant_;
    PrivateKey merchant_key_;
    WechatPlatformKey platform_;
    std::string apiv3_key_;
    std::chrono::milliseconds timeout_;
};

}  // namespace inkstone::lib::payments
