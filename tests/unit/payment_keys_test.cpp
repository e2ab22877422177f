#include "lib/payments/payment_keys.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "tests/unit/payment_test_keys.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::payments;
namespace {

using testing::BareBase64;
using testing::MerchantKey;
using testing::ProviderKey;
using testing::TempFile;

bool Contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

class PaymentKeysTest : public ::testing::Test {
  protected:
    void SetUp() override {
        // Alipay's console hands out bare base64; WeChat Pay hands out PEM files.
        alipay_private_ = std::make_unique<TempFile>(BareBase64(MerchantKey().ToPem()));
        alipay_public_ = std::make_unique<TempFile>(BareBase64(ProviderKey().Public().ToPem()));
        wechat_private_ = std::make_unique<TempFile>(MerchantKey().ToPem());
        wechat_public_ = std::make_unique<TempFile>(ProviderKey().Public().ToPem());
        config_.public_base_url = "https://pay.example.com/";
        config_.alipay.app_id = "2021000000000001";
        config_.alipay.private_key_file = alipay_private_->path();
        config_.alipay.public_key_file = alipay_public_->path();
        config_.wechat.mchid = "1900000001";
        config_.wechat.appid = "wx0000000000000001";
        config_.wechat.apiv3_key = "0123456789abcdef0123456789ABCDEF";
        config_.wechat.private_key_file = wechat_private_->path();
        config_.wechat.merchant_serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
        config_.wechat.platform_public_key_file = wechat_public_->path();
        config_.wechat.platform_serial = "PUB_KEY_ID_0114";
    }

    std::string LoadError() {
        try {
            LoadPaymentKeys(config_);
        } catch (const ConfigError& e) {
            return e.what();
        }
        ADD_FAILURE() << "LoadPaymentKeys succeeded";
        return "";
    }

