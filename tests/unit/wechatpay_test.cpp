#include "lib/payments/wechatpay.h"

#include <gtest/gtest.h>
#include <json/reader.h>
#include <json/value.h>

#include <chrono>
#include <string>

#include "lib/http/message.h"
#include "tests/unit/payment_test_keys.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::http;
using namespace inkstone::lib::payments;
namespace {

using std::chrono::seconds;
using testing::MerchantKey;
using testing::ProviderKey;
using testing::StrangerKey;

const TimePoint kNow = TimePoint(seconds(1767225600));  // 2026-01-01T00:00:00Z
const char kPlatformSerial[] = "PUB_KEY_ID_0114232134912410000000000000000000";

WechatMerchant TestMerchant() {
    WechatMerchant merchant;
    merchant.mchid = "1900000001";
    merchant.appid = "wx0000000000000001";
    merchant.merchant_serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
    merchant.notify_url = "https://pay.example.com/api/v1/payment/wechat/notify";
    return merchant;
}

const WechatPlatformKey& Platform() {
    static const WechatPlatformKey platform{kPlatformSerial, ProviderKey().Public()};
    return platform;
}

const std::string& ApiV3Key() {
    static const std::string key = testing::TestApiV3Key();
    return key;
}

Json::Value ParseJson(const std::string& text) {
    Json::Value value;
    std::string errors;
    const std::unique_ptr<Json::CharReader> reader(Json::CharReaderBuilder().newCharReader());
    EXPECT_TRUE(reader->parse(text.data(), text.data() + text.size(), &value, &errors)) << text;
    return value;
}

std::string PaidTransactionJson() {
    return R"({"mchid":"1900000001","appid":"wx0000000000000001",)"
           R"("out_trade_no":"IS20260101000001","transaction_id":"4200000000202601010000000001",)"
           R"("trade_type":"NATIVE","trade_state":"SUCCESS","trade_state_desc":"支付成功",)"
           R"("bank_type":"OTHERS","attach":"","success_time":"2026-01-01T08:01:01+08:00",)"
           R"("payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},)"
           R"("amount":{"total":1000,"payer_total":1000,"currency":"CNY","payer_currency":"CNY"}})";
}

Result<WechatNotification, WechatNotifyError> VerifyAt(const WechatSignedMessage& message,
                                                       TimePoint now) {
    return VerifyWechatNotify(message.headers, message.body, Platform(), ApiV3Key(), now);
}

Result<WechatNotification, WechatNotifyError> Verify(const WechatSignedMessage& message) {
    return VerifyAt(message, kNow);
}

/// A notify envelope around `resource`, signed by the platform key: lets a test break the
/// resource while keeping the signature valid.
WechatSignedMessage SignedEnvelope(const Json::Value& resource) {
    Json::Value envelope(Json::objectValue);
    envelope["id"] = "EV-2026";
    envelope["create_time"] = "2026-01-01T08:01:02+08:00";
    envelope["resource_type"] = "encrypt-resource";
    envelope["event_type"] = "TRANSACTION.SUCCESS";
    envelope["summary"] = "支付成功";
    envelope["resource"] = resource;
    WechatSignedMessage message;
    message.body = ToJson(envelope);
    message.headers = SignWechatMessage(message.body, ProviderKey(), kPlatformSerial, kNow);
    return message;
}

Json::Value Resource(const std::string& sealed, const std::string& nonce = "n0nce1234567",
                     const std::string& aad = "transaction") {
    Json::Value resource(Json::objectValue);
    resource["original_type"] = "transaction";
    resource["algorithm"] = "AEAD_AES_256_GCM";
    resource["ciphertext"] = Base64Encode(sealed);
    resource["associated_data"] = aad;
    resource["nonce"] = nonce;
    return resource;
}

std::string Seal(const std::string& plaintext, const std::string& key = ApiV3Key()) {
    return Aes256GcmEncrypt(key, "n0nce1234567", "transaction", plaintext);
}

// --- request signatures ---

