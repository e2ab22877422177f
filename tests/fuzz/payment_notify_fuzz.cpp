// libFuzzer target for what payment providers (or anyone pretending to be one) send us: the
// Alipay notify form, the Alipay query answer, WeChat Pay notify headers and bodies, the
// Authorization header the WeChat fake parses. Any bytes must end in a typed result, never a
// crash, a leak or an exception. (RSA signing per input keeps this target slow; that is the
// price of getting past the signature check.)
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/payments/alipay.h"
#include "lib/payments/crypto.h"
#include "lib/payments/wechatpay.h"

namespace {

using namespace inkstone::lib::base;
using namespace inkstone::lib::http;
using namespace inkstone::lib::ai;
using namespace inkstone::lib::payments;
using namespace inkstone::lib::billing;

const PrivateKey& Key() {
    static const PrivateKey key = PrivateKey::GenerateRsa(2048);
    return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    static const PublicKey key = Key().Public();

    (void)VerifyAlipayNotify(input, key);
    (void)ParseAlipayAmount(input);
    (void)ParseFormBody(input);
    (void)ParseAlipayTradeQueryResponse(input, key);
    (void)ParseWechatAuthorization(input);
    (void)ParseWechatTransaction(input);
    (void)ParseWechatNativeOrderResponse(input);
    (void)Base64Decode(input);

    const WechatPlatformKey platform{"serial", key};
    const TimePoint now = TimePoint(std::chrono::seconds(1767225600));
    // The input as a timestamp header (parsing and the clock check)...
    (void)VerifyWechatSignature({std::string(input), "nonce", "c2ln", "serial"}, input, platform,
                                now);
    // ...and as a notify body behind a valid signature, so every input reaches the envelope
    // parsing, base64 and AES-GCM.
    const std::string timestamp = "1767225600";
    const WechatSignedHeaders headers{
        timestamp, "nonce", Key().SignSha256(WechatResponseMessage(timestamp, "nonce", input)),
        "serial"};
    (void)VerifyWechatNotify(headers, input, platform, "0123456789abcdef0123456789ABCDEF", now);
    return 0;
}
