#include "tests/harness/payment_fakes.h"

#include <json/reader.h>
#include <sys/stat.h>

#include <stdexcept>
#include <system_error>
#include <utility>

#include "lib/http/message.h"
#include "lib/payments/alipay.h"
#include "lib/payments/wechatpay.h"
#include "tests/harness/process.h"

namespace inkstone::testing {
namespace {

constexpr char kQueryResponseName[] = "alipay_trade_query_response";

Json::Value ParseJson(const std::string& text) {
    Json::Value value;
    std::string errors;
    const std::unique_ptr<Json::CharReader> reader(Json::CharReaderBuilder().newCharReader());
    if (!reader->parse(text.data(), text.data() + text.size(), &value, &errors)) {
        return Json::Value();
    }
    return value;
}

FakeResponse Json200(const std::string& body) {
    // The gateway really labels its JSON text/html.
    return FakeResponse{200, {{"Content-Type", "text/html;charset=utf-8"}}, body};
}

void WriteSecretFile(const std::string& path, const std::string& content) {
    WriteFile(path, content);
    if (chmod(path.c_str(), 0600) != 0) {
        throw std::system_error(errno, std::generic_category(), "chmod " + path);
    }
}

}  // namespace

// --- Alipay ---

FakeAlipayGateway::FakeAlipayGateway(std::string app_id, lib::payments::PublicKey app_key,
                                     lib::payments::PrivateKey alipay_key)
    : app_id_(std::move(app_id)),
      app_key_(std::move(app_key)),
      alipay_key_(std::move(alipay_key)),
      server_(std::make_unique<FakeHttpServer>(
          [this](const FakeRequest& request) { return Answer(request); })) {}

void FakeAlipayGateway::SetQueryScript(QueryScript script) {
    std::lock_guard<std::mutex> lock(mutex_);
    script_ = std::move(script);
}

FakeResponse FakeAlipayGateway::Signed(const std::string& response_json) const {
    return SignedWith(response_json, alipay_key_);
}

FakeResponse FakeAlipayGateway::SignedRefund(const std::string& response_json) const {
    return Json200(lib::payments::SignAlipayResponse("alipay_trade_refund_response", response_json,
                                                     alipay_key_));
}

void FakeAlipayGateway::SetRefundScript(RefundScript script) {
    std::lock_guard<std::mutex> lock(mutex_);
    refund_script_ = std::move(script);
}

FakeResponse FakeAlipayGateway::SignedWith(const std::string& response_json,
                                           const lib::payments::PrivateKey& key) {
    return Json200(lib::payments::SignAlipayResponse(kQueryResponseName, response_json, key));
}

std::string FakeAlipayGateway::TradeJson(const std::string& status, const std::string& amount,
                                         const std::string& out_trade_no,
                                         const std::string& trade_no) {
    Json::Value trade(Json::objectValue);
    trade["code"] = "10000";
    trade["msg"] = "Success";
    trade["buyer_logon_id"] = "abc***@example.com";
    trade["buyer_pay_amount"] = amount;
    trade["out_trade_no"] = out_trade_no;
    trade["total_amount"] = amount;
    trade["trade_no"] = trade_no;
    trade["trade_status"] = status;
    return lib::base::ToJson(trade);
}

FakeResponse FakeAlipayGateway::NotExist(const std::string& out_trade_no) const {
    Json::Value answer(Json::objectValue);
    answer["code"] = "40004";
    answer["msg"] = "Business Failed";
    answer["sub_code"] = "ACQ.TRADE_NOT_EXIST";
    answer["sub_msg"] = "交易不存在";
    answer["out_trade_no"] = out_trade_no;
    return Signed(lib::base::ToJson(answer));
}

FakeResponse FakeAlipayGateway::Answer(const FakeRequest& request) {
    const size_t question = request.target.find('?');
    if (request.method != "POST" || question == std::string::npos ||
        request.target.substr(0, question) != "/gateway.do") {
        return FakeResponse{404, {}, "no such page"};
    }
    std::optional<lib::payments::AlipayParams> params =
        lib::payments::ParseFormBody(request.target.substr(question + 1));
    const std::optional<lib::payments::AlipayParams> body =
        lib::payments::ParseFormBody(request.body);
    if (!params || !body ||
        request.Header("content-type").find("application/x-www-form-urlencoded") != 0) {
        return FakeResponse{400, {}, "bad form"};
    }
    params->insert(body->begin(), body->end());
    if (!app_key_.VerifySha256(lib::payments::AlipayRequestSigningString(*params),
                               (*params)["sign"])) {
        // The gateway refuses a bad signature without signing its answer.
        return Json200(
            R"({"alipay_trade_query_response":{"code":"40002","msg":"Invalid Arguments",)"
            R"("sub_code":"isv.invalid-signature","sub_msg":"验签出错"}})");
    }
    ++verified_;
    if ((*params)["method"] == "alipay.trade.refund" && (*params)["app_id"] == app_id_) {
        const Json::Value biz = ParseJson((*params)["biz_content"]);
        ++refund_requests_;
        RefundScript refund_script;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            refund_script = refund_script_;
        }
        if (refund_script) return refund_script(biz);
        Json::Value answer(Json::objectValue);
        answer["code"] = "10000";
        answer["msg"] = "Success";
        answer["trade_no"] = "2026010122001400000000000001";
        answer["out_trade_no"] = biz["out_trade_no"];
        answer["fund_change"] = "Y";
        answer["refund_fee"] = biz["refund_amount"];
        return SignedRefund(lib::base::ToJson(answer));
    }
    if ((*params)["method"] != "alipay.trade.query" || (*params)["app_id"] != app_id_ ||
        (*params)["sign_type"] != "RSA2" || (*params)["charset"] != "utf-8") {
        return Signed(R"({"code":"40002","msg":"Invalid Arguments","sub_code":"isv.x"})");
    }
    const std::string out_trade_no = ParseJson((*params)["biz_content"])["out_trade_no"].asString();
    QueryScript script;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        script = script_;
    }
    return script ? script(out_trade_no) : NotExist(out_trade_no);
}