TEST(WechatTimeTest, BeijingRfc3339BothWays) {
    EXPECT_EQ(WechatTime(kNow), "2026-01-01T08:00:00+08:00");
    EXPECT_EQ(WechatTime(kNow - std::chrono::hours(9)), "2025-12-31T23:00:00+08:00");
    EXPECT_EQ(ParseWechatTime("2026-01-01T08:00:00+08:00"), kNow);
    EXPECT_EQ(ParseWechatTime("2026-01-01T00:00:00Z"), kNow);
    EXPECT_EQ(ParseWechatTime("2025-12-31T19:30:00-04:30"), kNow);
    for (const char* bad :
         {"", "2026-01-01 08:00:00+08:00", "2026-01-01T08:00:00", "2026-01-01T08:00:00+8:00",
          "2026-01-01T08:00:00+08:00:00", "2026-01-01T08:00:00.5+08:00",
          "2026-02-30T08:00:00+08:00", "2026-01-01T08:00:00+24:00", "2026-01-01T08:00:00z"}) {
        EXPECT_FALSE(ParseWechatTime(bad)) << bad;
    }
}

TEST(WechatMessage, FiveAndThreeLinesEachEndingInNewline) {
    EXPECT_EQ(WechatRequestMessage("GET", "/v3/certificates", "1554208460",
                                   "593BEC0C930BF1AFEB40B4A08C8FB242", ""),
              "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n");
    EXPECT_EQ(WechatRequestMessage("POST", "/v3/pay/transactions/native", "1", "N", "{}\n"),
              "POST\n/v3/pay/transactions/native\n1\nN\n{}\n\n");
    EXPECT_EQ(WechatResponseMessage("1554209980", "c5ac7061fccab6bf3e254dcf98995b8c", "{\"a\":1}"),
              "1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{\"a\":1}\n");
    EXPECT_EQ(WechatResponseMessage("1", "N", ""), "1\nN\n\n");
}

TEST(WechatAuthorizationTest, HeaderVerifiesWithTheMerchantPublicKey) {
    const std::string body = BuildWechatNativeOrderBody(
        TestMerchant(), {"IS20260101000001", "写作积分 1000", 1000, std::nullopt});
    const std::string header =
        BuildWechatAuthorization(TestMerchant(), MerchantKey(), "POST", kWechatNativePath, body,
                                 1767225600, "593BEC0C930BF1AFEB40B4A08C8FB242");
    const std::string prefix =
        "WECHATPAY2-SHA256-RSA2048 "
        "mchid=\"1900000001\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\","
        "signature=\"";
    const std::string suffix =
        "\",timestamp=\"1767225600\",serial_no=\"5157F09EFDC096DE15EBE81A47057A7232F1B8E1\"";
    ASSERT_EQ(header.substr(0, prefix.size()), prefix) << header;
    ASSERT_EQ(header.substr(header.size() - suffix.size()), suffix) << header;

    const auto parsed = ParseWechatAuthorization(header);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->mchid, "1900000001");
    EXPECT_EQ(parsed->nonce_str, "593BEC0C930BF1AFEB40B4A08C8FB242");
    EXPECT_EQ(parsed->timestamp, "1767225600");
    EXPECT_EQ(parsed->serial_no, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
    const PublicKey merchant_public = MerchantKey().Public();
    const auto message = [&](const char* method, const char* path, const std::string& b) {
        return WechatRequestMessage(method, path, parsed->timestamp, parsed->nonce_str, b);
    };
    EXPECT_TRUE(
        merchant_public.VerifySha256(message("POST", kWechatNativePath, body), parsed->signature));
    EXPECT_FALSE(
        merchant_public.VerifySha256(message("GET", kWechatNativePath, body), parsed->signature));
    EXPECT_FALSE(merchant_public.VerifySha256(message("POST", "/v3/pay/transactions/jsapi", body),
                                              parsed->signature));
    EXPECT_FALSE(merchant_public.VerifySha256(message("POST", kWechatNativePath, body + " "),
                                              parsed->signature));
    EXPECT_FALSE(StrangerKey().Public().VerifySha256(message("POST", kWechatNativePath, body),
                                                     parsed->signature));

    // A GET signs an empty body line.
    const std::string path = WechatQueryPath("IS20260101000001", "1900000001");
    const auto get = ParseWechatAuthorization(
        BuildWechatAuthorization(TestMerchant(), MerchantKey(), "GET", path, "", 7, "N1"));
    ASSERT_TRUE(get);
    EXPECT_TRUE(merchant_public.VerifySha256(
        "GET\n/v3/pay/transactions/out-trade-no/IS20260101000001?mchid=1900000001\n7\nN1\n\n",
        get->signature));
}

