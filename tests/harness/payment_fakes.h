#pragma once
/// Local fakes of the Alipay gateway and the WeChat Pay API v3, for tests of the payment clients
/// and of live mode end to end. Each fake checks a request's signature with the merchant's public
/// key the way the provider does (an unsigned refusal otherwise) and answers signed with a
/// "provider" key the test generated; what it answers is a script the test sets. Plus the
/// config of a complete live setup pointing at them, with its key files written at test time.
///
/// No key is ever committed: every key here is passed in by the test, which generates it.
/// Thread-safe: scripts may be swapped while the pool is calling the fakes.
#include <json/value.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "lib/base/clock.h"
#include "lib/payments/crypto.h"
#include "tests/harness/fake_http_server.h"

namespace inkstone::testing {

/// POST {gateway}?{signed common params} with the form body `biz_content`, as AlipayClient
/// sends alipay.trade.query.
class FakeAlipayGateway {
  public:
    /// The answer to an authentic alipay.trade.query for `out_trade_no`.
    using QueryScript = std::function<FakeResponse(const std::string& out_trade_no)>;

    /// `app_key`: the app's public key (verifies requests); `alipay_key` signs the answers.
    FakeAlipayGateway(std::string app_id, lib::payments::PublicKey app_key,
                      lib::payments::PrivateKey alipay_key);

    /// The answer to an authentic alipay.trade.refund, given its biz_content.
    using RefundScript = std::function<FakeResponse(const Json::Value& biz)>;
    /// nullptr (the default) answers ACQ.TRADE_NOT_EXIST for every trade.
    void SetQueryScript(QueryScript script);
    /// nullptr (the default) accepts every refund (code 10000, fund_change Y).
    void SetRefundScript(RefundScript script);
    /// Authentic alipay.trade.refund requests received.
    int refund_requests() const { return refund_requests_; }
    /// `{"alipay_trade_refund_response":<response_json>,"sign":...}` signed with the Alipay key.
    FakeResponse SignedRefund(const std::string& response_json) const;

    /// `http://127.0.0.1:PORT/gateway.do`
    std::string gateway() const { return server_->BaseUrl() + "/gateway.do"; }
    /// Requests whose signature verified.
    int verified_requests() const { return verified_; }

    // --- answers for scripts ---
    /// `{"alipay_trade_query_response":<response_json>,"sign":...}` signed with the Alipay key.
    FakeResponse Signed(const std::string& response_json) const;
    /// The same signed with any key (a forgery when it is not the Alipay key).
    static FakeResponse SignedWith(const std::string& response_json,
                                   const lib::payments::PrivateKey& key);
    /// A code 10000 trade object: `status` (TRADE_SUCCESS, WAIT_BUYER_PAY, ...), `amount` in
    /// Alipay's yuan syntax ("10.00"), the out_trade_no it claims to be about, and trade_no.
    static std::string TradeJson(const std::string& status, const std::string& amount,
                                 const std::string& out_trade_no,
                                 const std::string& trade_no = "2026010122001400000000000001");
    /// The signed ACQ.TRADE_NOT_EXIST answer.
    FakeResponse NotExist(const std::string& out_trade_no) const;

  private:
    FakeResponse Answer(const FakeRequest& request);

    const std::string app_id_;
    const lib::payments::PublicKey app_key_;
    const lib::payments::PrivateKey alipay_key_;
    mutable std::mutex mutex_;
    QueryScript script_;
    RefundScript refund_script_;
    std::atomic<int> verified_{0};
    std::atomic<int> refund_requests_{0};
    std::unique_ptr<FakeHttpServer> server_;  // last: its thread stops before the rest goes
};

/// WeChat Pay API v3: POST /v3/pay/transactions/native and GET
/// /v3/pay/transactions/out-trade-no/{no}?mchid=, authenticated by the WECHATPAY2-SHA256-RSA2048
/// Authorization header (401 SIGN_ERROR, unsigned, otherwise); requests also need a User-Agent
/// and `Accept: application/json`. Every other answer is signed with the platform key.
class FakeWechatApi {
  public:
    struct Ids {
        std::string mchid;
        std::string appid;
        std::string merchant_serial;
        std::string platform_serial;
    };
    /// The answer to a well-formed Native order (appid, mchid, CNY, integer total, notify_url and
    /// description already checked: 400 PARAM_ERROR otherwise).
    using NativeScript = std::function<FakeResponse(const Json::Value& order)>;
    /// The answer to a query by out_trade_no (as it appears in the path, still percent-encoded).
    using QueryScript = std::function<FakeResponse(const std::string& out_trade_no)>;