// --- WeChat Pay ---

FakeWechatApi::FakeWechatApi(Ids ids, lib::payments::PublicKey merchant_key,
                             lib::payments::PrivateKey platform_key)
    : ids_(std::move(ids)),
      merchant_key_(std::move(merchant_key)),
      platform_key_(std::move(platform_key)),
      server_(std::make_unique<FakeHttpServer>(
          [this](const FakeRequest& request) { return Answer(request); })) {}

void FakeWechatApi::SetNativeScript(NativeScript script) {
    std::lock_guard<std::mutex> lock(mutex_);
    native_script_ = std::move(script);
}

void FakeWechatApi::SetQueryScript(QueryScript script) {
    std::lock_guard<std::mutex> lock(mutex_);
    query_script_ = std::move(script);
}

std::set<std::string> FakeWechatApi::nonces() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return nonces_;
}

Json::Value FakeWechatApi::last_order() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_order_;
}

FakeResponse FakeWechatApi::Signed(int status, const std::string& body) const {
    return SignedWith(status, body, platform_key_, ids_.platform_serial,
                      std::chrono::system_clock::now());
}

FakeResponse FakeWechatApi::SignedWith(int status, const std::string& body,
                                       const lib::payments::PrivateKey& key,
                                       const std::string& serial, lib::base::TimePoint at) {
    const lib::payments::WechatSignedHeaders h =
        lib::payments::SignWechatMessage(body, key, serial, at);
    return FakeResponse{status,
                        {{"Content-Type", "application/json; charset=utf-8"},
                         {"Request-ID", "08F78BB5AF0610D302A8F8D3D2B2C0D8"},
                         {"Wechatpay-Nonce", h.nonce},
                         {"Wechatpay-Signature", h.signature},
                         {"Wechatpay-Timestamp", h.timestamp},
                         {"Wechatpay-Serial", h.serial}},
                        body};
}