TEST(WechatAuthorizationTest, ParseRejectsMalformedHeaders) {
    const std::string good =
        R"(WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",signature="s",timestamp="1",serial_no="x")";
    ASSERT_TRUE(ParseWechatAuthorization(good));
    EXPECT_TRUE(ParseWechatAuthorization(
        R"(WECHATPAY2-SHA256-RSA2048 serial_no="x", timestamp="1", signature="s", nonce_str="n", mchid="1")"));
    for (
        const std::string& bad : {
            std::string(""),
            std::string("WECHATPAY2-SHA256-RSA2048"),
            std::string("Bearer x"),
            good.substr(0, good.size() - 1),
            std::string(
                R"(WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",signature="s",timestamp="1")"),
            good + R"(,extra="1")",
            good + R"(,mchid="2")",
            std::string(
                R"(WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str="n",signature="s",timestamp="1",serial_no="x")"),
            std::string(
                R"(WECHATPAY2-SHA256-RSA2048 mchid="1";nonce_str="n",signature="s",timestamp="1",serial_no="x")"),
            std::string(
                R"(wechatpay2-sha256-rsa2048 mchid="1",nonce_str="n",signature="s",timestamp="1",serial_no="x")"),
        }) {
        EXPECT_FALSE(ParseWechatAuthorization(bad)) << bad;
    }
}

// --- orders ---

TEST(WechatNativeOrderTest, BodyHasExactlyTheDocumentedFields) {
    const Json::Value body = ParseJson(BuildWechatNativeOrderBody(
        TestMerchant(), {"IS20260101000001", "写作积分 1000", 1000, std::nullopt}));
    EXPECT_EQ(body["appid"].asString(), "wx0000000000000001");
    EXPECT_EQ(body["mchid"].asString(), "1900000001");
    EXPECT_EQ(body["description"].asString(), "写作积分 1000");
    EXPECT_EQ(body["out_trade_no"].asString(), "IS20260101000001");
    EXPECT_EQ(body["notify_url"].asString(),
              "https://pay.example.com/api/v1/payment/wechat/notify");
    EXPECT_TRUE(body["amount"]["total"].isIntegral());
    EXPECT_EQ(body["amount"]["total"].type(), Json::intValue);
    EXPECT_EQ(body["amount"]["total"].asInt64(), 1000);
    EXPECT_EQ(body["amount"]["currency"].asString(), "CNY");
    EXPECT_EQ(body["amount"].size(), 2u);
    EXPECT_EQ(body.size(), 6u);

    const Json::Value expiring = ParseJson(BuildWechatNativeOrderBody(
        TestMerchant(), {"IS20260101000001", "d", 1, kNow + std::chrono::minutes(30)}));
    EXPECT_EQ(expiring["time_expire"].asString(), "2026-01-01T08:30:00+08:00");
}

TEST(WechatNativeOrderTest, RejectsOrdersOutsideTheLimits) {
    const auto build = [](WechatNativeOrder order) {
        return BuildWechatNativeOrderBody(TestMerchant(), order);
    };
    EXPECT_THROW(build({"IS123", "d", 1, std::nullopt}), std::invalid_argument);  // < 6
    EXPECT_THROW(build({std::string(33, 'a'), "d", 1, std::nullopt}), std::invalid_argument);
    EXPECT_THROW(build({"IS 12345", "d", 1, std::nullopt}), std::invalid_argument);
    EXPECT_THROW(build({"IS/12345", "d", 1, std::nullopt}), std::invalid_argument);
    EXPECT_THROW(build({"IS123456", "", 1, std::nullopt}), std::invalid_argument);
    EXPECT_THROW(build({"IS123456", std::string(128, 'd'), 1, std::nullopt}),
                 std::invalid_argument);
    EXPECT_THROW(build({"IS123456", "d", 0, std::nullopt}), std::invalid_argument);
    EXPECT_THROW(build({"IS123456", "d", -1, std::nullopt}), std::invalid_argument);
    EXPECT_THROW(build({"IS123456", "d", 2147483648LL, std::nullopt}), std::invalid_argument);
    EXPECT_NO_THROW(build({"a_b-c|d*", std::string(127, 'd'), 2147483647LL, std::nullopt}));
    WechatMerchant no_notify = TestMerchant();
    no_notify.notify_url.clear();
    EXPECT_THROW(BuildWechatNativeOrderBody(no_notify, {"IS123456", "d", 1, std::nullopt}),
                 std::invalid_argument);
}