    std::unique_ptr<TempFile> alipay_private_, alipay_public_, wechat_private_, wechat_public_;
    Config config_;
};

TEST_F(PaymentKeysTest, LoadsEveryKeyAndBuildsWorkingClients) {
    const PaymentKeys keys = LoadPaymentKeys(config_);
    EXPECT_TRUE(keys.alipay_public_key.VerifySha256("m", ProviderKey().SignSha256("m")));
    EXPECT_TRUE(keys.wechat_platform_key.VerifySha256("m", ProviderKey().SignSha256("m")));
    EXPECT_EQ(keys.alipay_app_key.SignSha256("m"), MerchantKey().SignSha256("m"));
    EXPECT_EQ(keys.wechat_merchant_key.SignSha256("m"), MerchantKey().SignSha256("m"));

    EXPECT_EQ(PublicUrl(config_, kAlipayNotifyPath),
              "https://pay.example.com/api/v1/payment/alipay/notify");
    const AlipayApp app = AlipayAppFromConfig(config_);
    EXPECT_EQ(app.app_id, "2021000000000001");
    EXPECT_EQ(app.gateway, "https://openapi.alipay.com/gateway.do");
    EXPECT_EQ(app.notify_url, "https://pay.example.com/api/v1/payment/alipay/notify");
    EXPECT_EQ(app.seller_id, "");
    config_.alipay.seller_id = "2088000000000002";
    EXPECT_EQ(AlipayAppFromConfig(config_).seller_id, "2088000000000002");
    const WechatMerchant merchant = WechatMerchantFromConfig(config_);
    EXPECT_EQ(merchant.notify_url, "https://pay.example.com/api/v1/payment/wechat/notify");
    EXPECT_EQ(merchant.api_base, "https://api.mch.weixin.qq.com");
    EXPECT_EQ(merchant.merchant_serial, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");

    const AlipayClient alipay = MakeAlipayClient(config_, keys);
    const std::string url = alipay.PagePayUrl({"IS1", 100, "s"}, std::chrono::system_clock::now());
    const auto params = ParseFormBody(url.substr(url.find('?') + 1));
    ASSERT_TRUE(params);
    EXPECT_TRUE(MerchantKey().Public().VerifySha256(AlipayRequestSigningString(*params),
                                                    params->at("sign")));
    const WechatPayClient wechat = MakeWechatPayClient(config_, keys);
    const auto now = std::chrono::system_clock::now();
    const WechatSignedMessage notify =
        BuildWechatNotify(R"({"mchid":"1","appid":"wx","out_trade_no":"IS123456",)"
                          R"("trade_state":"NOTPAY"})",
                          config_.wechat.apiv3_key, ProviderKey(), "PUB_KEY_ID_0114", now);
    EXPECT_TRUE(wechat.VerifyNotify(notify.headers, notify.body, now).ok());
}

TEST_F(PaymentKeysTest, EachMissingSettingIsNamed) {
    struct Case {
        std::string* field;
        const char* key;
        const char* env;
    };
    const Case cases[] = {
        {&config_.alipay.app_id, "alipay.app_id", "ALIPAY_APP_ID"},
        {&config_.alipay.private_key_file, "alipay.private_key_file", "ALIPAY_PRIVATE_KEY_FILE"},
        {&config_.alipay.public_key_file, "alipay.public_key_file", "ALIPAY_PUBLIC_KEY_FILE"},
        {&config_.wechat.mchid, "wechat.mchid", "WECHAT_MCHID"},
        {&config_.wechat.appid, "wechat.appid", "WECHAT_APPID"},
        {&config_.wechat.apiv3_key, "wechat.apiv3_key", "WECHAT_APIV3_KEY"},
        {&config_.wechat.private_key_file, "wechat.private_key_file", "WECHAT_PRIVATE_KEY_FILE"},
        {&config_.wechat.merchant_serial, "wechat.merchant_serial", "WECHAT_MERCHANT_SERIAL"},
        {&config_.wechat.platform_public_key_file, "wechat.platform_public_key_file",
         "WECHAT_PLATFORM_PUBLIC_KEY_FILE"},
        {&config_.wechat.platform_serial, "wechat.platform_serial", "WECHAT_PLATFORM_SERIAL"},
    };
    for (const Case& c : cases) {
        const std::string saved = *c.field;
        c.field->clear();
        const std::string error = LoadError();
        EXPECT_TRUE(Contains(error, c.key)) << error;
        EXPECT_TRUE(Contains(error, c.env)) << error;
        *c.field = saved;
    }
    // seller_id is optional.
    config_.alipay.seller_id.clear();
    EXPECT_NO_THROW(LoadPaymentKeys(config_));
}

TEST_F(PaymentKeysTest, UnreadableOrWrongKeyFilesAreNamedWithoutKeyMaterial) {
    config_.alipay.private_key_file = "/nonexistent/alipay_app.pem";
    std::string error = LoadError();
    EXPECT_TRUE(Contains(error, "alipay.private_key_file")) << error;
    EXPECT_TRUE(Contains(error, "/nonexistent/alipay_app.pem")) << error;
    SetUp();

    // The app's private key where Alipay's public key belongs: a classic mix-up.
    config_.alipay.public_key_file = alipay_private_->path();
    error = LoadError();
    EXPECT_TRUE(Contains(error, "alipay.public_key_file")) << error;
    const std::string bare = BareBase64(MerchantKey().ToPem());
    for (size_t i = 0; i + 16 <= bare.size(); i += 16) {
        ASSERT_FALSE(Contains(error, bare.substr(i, 16))) << error;
    }
    SetUp();

    TempFile garbage("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
    config_.wechat.private_key_file = garbage.path();
    error = LoadError();
    EXPECT_TRUE(Contains(error, "wechat.private_key_file")) << error;
    SetUp();

    config_.wechat.platform_public_key_file = "/";  // a directory
    error = LoadError();
    EXPECT_TRUE(Contains(error, "wechat.platform_public_key_file")) << error;
}

TEST_F(PaymentKeysTest, ApiV3KeyMustBe32BytesAndIsNeverQuoted) {
    config_.wechat.apiv3_key = "0123456789abcdef0123456789ABCDE";  // 31
    std::string error = LoadError();
    EXPECT_TRUE(Contains(error, "WECHAT_APIV3_KEY")) << error;
    EXPECT_TRUE(Contains(error, "32")) << error;
    EXPECT_FALSE(Contains(error, "0123456789abcdef")) << error;
    config_.wechat.apiv3_key += "FF";  // 33
    error = LoadError();
    EXPECT_FALSE(Contains(error, "0123456789abcdef")) << error;
}

}  // namespace
}  // namespace inkstone::lib