std::string FakeWechatApi::TransactionJson(const std::string& state,
                                           const std::string& out_trade_no, int64_t total_fen,
                                           const std::string& transaction_id) const {
    Json::Value transaction(Json::objectValue);
    transaction["mchid"] = ids_.mchid;
    transaction["appid"] = ids_.appid;
    transaction["out_trade_no"] = out_trade_no;
    transaction["trade_state"] = state;
    transaction["trade_state_desc"] = "";
    if (state == "SUCCESS") {
        transaction["transaction_id"] = transaction_id;
        transaction["trade_type"] = "NATIVE";
        transaction["success_time"] = "2026-01-01T08:01:01+08:00";
        Json::Value amount(Json::objectValue);
        amount["total"] = Json::Int64{total_fen};
        amount["payer_total"] = Json::Int64{total_fen};
        amount["currency"] = "CNY";
        transaction["amount"] = amount;
    }
    return lib::base::ToJson(transaction);
}

FakeResponse FakeWechatApi::Answer(const FakeRequest& request) {
    const std::optional<lib::payments::WechatAuthorization> auth =
        lib::payments::ParseWechatAuthorization(request.Header("authorization"));
    const bool verified =
        auth && auth->mchid == ids_.mchid && auth->serial_no == ids_.merchant_serial &&
        merchant_key_.VerifySha256(
            lib::payments::WechatRequestMessage(request.method, request.target, auth->timestamp,
                                                auth->nonce_str, request.body),
            auth->signature);
    if (!verified) {
        return FakeResponse{401,
                            {{"Content-Type", "application/json"}},
                            R"({"code":"SIGN_ERROR","message":"签名错误"})"};
    }
    ++verified_;
    NativeScript native_script;
    QueryScript query_script;
    RefundScript refund_script;
    RefundQueryScript refund_query_script;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        nonces_.insert(auth->nonce_str);
        native_script = native_script_;
        query_script = query_script_;
        refund_script = refund_script_;
        refund_query_script = refund_query_script_;
    }
    if (request.Header("user-agent").empty() ||
        request.Header("accept").find("application/json") == std::string::npos) {
        return Signed(400, R"({"code":"PARAM_ERROR","message":"no User-Agent or Accept"})");
    }
    if (request.method == "POST" && request.target == lib::payments::kWechatNativePath) {
        const Json::Value order = ParseJson(request.body);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            last_order_ = order;
        }
        if (request.Header("content-type").find("application/json") != 0 ||
            order["appid"].asString() != ids_.appid || order["mchid"].asString() != ids_.mchid ||
            order["amount"]["currency"].asString() != "CNY" ||
            order["amount"]["total"].type() != Json::intValue ||
            order["notify_url"].asString().empty() || order["description"].asString().empty()) {
            return Signed(400, R"({"code":"PARAM_ERROR","message":"参数错误"})");
        }
        ++native_orders_;
        if (native_script) return native_script(order);
        Json::Value answer(Json::objectValue);
        answer["code_url"] = "weixin://wxpay/bizpayurl?pr=" + order["out_trade_no"].asString();
        return Signed(200, lib::base::ToJson(answer));
    }
    if (request.method == "POST" && request.target == lib::payments::kWechatRefundPath) {
        const Json::Value refund = ParseJson(request.body);
        if (refund["out_trade_no"].asString().empty() ||
            refund["out_refund_no"].asString().empty() ||
            refund["amount"]["currency"].asString() != "CNY" ||
            refund["amount"]["refund"].type() != Json::intValue ||
            refund["amount"]["total"].type() != Json::intValue) {
            return Signed(400, R"({"code":"PARAM_ERROR","message":"参数错误"})");
        }
        ++refund_requests_;
        if (refund_script) return refund_script(refund);
        return Signed(200, RefundJson("PROCESSING", refund["out_trade_no"].asString(),
                                      refund["out_refund_no"].asString(),
                                      refund["amount"]["refund"].asInt64(),
                                      refund["amount"]["total"].asInt64()));
    }
    const std::string refund_prefix = std::string(lib::payments::kWechatRefundPath) + "/";
    if (request.method == "GET" && request.target.rfind(refund_prefix, 0) == 0) {
        ++refund_queries_;
        const std::string out_refund_no = request.target.substr(refund_prefix.size());
        if (refund_query_script) return refund_query_script(out_refund_no);
        return Signed(404, R"({"code":"RESOURCE_NOT_EXISTS","message":"退款单不存在"})");
    }
    const std::string query_prefix = "/v3/pay/transactions/out-trade-no/";
    const std::string mchid_suffix = "?mchid=" + ids_.mchid;
    if (request.method == "GET" && request.target.rfind(query_prefix, 0) == 0 &&
        request.target.size() > query_prefix.size() + mchid_suffix.size() &&
        request.target.compare(request.target.size() - mchid_suffix.size(), mchid_suffix.size(),
                               mchid_suffix) == 0) {
        const std::string out_trade_no = request.target.substr(
            query_prefix.size(), request.target.size() - query_prefix.size() - mchid_suffix.size());
        if (query_script) return query_script(out_trade_no);
        return Signed(404, R"({"code":"ORDER_NOT_EXIST","message":"订单不存在"})");
    }
    return Signed(404, R"({"code":"NOT_FOUND","message":"no such API"})");
}