TEST(WechatNativeOrderTest, QueryPathIsPercentEncoded) {
    EXPECT_EQ(WechatQueryPath("IS20260101000001", "1900000001"),
              "/v3/pay/transactions/out-trade-no/IS20260101000001?mchid=1900000001");
    EXPECT_EQ(WechatQueryPath("IS_01-a|b*", "1900000001"),
              "/v3/pay/transactions/out-trade-no/IS_01-a%7Cb%2A?mchid=1900000001");
    EXPECT_THROW(WechatQueryPath("../../x", "1"), std::invalid_argument);
}

TEST(WechatNativeOrderTest, ResponseCarriesTheCodeUrl) {
    const auto ok =
        ParseWechatNativeOrderResponse(R"({"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"})");
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok.value(), "weixin://wxpay/bizpayurl?pr=p4lpSuKzz");
    for (const char* bad : {"", "{}", R"({"code_url":""})", R"({"code_url":1})", "[]",
                            R"({"code_url":"a","code_url":"b"})"}) {
        EXPECT_EQ(ParseWechatNativeOrderResponse(bad).error(), WechatApiError::kMalformedResponse)
            << bad;
    }
}

// --- transactions ---

TEST(WechatTransactionTest, ParsesPaidAndUnpaidTransactions) {
    auto paid = ParseWechatTransaction(PaidTransactionJson());
    ASSERT_TRUE(paid.ok()) << paid.detail();
    EXPECT_EQ(paid.value().mchid, "1900000001");
    EXPECT_EQ(paid.value().appid, "wx0000000000000001");
    EXPECT_EQ(paid.value().out_trade_no, "IS20260101000001");
    EXPECT_EQ(paid.value().transaction_id, "4200000000202601010000000001");
    EXPECT_EQ(paid.value().trade_type, "NATIVE");
    EXPECT_EQ(paid.value().trade_state, "SUCCESS");
    EXPECT_EQ(paid.value().amount_total_fen, 1000);
    EXPECT_EQ(paid.value().success_time, "2026-01-01T08:01:01+08:00");
    EXPECT_TRUE(paid.value().IsPaid());

    const auto unpaid = ParseWechatTransaction(
        R"({"mchid":"1","appid":"wx","out_trade_no":"IS123456","trade_state":"NOTPAY",)"
        R"("trade_state_desc":"订单未支付","amount":{"payer_currency":"CNY"}})");
    ASSERT_TRUE(unpaid.ok()) << unpaid.detail();
    EXPECT_FALSE(unpaid.value().IsPaid());
    EXPECT_EQ(unpaid.value().amount_total_fen, 0);
    EXPECT_EQ(unpaid.value().transaction_id, "");
}

TEST(WechatTransactionTest, RejectsMalformedTransactions) {
    const std::string paid = PaidTransactionJson();
    const auto replaced = [&](const std::string& from, const std::string& to) {
        std::string text = paid;
        const size_t at = text.find(from);
        EXPECT_NE(at, std::string::npos) << from;
        return text.replace(at, from.size(), to);
    };
    for (const std::string& bad : {
             replaced(R"("total":1000,)", R"("total":1000.0,)"),
             replaced(R"("total":1000,)", R"("total":"1000",)"),
             replaced(R"("total":1000,)", R"("total":-1,)"),
             replaced(R"("total":1000,)", R"("total":1e3,)"),
             replaced(R"("total":1000,)", R"("total":99999999999999999999,)"),
             replaced(R"("total":1000,)", ""),
             replaced(R"("transaction_id":"4200000000202601010000000001",)", ""),
             replaced(R"("mchid":"1900000001",)", ""),
             replaced(R"("appid":"wx0000000000000001",)", R"("appid":7,)"),
             replaced(R"("trade_state":"SUCCESS",)", ""),
             replaced(R"("out_trade_no":"IS20260101000001",)", ""),
             std::string("not json"),
             std::string("[]"),
             paid + "x",
         }) {
        EXPECT_FALSE(ParseWechatTransaction(bad).ok()) << bad;
    }
}