    /// `merchant_key` verifies requests; `platform_key` signs answers.
    FakeWechatApi(Ids ids, lib::payments::PublicKey merchant_key,
                  lib::payments::PrivateKey platform_key);

    /// nullptr (the default) answers 200 `{"code_url":"weixin://wxpay/bizpayurl?pr=<no>"}`.
    void SetNativeScript(NativeScript script);
    /// The answer to a well-formed refund request (POST /v3/refund/domestic/refunds).
    using RefundScript = std::function<FakeResponse(const Json::Value& refund)>;
    /// The answer to GET /v3/refund/domestic/refunds/{out_refund_no}.
    using RefundQueryScript = std::function<FakeResponse(const std::string& out_refund_no)>;
    /// nullptr (the default) answers 404 ORDER_NOT_EXIST.
    void SetQueryScript(QueryScript script);
    /// nullptr (the default) answers 200 PROCESSING (RefundJson).
    void SetRefundScript(RefundScript script);
    /// nullptr (the default) answers 404 RESOURCE_NOT_EXISTS.
    void SetRefundQueryScript(RefundQueryScript script);
    /// Verified refund requests and refund queries received.
    int refund_requests() const { return refund_requests_; }
    int refund_queries() const { return refund_queries_; }
    /// A refund object as WeChat Pay answers it (`status`), about `out_refund_no`.
    static std::string RefundJson(const std::string& status, const std::string& out_trade_no,
                                  const std::string& out_refund_no, int64_t refund_fen,
                                  int64_t total_fen);

    std::string base() const { return server_->BaseUrl(); }
    int verified_requests() const { return verified_; }
    /// Native orders received with a verified signature.
    int native_orders() const { return native_orders_; }
    std::set<std::string> nonces() const;
    /// The body of the last Native order, parsed.
    Json::Value last_order() const;

    // --- answers for scripts ---
    /// `body` with status `status`, signed with the platform key as WeChat Pay signs answers.
    FakeResponse Signed(int status, const std::string& body) const;
    /// The same with any key, serial and time (forgeries, wrong serials, stale answers).
    static FakeResponse SignedWith(int status, const std::string& body,
                                   const lib::payments::PrivateKey& key, const std::string& serial,
                                   lib::base::TimePoint at);
    /// A transaction object of this merchant in `state` (SUCCESS adds transaction_id, amount and
    /// success_time) about `out_trade_no`.
    std::string TransactionJson(
        const std::string& state, const std::string& out_trade_no, int64_t total_fen = 1000,
        const std::string& transaction_id = "4200000000202601010000000001") const;

  private:
    FakeResponse Answer(const FakeRequest& request);

    const Ids ids_;
    const lib::payments::PublicKey merchant_key_;
    const lib::payments::PrivateKey platform_key_;
    mutable std::mutex mutex_;
    NativeScript native_script_;
    QueryScript query_script_;
    RefundScript refund_script_;
    RefundQueryScript refund_query_script_;
    std::atomic<int> refund_requests_{0};
    std::atomic<int> refund_queries_{0};
    std::set<std::string> nonces_;
    Json::Value last_order_;
    std::atomic<int> verified_{0};
    std::atomic<int> native_orders_{0};
    std::unique_ptr<FakeHttpServer> server_;  // last: its thread stops before the rest goes
};

/// Everything a complete live payment setup consists of, keys as PEM text.
struct LivePaymentSetup {
    std::string public_base_url;
    std::string alipay_app_id;
    std::string alipay_gateway;
    std::string alipay_seller_id;  ///< optional
    std::string alipay_app_private_pem;
    std::string alipay_public_pem;  ///< Alipay's key
    std::string wechat_mchid;
    std::string wechat_appid;
    std::string wechat_apiv3_key;
    std::string wechat_merchant_serial;
    std::string wechat_platform_serial;
    std::string wechat_api_base;
    std::string wechat_merchant_private_pem;
    std::string wechat_platform_public_pem;
};

/// Writes the four key files into `dir` (mode 0600 for the private ones) and returns the
/// inkstone.conf keys of `payment.mode = live` with this setup.
std::map<std::string, std::string> LivePaymentConfig(const std::string& dir,
                                                     const LivePaymentSetup& setup);

}  // namespace inkstone::testing
