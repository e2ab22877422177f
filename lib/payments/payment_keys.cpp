#include "lib/payments/payment_keys.h"

#include <cctype>

namespace inkstone::lib::payments {
namespace {

std::string EnvName(const std::string& key) {
    std::string out = key;
    for (char& c : out) {
        c = c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string Named(const std::string& key) { return key + " (" + EnvName(key) + ")"; }

void RequireSetting(const std::string& key, const std::string& value) {
    if (value.empty()) throw base::ConfigError(Named(key) + " must be set for live payments");
}

/// Loads one key file; every failure becomes a ConfigError that names the config key.
template <typename Load>
auto LoadKeyFile(const std::string& key, const std::string& path, Load load) {
    RequireSetting(key, path);
    try {
        return load(path);
    } catch (const CryptoError& e) {
        // CryptoError messages name the file and the problem, never the key's bytes.
        throw base::ConfigError(Named(key) + ": " + e.what());
    }
}

}  // namespace

PaymentKeys LoadPaymentKeys(const base::Config& config) {
    RequireSetting("alipay.app_id", config.alipay.app_id);
    RequireSetting("wechat.mchid", config.wechat.mchid);
    RequireSetting("wechat.appid", config.wechat.appid);
    RequireSetting("wechat.merchant_serial", config.wechat.merchant_serial);
    RequireSetting("wechat.platform_serial", config.wechat.platform_serial);
    RequireSetting("wechat.apiv3_key", config.wechat.apiv3_key);
    if (config.wechat.apiv3_key.size() != kAes256KeyBytes) {
        throw base::ConfigError(Named("wechat.apiv3_key") + " must be exactly 32 characters, has " +
                                std::to_string(config.wechat.apiv3_key.size()));
    }
    return PaymentKeys{
        LoadKeyFile("alipay.private_key_file", config.alipay.private_key_file,
                    PrivateKey::FromFile),
        LoadKeyFile("alipay.public_key_file", config.alipay.public_key_file, PublicKey::FromFile),
        LoadKeyFile("wechat.private_key_file", config.wechat.private_key_file,
                    PrivateKey::FromFile),
        LoadKeyFile("wechat.platform_public_key_file", config.wechat.platform_public_key_file,
                    PublicKey::FromFile),
    };
}

std::string PublicUrl(const base::Config& config, const std::string& path) {
    std::string base = config.public_base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + path;
}

AlipayApp AlipayAppFromConfig(const base::Config& config) {
    AlipayApp app;
    app.app_id = config.alipay.app_id;
    app.gateway = config.alipay.gateway;
    app.seller_id = config.alipay.seller_id;
    app.notify_url = PublicUrl(config, kAlipayNotifyPath);
    return app;
}

WechatMerchant WechatMerchantFromConfig(const base::Config& config) {
    WechatMerchant merchant;
    merchant.mchid = config.wechat.mchid;
    merchant.appid = config.wechat.appid;
    merchant.merchant_serial = config.wechat.merchant_serial;
    merchant.api_base = config.wechat.api_base;
    merchant.notify_url = PublicUrl(config, kWechatNotifyPath);
    return merchant;
}

AlipayClient MakeAlipayClient(const base::Config& config, const PaymentKeys& keys) {
    return AlipayClient(AlipayAppFromConfig(config), keys.alipay_app_key, keys.alipay_public_key);
}

WechatPayClient MakeWechatPayClient(const base::Config& config, const PaymentKeys& keys) {
    return WechatPayClient(
        WechatMerchantFromConfig(config), keys.wechat_merchant_key,
        WechatPlatformKey{config.wechat.platform_serial, keys.wechat_platform_key},
        config.wechat.apiv3_key);
}

}  // namespace inkstone::lib::payments