// --- notifies ---

TEST(WechatNotify, AGoodNotifyVerifiesAndDecrypts) {
    const WechatSignedMessage message =
        BuildWechatNotify(PaidTransactionJson(), ApiV3Key(), ProviderKey(), kPlatformSerial, kNow);
    EXPECT_EQ(message.headers.serial, kPlatformSerial);
    EXPECT_EQ(message.headers.timestamp, "1767225600");
    const auto result = Verify(message);
    ASSERT_TRUE(result.ok()) << result.detail();
    EXPECT_EQ(result.value().event_type, "TRANSACTION.SUCCESS");
    EXPECT_FALSE(result.value().id.empty());
    const WechatTransaction& t = result.value().transaction;
    EXPECT_EQ(t.mchid, "1900000001");
    EXPECT_EQ(t.appid, "wx0000000000000001");
    EXPECT_EQ(t.out_trade_no, "IS20260101000001");
    EXPECT_EQ(t.transaction_id, "4200000000202601010000000001");
    EXPECT_EQ(t.trade_state, "SUCCESS");
    EXPECT_EQ(t.amount_total_fen, 1000);
    EXPECT_EQ(t.success_time, "2026-01-01T08:01:01+08:00");

    // The headers as a handler sees them: lower-case names in lib::http::Request::headers.
    const WechatSignedHeaders from_request =
        WechatSignedHeaders::From({{"wechatpay-timestamp", message.headers.timestamp},
                                   {"wechatpay-nonce", message.headers.nonce},
                                   {"wechatpay-signature", message.headers.signature},
                                   {"wechatpay-serial", message.headers.serial},
                                   {"request-id", "08F78BB5AF0610D302A8F8D3D2B2C0D8"}});
    EXPECT_TRUE(VerifyWechatNotify(from_request, message.body, Platform(), ApiV3Key(), kNow).ok());
}

TEST(WechatNotify, BadSignatures) {
    const WechatSignedMessage good =
        BuildWechatNotify(PaidTransactionJson(), ApiV3Key(), ProviderKey(), kPlatformSerial, kNow);

    WechatSignedMessage forged =
        BuildWechatNotify(PaidTransactionJson(), ApiV3Key(), StrangerKey(), kPlatformSerial, kNow);
    EXPECT_EQ(Verify(forged).error(), WechatNotifyError::kBadSignature);
    // Signed with the merchant's own key: the merchant API key is never WeChat Pay's.
    forged =
        BuildWechatNotify(PaidTransactionJson(), ApiV3Key(), MerchantKey(), kPlatformSerial, kNow);
    EXPECT_EQ(Verify(forged).error(), WechatNotifyError::kBadSignature);

    WechatSignedMessage changed = good;
    std::string raw = *Base64Decode(good.headers.signature);
    raw[0] = static_cast<char>(raw[0] ^ 0x80);
    changed.headers.signature = Base64Encode(raw);
    EXPECT_EQ(Verify(changed).error(), WechatNotifyError::kBadSignature);
    changed.headers.signature = "WECHATPAY/SIGNTEST/" + good.headers.signature;  // WeChat's probe
    EXPECT_EQ(Verify(changed).error(), WechatNotifyError::kBadSignature);
    changed.headers.signature = "not base64";
    EXPECT_EQ(Verify(changed).error(), WechatNotifyError::kBadSignature);

    changed = good;
    changed.headers.nonce += "x";
    EXPECT_EQ(Verify(changed).error(), WechatNotifyError::kBadSignature);
    changed = good;
    changed.headers.timestamp = std::to_string(1767225600 + 1);  // still fresh, but not signed
    EXPECT_EQ(Verify(changed).error(), WechatNotifyError::kBadSignature);
}