void FakeWechatApi::SetRefundScript(RefundScript script) {
    std::lock_guard<std::mutex> lock(mutex_);
    refund_script_ = std::move(script);
}

void FakeWechatApi::SetRefundQueryScript(RefundQueryScript script) {
    std::lock_guard<std::mutex> lock(mutex_);
    refund_query_script_ = std::move(script);
}

std::string FakeWechatApi::RefundJson(const std::string& status, const std::string& out_trade_no,
                                      const std::string& out_refund_no, int64_t refund_fen,
                                      int64_t total_fen) {
    Json::Value refund(Json::objectValue);
    refund["refund_id"] = "50300000002026010100000000001";
    refund["out_refund_no"] = out_refund_no;
    refund["transaction_id"] = "4200000000202601010000000001";
    refund["out_trade_no"] = out_trade_no;
    refund["channel"] = "ORIGINAL";
    refund["user_received_account"] = "支付用户零钱";
    refund["create_time"] = "2026-01-01T08:00:00+08:00";
    refund["status"] = status;
    refund["amount"]["refund"] = Json::Int64{refund_fen};
    refund["amount"]["total"] = Json::Int64{total_fen};
    refund["amount"]["payer_total"] = Json::Int64{total_fen};
    refund["amount"]["payer_refund"] = Json::Int64{refund_fen};
    refund["amount"]["currency"] = "CNY";
    return lib::base::ToJson(refund);
}

// --- live config ---

std::map<std::string, std::string> LivePaymentConfig(const std::string& dir,
                                                     const LivePaymentSetup& setup) {
    const std::string alipay_private = dir + "/alipay_app_private_key.pem";
    const std::string alipay_public = dir + "/alipay_public_key.pem";
    const std::string wechat_private = dir + "/apiclient_key.pem";
    const std::string wechat_public = dir + "/wechatpay_public_key.pem";
    WriteSecretFile(alipay_private, setup.alipay_app_private_pem);
    WriteFile(alipay_public, setup.alipay_public_pem);
    WriteSecretFile(wechat_private, setup.wechat_merchant_private_pem);
    WriteFile(wechat_public, setup.wechat_platform_public_pem);
    std::map<std::string, std::string> config = {
        {"payment.mode", "live"},
        {"public_base_url", setup.public_base_url},
        {"alipay.app_id", setup.alipay_app_id},
        {"alipay.private_key_file", alipay_private},
        {"alipay.public_key_file", alipay_public},
        {"alipay.gateway", setup.alipay_gateway},
        {"wechat.mchid", setup.wechat_mchid},
        {"wechat.appid", setup.wechat_appid},
        {"wechat.apiv3_key", setup.wechat_apiv3_key},
        {"wechat.private_key_file", wechat_private},
        {"wechat.merchant_serial", setup.wechat_merchant_serial},
        {"wechat.platform_public_key_file", wechat_public},
        {"wechat.platform_serial", setup.wechat_platform_serial},
        {"wechat.api_base", setup.wechat_api_base},
    };
    if (!setup.alipay_seller_id.empty()) config["alipay.seller_id"] = setup.alipay_seller_id;
    return config;
}

}  // namespace inkstone::testing
