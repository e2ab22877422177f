#pragma once
/// Live payment setup from the typed config: the key files loaded and checked once at startup,
/// and the provider settings (with the notify URLs) the clients take.
#include <string>

#include "lib/base/config.h"
#include "lib/payments/alipay.h"
#include "lib/payments/crypto.h"
#include "lib/payments/wechatpay.h"

namespace inkstone::lib::payments {

/// The notify routes the providers are told about; the routing table must serve exactly these.
inline constexpr char kAlipayNotifyPath[] = "/api/v1/payment/alipay/notify";
inline constexpr char kWechatNotifyPath[] = "/api/v1/payment/wechat/notify";

/// Every key live payments need, parsed.
struct PaymentKeys {
    PrivateKey alipay_app_key;       ///< alipay.private_key_file
    PublicKey alipay_public_key;     ///< alipay.public_key_file
    PrivateKey wechat_merchant_key;  ///< wechat.private_key_file
    PublicKey wechat_platform_key;   ///< wechat.platform_public_key_file
};

/// Reads and parses every key file, and checks the settings live payments cannot work without:
/// alipay.app_id, wechat.mchid, wechat.appid, wechat.merchant_serial, wechat.platform_serial
/// and wechat.apiv3_key (exactly 32 bytes). Call at startup when payments are live.
/// Throws ConfigError naming the key (file key and environment name) and, for a file, why it
/// cannot be used; never any key material or the APIv3 key.
PaymentKeys LoadPaymentKeys(const base::Config& config);

/// `public_base_url` (trailing slashes dropped) + `path`.
std::string PublicUrl(const base::Config& config, const std::string& path);

/// The Alipay app: app_id, gateway, seller_id and notify_url = PublicUrl(kAlipayNotifyPath).
/// No return_url.
AlipayApp AlipayAppFromConfig(const base::Config& config);

/// The WeChat Pay merchant: ids, serial, api_base and notify_url = PublicUrl(kWechatNotifyPath).
WechatMerchant WechatMerchantFromConfig(const base::Config& config);

/// Clients ready to use, from a config already checked by LoadPaymentKeys.
AlipayClient MakeAlipayClient(const base::Config& config, const PaymentKeys& keys);
WechatPayClient MakeWechatPayClient(const base::Config& config, const PaymentKeys& keys);

}  // namespace inkstone::lib::payments