TEST(WechatNotify, TamperedBody) {
    const WechatSignedMessage good =
        BuildWechatNotify(PaidTransactionJson(), ApiV3Key(), ProviderKey(), kPlatformSerial, kNow);
    for (size_t at : {size_t{0}, good.body.size() / 2, good.body.size() - 1}) {
        WechatSignedMessage tampered = good;
        tampered.body[at] = tampered.body[at] == ' ' ? '\t' : ' ';
        EXPECT_EQ(Verify(tampered).error(), WechatNotifyError::kBadSignature) << at;
    }
    WechatSignedMessage tampered = good;
    tampered.body += "\n";
    EXPECT_EQ(Verify(tampered).error(), WechatNotifyError::kBadSignature);
    // Re-serialised JSON (same content, other bytes) is not what was signed.
    tampered = good;
    tampered.body = ToJson(ParseJson(good.body)) + " ";
    EXPECT_EQ(Verify(tampered).error(), WechatNotifyError::kBadSignature);
}

TEST(WechatNotify, WrongSerialAndMissingHeaders) {
    const WechatSignedMessage good =
        BuildWechatNotify(PaidTransactionJson(), ApiV3Key(), ProviderKey(), kPlatformSerial, kNow);
    WechatSignedMessage changed = good;
    changed.headers.serial = "PUB_KEY_ID_0114232134912410000000000000000001";
    EXPECT_EQ(Verify(changed).error(), WechatNotifyError::kBadSerial);
    // A notify signed under another serial by the right key is still refused.
    const WechatSignedMessage other_serial = BuildWechatNotify(
        PaidTransactionJson(), ApiV3Key(), ProviderKey(), "5157F09EFDC096DE15EBE81A47057A72", kNow);
    EXPECT_EQ(Verify(other_serial).error(), WechatNotifyError::kBadSerial);

    for (std::string WechatSignedHeaders::*field :
         {&WechatSignedHeaders::timestamp, &WechatSignedHeaders::nonce,
          &WechatSignedHeaders::signature, &WechatSignedHeaders::serial}) {
        changed = good;
        changed.headers.*field = "";
        EXPECT_EQ(Verify(changed).error(), WechatNotifyError::kMissingHeader);
    }
}

TEST(WechatNotify, TimestampWithinFiveMinutesEitherWay) {
    const WechatSignedMessage message =
        BuildWechatNotify(PaidTransactionJson(), ApiV3Key(), ProviderKey(), kPlatformSerial, kNow);
    EXPECT_TRUE(VerifyAt(message, kNow).ok());
    EXPECT_TRUE(VerifyAt(message, kNow + seconds(300)).ok());
    EXPECT_TRUE(VerifyAt(message, kNow + seconds(300) + std::chrono::milliseconds(999)).ok());
    EXPECT_TRUE(VerifyAt(message, kNow - seconds(300)).ok());
    EXPECT_EQ(VerifyAt(message, kNow + seconds(301)).error(), WechatNotifyError::kStaleTimestamp);
    EXPECT_EQ(VerifyAt(message, kNow - seconds(301)).error(), WechatNotifyError::kStaleTimestamp);
    EXPECT_EQ(VerifyAt(message, kNow + std::chrono::hours(24)).error(),
              WechatNotifyError::kStaleTimestamp);

    for (const char* bad :
         {"-1767225600", "1767225600.0", " 1767225600", "0x69", "1767225600000000", "abc"}) {
        WechatSignedMessage changed = message;
        changed.headers.timestamp = bad;
        EXPECT_EQ(Verify(changed).error(), WechatNotifyError::kStaleTimestamp) << bad;
    }
}

TEST(WechatNotify, CorruptedCiphertextTagOrWrongKey) {
    const std::string sealed = Seal(PaidTransactionJson());
    const auto good = Verify(SignedEnvelope(Resource(sealed)));
    ASSERT_TRUE(good.ok()) << good.detail();
    EXPECT_EQ(good.value().id, "EV-2026");

    std::string corrupt = sealed;
    corrupt[5] = static_cast<char>(corrupt[5] ^ 0x01);
    EXPECT_EQ(Verify(SignedEnvelope(Resource(corrupt))).error(), WechatNotifyError::kBadCiphertext);
    corrupt = sealed;
    corrupt[sealed.size() - 1] = static_cast<char>(corrupt[sealed.size() - 1] ^ 0x01);  // tag
    EXPECT_EQ(Verify(SignedEnvelope(Resource(corrupt))).error(), WechatNotifyError::kBadCiphertext);
    corrupt = sealed.substr(0, sealed.size() - 16);  // tag cut off
    EXPECT_EQ(Verify(SignedEnvelope(Resource(corrupt))).error(), WechatNotifyError::kBadCiphertext);
    EXPECT_EQ(Verify(SignedEnvelope(Resource(""))).error(), WechatNotifyError::kBadCiphertext);

    std::string other_key = ApiV3Key();
    other_key[0] = other_key[0] == 'A' ? 'B' : 'A';
    EXPECT_EQ(Verify(SignedEnvelope(Resource(Seal(PaidTransactionJson(), other_key)))).error(),
              WechatNotifyError::kBadCiphertext);
    const WechatSignedMessage message = SignedEnvelope(Resource(sealed));
    EXPECT_EQ(
        VerifyWechatNotify(message.headers, message.body, Platform(), other_key, kNow).error(),
        WechatNotifyError::kBadCiphertext);

    EXPECT_EQ(Verify(SignedEnvelope(Resource(sealed, "n0nce1234568"))).error(),
              WechatNotifyError::kBadCiphertext);
    EXPECT_EQ(Verify(SignedEnvelope(Resource(sealed, "n0nce1234567", "refund"))).error(),
              WechatNotifyError::kBadCiphertext);
    EXPECT_EQ(Verify(SignedEnvelope(Resource(sealed, "n0nce1234567", ""))).error(),
              WechatNotifyError::kBadCiphertext);
    Json::Value not_base64 = Resource(sealed);
    not_base64["ciphertext"] = "***";
    EXPECT_EQ(Verify(SignedEnvelope(not_base64)).error(), WechatNotifyError::kBadCiphertext);

    // Empty associated data is legal (it may be empty) and must match on both sides.
    const std::string no_aad =
        Aes256GcmEncrypt(ApiV3Key(), "n0nce1234567", "", PaidTransactionJson());
    EXPECT_TRUE(Verify(SignedEnvelope(Resource(no_aad, "n0nce1234567", ""))).ok());
    Json::Value null_aad = Resource(no_aad);
    null_aad.removeMember("associated_data");
    EXPECT_TRUE(Verify(SignedEnvelope(null_aad)).ok());

    EXPECT_THROW(VerifyWechatNotify(message.headers, message.body, Platform(), "short", kNow),
                 std::invalid_argument);
}

TEST(WechatNotify, MalformedEnvelopesAndPlaintexts) {
    Json::Value resource = Resource(Seal(PaidTransactionJson()));
    resource["algorithm"] = "AEAD_AES_128_GCM";
    EXPECT_EQ(Verify(SignedEnvelope(resource)).error(), WechatNotifyError::kUnsupportedResource);
    resource.removeMember("algorithm");
    EXPECT_EQ(Verify(SignedEnvelope(resource)).error(), WechatNotifyError::kUnsupportedResource);
    resource = Resource(Seal(PaidTransactionJson()));
    resource["nonce"] = 12;
    EXPECT_EQ(Verify(SignedEnvelope(resource)).error(), WechatNotifyError::kMalformedJson);
    EXPECT_EQ(Verify(SignedEnvelope(Json::Value("resource"))).error(),
              WechatNotifyError::kMalformedJson);

    for (const char* body : {"", "not json", "[]", R"({"id":"x"})", R"({"resource":1})"}) {
        WechatSignedMessage message;
        message.body = body;
        message.headers = SignWechatMessage(body, ProviderKey(), kPlatformSerial, kNow);
        EXPECT_EQ(Verify(message).error(), WechatNotifyError::kMalformedJson) << body;
    }
    for (const std::string& plaintext :
         {std::string("not json"), std::string(R"({"mchid":"1"})"),
          std::string(
              R"({"mchid":"1","appid":"wx","out_trade_no":"IS123456",)"
              R"("trade_state":"SUCCESS","transaction_id":"42","amount":{"total":"1"}})")}) {
        EXPECT_EQ(Verify(SignedEnvelope(Resource(Seal(plaintext)))).error(),
                  WechatNotifyError::kMalformedTransaction)
            << plaintext;
    }
    EXPECT_EQ(WechatNotifyErrorName(WechatNotifyError::kStaleTimestamp), "stale_timestamp");
}

TEST(WechatSignature, ResponsesWithEmptyBodies) {
    const WechatSignedHeaders headers = SignWechatMessage("", ProviderKey(), kPlatformSerial, kNow);
    EXPECT_FALSE(VerifyWechatSignature(headers, "", Platform(), kNow));
    const auto failure = VerifyWechatSignature(headers, "{}", Platform(), kNow);
    ASSERT_TRUE(failure);
    EXPECT_EQ(failure->code, WechatSignatureError::kBadSignature);
}

// --- Refunds ---

TEST(WechatRefundTest, BodyHasTheDocumentedFields) {
    WechatRefundRequest refund;
    refund.out_trade_no = "R20260101AAAAAAAAAAAAAAAAAAAA";
    refund.out_refund_no = "RFR20260101AAAAAAAAAAAAAAAAAAAA";
    refund.reason = "退款";
    refund.refund_fen = 505;
    refund.total_fen = 1000;
    const Json::Value body = ParseJson(BuildWechatRefundBody(TestMerchant(), refund));
    EXPECT_EQ(body["out_trade_no"], refund.out_trade_no);
    EXPECT_EQ(body["out_refund_no"], refund.out_refund_no);
    EXPECT_EQ(body["notify_url"], TestMerchant().notify_url);
    EXPECT_EQ(body["amount"]["refund"], 505);
    EXPECT_EQ(body["amount"]["total"], 1000);
    EXPECT_EQ(body["amount"]["currency"], "CNY");
    refund.refund_fen = 1001;
    EXPECT_THROW(BuildWechatRefundBody(TestMerchant(), refund), std::invalid_argument);
}

TEST(WechatRefundTest, ARefundNotifyOpensAndParses) {
    const std::string refund_json =
        R"({"mchid":"1900000001","out_trade_no":"R1","transaction_id":"42","out_refund_no":"RFR1",)"
        R"("refund_id":"50000","refund_status":"SUCCESS","amount":{"total":1000,"refund":505}})";
    const WechatSignedMessage message = BuildWechatRefundNotify(
        refund_json, "REFUND.SUCCESS", ApiV3Key(), ProviderKey(), kPlatformSerial, kNow);
    const auto opened =
        OpenWechatNotify(message.headers, message.body, Platform(), ApiV3Key(), kNow);
    ASSERT_TRUE(opened.ok()) << opened.detail();
    EXPECT_EQ(opened.value().event_type, "REFUND.SUCCESS");
    const auto refund = ParseWechatRefund(opened.value().plaintext);
    ASSERT_TRUE(refund.ok()) << refund.detail();
    EXPECT_EQ(refund.value().status, "SUCCESS");
    EXPECT_EQ(refund.value().out_refund_no, "RFR1");
    EXPECT_EQ(refund.value().refund_fen, 505);
    // A refund is no payment: read as a transaction, it is refused.
    EXPECT_FALSE(
        VerifyWechatNotify(message.headers, message.body, Platform(), ApiV3Key(), kNow).ok());
    // The API's answer says `status`; a refund without an id is malformed.
    EXPECT_EQ(ParseWechatRefund(R"({"out_refund_no":"RFR1","refund_id":"1","status":"PROCESSING"})")
                  .value()
                  .status,
              "PROCESSING");
    EXPECT_FALSE(ParseWechatRefund(R"({"out_refund_no":"RFR1","status":"SUCCESS"})").ok());
    EXPECT_TRUE(IsTransientWechatRefusal("NOT_ENOUGH"));
    EXPECT_FALSE(IsTransientWechatRefusal("INVALID_REQUEST"));
}

}  // namespace
}  // namespace inkstone::lib
