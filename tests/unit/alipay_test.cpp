#include "lib/payments/alipay.h"

#include <gtest/gtest.h>
#include <json/reader.h>
#include <json/value.h>

#include <chrono>
#include <string>

#include "tests/unit/payment_test_keys.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::payments;
namespace {

using testing::MerchantKey;
using testing::ProviderKey;
using testing::StrangerKey;

// 2026-01-01T00:00:00Z
const TimePoint kNewYearUtc = TimePoint(std::chrono::seconds(1767225600));

AlipayApp TestApp() {
    AlipayApp app;
    app.app_id = "2021000000000001";
    app.gateway = "https://openapi.alipay.com/gateway.do";
    app.notify_url = "https://pay.example.com/api/v1/payment/alipay/notify";
    return app;
}

/// A notify as Alipay sends one for a paid order (fields from the documented sample).
AlipayParams PaidNotify() {
    return {
        {"notify_time", "2026-01-01 08:01:02"},
        {"notify_type", "trade_status_sync"},
        {"notify_id", "2026010100222080102000000000000001"},
        {"app_id", "2021000000000001"},
        {"charset", "utf-8"},
        {"version", "1.0"},
        {"trade_no", "2026010122001400000000000001"},
        {"out_trade_no", "IS20260101000001"},
        {"buyer_id", "2088000000000001"},
        {"seller_id", "2088000000000002"},
        {"trade_status", "TRADE_SUCCESS"},
        {"total_amount", "10.00"},
        {"receipt_amount", "10.00"},
        {"buyer_pay_amount", "10.00"},
        {"subject", "写作积分 1000"},
        {"gmt_create", "2026-01-01 08:00:30"},
        {"gmt_payment", "2026-01-01 08:01:01"},
        {"fund_bill_list", R"([{"amount":"10.00","fundChannel":"ALIPAYACCOUNT"}])"},
    };
}

Result<AlipayNotice, AlipayNotifyError> Verify(const std::string& body) {
    return VerifyAlipayNotify(body, ProviderKey().Public());
}

/// Signs `to_sign` with `key` and returns the form `params` + sign_type=RSA2 + that sign.
std::string FormSignedOver(AlipayParams params, const std::string& to_sign, const PrivateKey& key) {
    params["sign_type"] = "RSA2";
    params["sign"] = key.SignSha256(to_sign);
    return EncodeFormBody(params);
}

// --- amounts ---

TEST(AlipayAmount, FormatsFenAsYuanWithTwoDecimals) {
    EXPECT_EQ(FormatAlipayAmount(1), "0.01");
    EXPECT_EQ(FormatAlipayAmount(10), "0.10");
    EXPECT_EQ(FormatAlipayAmount(99), "0.99");
    EXPECT_EQ(FormatAlipayAmount(100), "1.00");
    EXPECT_EQ(FormatAlipayAmount(1000), "10.00");
    EXPECT_EQ(FormatAlipayAmount(123456), "1234.56");
    EXPECT_EQ(FormatAlipayAmount(10000000000), "100000000.00");
    for (const int64_t bad : {int64_t{0}, int64_t{-1}, int64_t{-100}, int64_t{10000000001},
                              std::numeric_limits<int64_t>::min()}) {
        EXPECT_THROW(FormatAlipayAmount(bad), std::invalid_argument) << bad;
    }
}

TEST(AlipayAmount, ParsesExactlyTwoDecimals) {
    EXPECT_EQ(ParseAlipayAmount("0.01"), 1);
    EXPECT_EQ(ParseAlipayAmount("0.10"), 10);
    EXPECT_EQ(ParseAlipayAmount("10.00"), 1000);
    EXPECT_EQ(ParseAlipayAmount("1234.56"), 123456);
    EXPECT_EQ(ParseAlipayAmount("0.00"), 0);
    EXPECT_EQ(ParseAlipayAmount("100000000.00"), 10000000000);
    EXPECT_EQ(ParseAlipayAmount("999999999999.99"), 99999999999999);
    for (int64_t fen = 1; fen < 100000; fen += 37) {
        ASSERT_EQ(ParseAlipayAmount(FormatAlipayAmount(fen)), fen);
    }
}

TEST(AlipayAmount, RejectsEverythingElse) {
    for (const char* bad : {"10.0",   "10",
                            "10.",    ".50",
                            "10.001", "-1.00",
                            "+1.00",  "1e3",
                            "1E3",    "1.0e1",
                            " 1.00",  "1.00 ",
                            "01.00",  "00.01",
                            "1,00",   "1.00.00",
                            "0x1.00", "1.0a",
                            "a.00",   "",
                            ".",      "1000000000000.00",
                            "NaN",    "inf",
                            "１.00",  "1.-1",
                            "1. 0"}) {
        EXPECT_EQ(ParseAlipayAmount(bad), std::nullopt) << bad;
    }
}

// --- forms and strings to sign ---

TEST(AlipayForm, ParsesAndDecodesWithCgicc) {
    const auto params =
        ParseFormBody("a=1&b=x+y&c=%E5%86%99%E4%BD%9C&d=&e&&sign=ab%2Bc%2F%3D%3D&k%20ey=%26%3D");
    ASSERT_TRUE(params);
    EXPECT_EQ(params->at("a"), "1");
    EXPECT_EQ(params->at("b"), "x y");
    EXPECT_EQ(params->at("c"), "写作");
    EXPECT_EQ(params->at("d"), "");
    EXPECT_EQ(params->at("e"), "");
    EXPECT_EQ(params->at("sign"), "ab+c/==");
    EXPECT_EQ(params->at("k ey"), "&=");
    EXPECT_EQ(params->size(), 7u);
    EXPECT_EQ(ParseFormBody(""), AlipayParams());
    // Malformed escapes are kept literally (cgicc); they can only fail a signature later.
    EXPECT_EQ(ParseFormBody("a=%&b=%4&c=%zz")->at("c"), "%zz");
}

TEST(AlipayForm, RejectsRepeatedAndEmptyNames) {
    EXPECT_EQ(ParseFormBody("a=1&a=2"), std::nullopt);
    EXPECT_EQ(ParseFormBody("a=1&%61=2"), std::nullopt);  // the same name once decoded
    EXPECT_EQ(ParseFormBody("=1"), std::nullopt);
    EXPECT_EQ(ParseFormBody("a=1&=2"), std::nullopt);
}

TEST(AlipayForm, EncodeThenParseRoundTrips) {
    const AlipayParams params = {{"biz_content", R"({"subject":"a&b=c 写作+1%"})"},
                                 {"sign", "abc+/=="},
                                 {"timestamp", "2026-01-01 08:00:00"}};
    const std::string body = EncodeFormBody(params);
    EXPECT_EQ(body.find(' '), std::string::npos) << body;
    EXPECT_EQ(ParseFormBody(body), params);
}

TEST(AlipaySigningString, SortedRawValuesWithoutSignOrEmptyValues) {
    const AlipayParams params = {{"timestamp", "2026-01-01 08:00:00"},
                                 {"app_id", "2021"},
                                 {"sign", "SIGNATURE"},
                                 {"sign_type", "RSA2"},
                                 {"biz_content", R"({"a":"x&y=z"})"},
                                 {"return_url", ""},
                                 {"Zeta", "upper case sorts first"}};
    EXPECT_EQ(AlipayRequestSigningString(params),
              R"(Zeta=upper case sorts first&app_id=2021&biz_content={"a":"x&y=z"}&)"
              "sign_type=RSA2&timestamp=2026-01-01 08:00:00");
    EXPECT_EQ(AlipayNotifySigningString(params),
              R"(Zeta=upper case sorts first&app_id=2021&biz_content={"a":"x&y=z"}&)"
              "timestamp=2026-01-01 08:00:00");
    EXPECT_EQ(AlipayNotifySigningString({}), "");
}

TEST(AlipayTimestampTest, BeijingTime) {
    EXPECT_EQ(AlipayTimestamp(kNewYearUtc), "2026-01-01 08:00:00");
    EXPECT_EQ(AlipayTimestamp(kNewYearUtc - std::chrono::hours(4)), "2026-01-01 04:00:00");
    EXPECT_EQ(AlipayTimestamp(kNewYearUtc - std::chrono::hours(9)), "2025-12-31 23:00:00");
    EXPECT_EQ(AlipayTimestamp(kNewYearUtc + std::chrono::milliseconds(999)), "2026-01-01 08:00:00");
    EXPECT_EQ(ParseAlipayTimestamp("2026-01-01 08:00:00"), kNewYearUtc);
    EXPECT_EQ(ParseAlipayTimestamp("2025-12-31 23:00:00"), kNewYearUtc - std::chrono::hours(9));
    for (const char* bad : {"", "2026-01-01T08:00:00", "2026-01-01 08:00:00.5", "2026-1-1 8:00:00",
                            "2026-02-30 08:00:00"}) {
        EXPECT_FALSE(ParseAlipayTimestamp(bad)) << bad;
    }
}

// --- alipay.trade.page.pay ---

struct ParsedUrl {
    std::string base;
    AlipayParams params;
};

ParsedUrl ParseUrl(const std::string& url) {
    const size_t question = url.find('?');
    EXPECT_NE(question, std::string::npos) << url;
    const auto params = ParseFormBody(url.substr(question + 1));
    EXPECT_TRUE(params) << url;
    return {url.substr(0, question), params.value_or(AlipayParams())};
}

Json::Value ParseJson(const std::string& text) {
    Json::Value value;
    std::string errors;
    const std::unique_ptr<Json::CharReader> reader(Json::CharReaderBuilder().newCharReader());
    EXPECT_TRUE(reader->parse(text.data(), text.data() + text.size(), &value, &errors)) << text;
    return value;
}

TEST(AlipayPagePay, UrlSignatureVerifiesWithTheAppPublicKey) {
    const AlipayPagePayOrder order{"IS20260101000001", 1000, "写作积分 1000 (credits & more)"};
    const std::string url = BuildAlipayPagePayUrl(TestApp(), MerchantKey(), order, kNewYearUtc);
    EXPECT_EQ(url.find(' '), std::string::npos) << url;
    const ParsedUrl parsed = ParseUrl(url);
    EXPECT_EQ(parsed.base, "https://openapi.alipay.com/gateway.do");

    const AlipayParams& p = parsed.params;
    EXPECT_EQ(p.at("app_id"), "2021000000000001");
    EXPECT_EQ(p.at("method"), "alipay.trade.page.pay");
    EXPECT_EQ(p.at("format"), "JSON");
    EXPECT_EQ(p.at("charset"), "utf-8");
    EXPECT_EQ(p.at("sign_type"), "RSA2");
    EXPECT_EQ(p.at("timestamp"), "2026-01-01 08:00:00");
    EXPECT_EQ(p.at("version"), "1.0");
    EXPECT_EQ(p.at("notify_url"), "https://pay.example.com/api/v1/payment/alipay/notify");
    EXPECT_EQ(p.count("return_url"), 0u);
    EXPECT_EQ(p.size(), 10u);
    const Json::Value biz = ParseJson(p.at("biz_content"));
    EXPECT_EQ(biz["out_trade_no"].asString(), "IS20260101000001");
    EXPECT_EQ(biz["product_code"].asString(), "FAST_INSTANT_TRADE_PAY");
    EXPECT_EQ(biz["total_amount"].asString(), "10.00");
    EXPECT_EQ(biz["subject"].asString(), "写作积分 1000 (credits & more)");
    EXPECT_EQ(biz.size(), 4u);

    // Rebuild the string to sign from what the URL carries, as Alipay does.
    std::string to_sign;
    for (const auto& [name, value] : p) {
        if (name == "sign") continue;
        to_sign += (to_sign.empty() ? "" : "&") + name + "=" + value;
    }
    EXPECT_EQ(to_sign, AlipayRequestSigningString(p));
    EXPECT_TRUE(MerchantKey().Public().VerifySha256(to_sign, p.at("sign")));
    EXPECT_FALSE(ProviderKey().Public().VerifySha256(to_sign, p.at("sign")));

    AlipayParams tampered = p;
    tampered["biz_content"] =
        std::string(p.at("biz_content")).replace(p.at("biz_content").find("10.00"), 5, "0.01");
    EXPECT_FALSE(
        MerchantKey().Public().VerifySha256(AlipayRequestSigningString(tampered), p.at("sign")));
}

TEST(AlipayPagePay, ReturnUrlIsSignedWhenSet) {
    AlipayApp app = TestApp();
    app.return_url = "https://pay.example.com/paid?from=alipay&x=1";
    app.gateway = "http://127.0.0.1:9/gateway.do";
    const std::string url = BuildAlipayPagePayUrl(app, MerchantKey(), {"A_1", 1, "s"}, kNewYearUtc);
    const ParsedUrl parsed = ParseUrl(url);
    EXPECT_EQ(parsed.base, "http://127.0.0.1:9/gateway.do");
    EXPECT_EQ(parsed.params.at("return_url"), app.return_url);
    EXPECT_EQ(ParseJson(parsed.params.at("biz_content"))["total_amount"].asString(), "0.01");
    EXPECT_TRUE(MerchantKey().Public().VerifySha256(AlipayRequestSigningString(parsed.params),
                                                    parsed.params.at("sign")));
}

TEST(AlipayPagePay, TimeExpireIsSignedInBeijingTime) {
    AlipayPagePayOrder order{"IS20260101000002", 990, "会员 1 个月"};
    order.time_expire = kNewYearUtc + std::chrono::minutes(30) + std::chrono::milliseconds(700);
    const ParsedUrl parsed =
        ParseUrl(BuildAlipayPagePayUrl(TestApp(), MerchantKey(), order, kNewYearUtc));
    const Json::Value biz = ParseJson(parsed.params.at("biz_content"));
    EXPECT_EQ(biz["time_expire"].asString(), "2026-01-01 08:30:00");
    EXPECT_EQ(biz.size(), 5u);
    EXPECT_TRUE(MerchantKey().Public().VerifySha256(AlipayRequestSigningString(parsed.params),
                                                    parsed.params.at("sign")));
}

TEST(AlipayPagePay, RejectsOrdersOutsideAlipaysLimits) {
    const auto build = [](AlipayPagePayOrder order) {
        return BuildAlipayPagePayUrl(TestApp(), MerchantKey(), order, kNewYearUtc);
    };
    EXPECT_THROW(build({"", 100, "s"}), std::invalid_argument);
    EXPECT_THROW(build({std::string(65, 'a'), 100, "s"}), std::invalid_argument);
    EXPECT_THROW(build({"IS-1", 100, "s"}), std::invalid_argument);
    EXPECT_THROW(build({"IS 1", 100, "s"}), std::invalid_argument);
    EXPECT_THROW(build({"IS1", 0, "s"}), std::invalid_argument);
    EXPECT_THROW(build({"IS1", -100, "s"}), std::invalid_argument);
    EXPECT_THROW(build({"IS1", 10000000001, "s"}), std::invalid_argument);
    EXPECT_THROW(build({"IS1", 100, ""}), std::invalid_argument);
    EXPECT_THROW(build({"IS1", 100, std::string(257, 'x')}), std::invalid_argument);
    EXPECT_THROW(build({"IS1", 100, "\xff"}), std::invalid_argument);
    EXPECT_NO_THROW(build({std::string(64, 'a'), 10000000000, std::string(256, 'x')}));
    AlipayApp no_notify = TestApp();
    no_notify.notify_url.clear();
    EXPECT_THROW(BuildAlipayPagePayUrl(no_notify, MerchantKey(), {"IS1", 1, "s"}, kNewYearUtc),
                 std::invalid_argument);
}

// --- async notify ---

TEST(AlipayNotify, ASignedNotifyVerifies) {
    const auto result = Verify(SignAlipayNotify(PaidNotify(), ProviderKey()));
    ASSERT_TRUE(result.ok()) << result.detail();
    const AlipayNotice& notice = result.value();
    EXPECT_EQ(notice.notify_id, "2026010100222080102000000000000001");
    EXPECT_EQ(notice.app_id, "2021000000000001");
    EXPECT_EQ(notice.seller_id, "2088000000000002");
    EXPECT_EQ(notice.out_trade_no, "IS20260101000001");
    EXPECT_EQ(notice.trade_no, "2026010122001400000000000001");
    EXPECT_EQ(notice.trade_status, "TRADE_SUCCESS");
    EXPECT_EQ(notice.total_amount_fen, 1000);
    EXPECT_EQ(notice.gmt_payment, "2026-01-01 08:01:01");
    EXPECT_TRUE(notice.IsPaid());
}

TEST(AlipayNotify, AHandEncodedBodyVerifies) {
    // Form encoding as a provider writes it: spaces as '+', '+' in the signature as %2B.
    AlipayParams params = {{"app_id", "2021"},       {"out_trade_no", "IS1"},
                           {"trade_no", "2026"},     {"trade_status", "TRADE_FINISHED"},
                           {"total_amount", "0.01"}, {"gmt_payment", "2026-01-01 08:00:00"}};
    const std::string sign = ProviderKey().SignSha256(AlipayNotifySigningString(params));
    std::string encoded_sign;
    for (const char c : sign) {
        encoded_sign += c == '+' ? "%2B" : c == '/' ? "%2F" : c == '=' ? "%3D" : std::string(1, c);
    }
    const std::string body =
        "gmt_payment=2026-01-01+08%3A00%3A00&app_id=2021&out_trade_no=IS1&trade_no=2026&"
        "trade_status=TRADE_FINISHED&total_amount=0.01&sign_type=RSA2&sign=" +
        encoded_sign;
    const auto result = Verify(body);
    ASSERT_TRUE(result.ok()) << result.detail();
    EXPECT_TRUE(result.value().IsPaid());
    EXPECT_EQ(result.value().total_amount_fen, 1);
    EXPECT_EQ(result.value().seller_id, "");

    if (sign.find('+') != std::string::npos) {
        // A raw '+' in a form is a space: the signature no longer matches.
        std::string raw_plus = body.substr(0, body.find("&sign=")) + "&sign=" + sign;
        EXPECT_EQ(Verify(raw_plus).error(), AlipayNotifyError::kBadSignature);
    }
}

TEST(AlipayNotify, ChangingAnyFieldBreaksTheSignature) {
    const AlipayParams original = PaidNotify();
    const auto signed_form = ParseFormBody(SignAlipayNotify(original, ProviderKey()));
    ASSERT_TRUE(signed_form);
    for (const auto& [name, value] : original) {
        AlipayParams tampered = *signed_form;
        tampered[name] = value + "0";
        EXPECT_EQ(Verify(EncodeFormBody(tampered)).error(), AlipayNotifyError::kBadSignature)
            << name;
        tampered[name] = value.substr(0, value.size() - 1);
        EXPECT_EQ(Verify(EncodeFormBody(tampered)).error(), AlipayNotifyError::kBadSignature)
            << name;
        tampered.erase(name);
        EXPECT_EQ(Verify(EncodeFormBody(tampered)).error(), AlipayNotifyError::kBadSignature)
            << name;
    }
    AlipayParams added = *signed_form;
    added["passback_params"] = "x";
    EXPECT_EQ(Verify(EncodeFormBody(added)).error(), AlipayNotifyError::kBadSignature);
    AlipayParams renamed = *signed_form;
    renamed["total_amount "] = renamed["total_amount"];
    renamed.erase("total_amount");
    EXPECT_FALSE(Verify(EncodeFormBody(renamed)).ok());
}

TEST(AlipayNotify, ChangingTheSignOrTheKeyFails) {
    const auto form = *ParseFormBody(SignAlipayNotify(PaidNotify(), ProviderKey()));
    AlipayParams tampered = form;
    std::string raw = *Base64Decode(form.at("sign"));
    raw[7] = static_cast<char>(raw[7] ^ 0x20);
    tampered["sign"] = Base64Encode(raw);
    EXPECT_EQ(Verify(EncodeFormBody(tampered)).error(), AlipayNotifyError::kBadSignature);
    tampered["sign"] = "";
    EXPECT_EQ(Verify(EncodeFormBody(tampered)).error(), AlipayNotifyError::kBadSignature);
    tampered.erase("sign");
    EXPECT_EQ(Verify(EncodeFormBody(tampered)).error(), AlipayNotifyError::kBadSignature);
    tampered["sign"] = "not base64";
    EXPECT_EQ(Verify(EncodeFormBody(tampered)).error(), AlipayNotifyError::kBadSignature);

    // Signed by someone else, or verified with the app's own key instead of Alipay's.
    EXPECT_EQ(Verify(SignAlipayNotify(PaidNotify(), StrangerKey())).error(),
              AlipayNotifyError::kBadSignature);
    EXPECT_EQ(Verify(SignAlipayNotify(PaidNotify(), MerchantKey())).error(),
              AlipayNotifyError::kBadSignature);
    EXPECT_FALSE(
        VerifyAlipayNotify(SignAlipayNotify(PaidNotify(), ProviderKey()), MerchantKey().Public())
            .ok());
}

TEST(AlipayNotify, EmptyValuesAreLeftOutOfTheSignedString) {
    AlipayParams params = PaidNotify();
    params["body"] = "";
    params["passback_params"] = "";
    // Alipay's signer skips empty values...
    const std::string without_empty = AlipayNotifySigningString(params);
    EXPECT_EQ(without_empty.find("body="), std::string::npos);
    EXPECT_TRUE(Verify(FormSignedOver(params, without_empty, ProviderKey())).ok());
    // ...so a signature that covered `body=` is not Alipay's.
    std::string with_empty;
    for (const auto& [name, value] : params) {
        with_empty += (with_empty.empty() ? "" : "&") + name + "=" + value;
    }
    ASSERT_NE(with_empty.find("&body=&"), std::string::npos);
    EXPECT_EQ(Verify(FormSignedOver(params, with_empty, ProviderKey())).error(),
              AlipayNotifyError::kBadSignature);
    // An empty parameter added in transit changes nothing, by the same rule.
    auto form = *ParseFormBody(SignAlipayNotify(PaidNotify(), ProviderKey()));
    form["extra_empty"] = "";
    EXPECT_TRUE(Verify(EncodeFormBody(form)).ok());
}

TEST(AlipayNotify, SignTypeIsRequiredAndNeverSigned) {
    AlipayParams params = PaidNotify();
    params["sign_type"] = "RSA2";
    // A signature over a string that includes sign_type is not how Alipay signs notifies.
    const std::string including_sign_type = AlipayRequestSigningString(params);
    ASSERT_NE(including_sign_type.find("sign_type=RSA2"), std::string::npos);
    EXPECT_EQ(Verify(FormSignedOver(params, including_sign_type, ProviderKey())).error(),
              AlipayNotifyError::kBadSignature);
    EXPECT_TRUE(
        Verify(FormSignedOver(params, AlipayNotifySigningString(params), ProviderKey())).ok());

    auto form = *ParseFormBody(SignAlipayNotify(PaidNotify(), ProviderKey()));
    form.erase("sign_type");
    EXPECT_EQ(Verify(EncodeFormBody(form)).error(), AlipayNotifyError::kUnsupportedSignType);
    form["sign_type"] = "RSA";  // SHA1withRSA: refused
    EXPECT_EQ(Verify(EncodeFormBody(form)).error(), AlipayNotifyError::kUnsupportedSignType);
    form["sign_type"] = "rsa2";
    EXPECT_EQ(Verify(EncodeFormBody(form)).error(), AlipayNotifyError::kUnsupportedSignType);
}

TEST(AlipayNotify, MissingFieldsAndMalformedAmountsAreTypedFailures) {
    for (const char* field :
         {"app_id", "out_trade_no", "trade_no", "trade_status", "total_amount"}) {
        AlipayParams params = PaidNotify();
        params.erase(field);
        const auto result = Verify(SignAlipayNotify(params, ProviderKey()));
        EXPECT_EQ(result.error(), AlipayNotifyError::kMissingField) << field;
        EXPECT_NE(result.detail().find(field), std::string::npos) << result.detail();
    }
    for (const char* amount : {"10.0", "10", "-1.00", "1e3", "10.001", "１０.00"}) {
        AlipayParams params = PaidNotify();
        params["total_amount"] = amount;
        EXPECT_EQ(Verify(SignAlipayNotify(params, ProviderKey())).error(),
                  AlipayNotifyError::kMalformedAmount)
            << amount;
    }
    AlipayParams closed = PaidNotify();
    closed["trade_status"] = "TRADE_CLOSED";
    closed.erase("gmt_payment");
    const auto result = Verify(SignAlipayNotify(closed, ProviderKey()));
    ASSERT_TRUE(result.ok());
    EXPECT_FALSE(result.value().IsPaid());
    EXPECT_EQ(result.value().gmt_payment, "");
}

TEST(AlipayNotify, MalformedBodies) {
    const std::string good = SignAlipayNotify(PaidNotify(), ProviderKey());
    EXPECT_EQ(Verify(good + "&app_id=2021000000000001").error(), AlipayNotifyError::kMalformedBody);
    EXPECT_EQ(Verify("=x&" + good).error(), AlipayNotifyError::kMalformedBody);
    EXPECT_EQ(Verify("").error(), AlipayNotifyError::kUnsupportedSignType);
    EXPECT_EQ(Verify(R"({"app_id":"2021"})").error(), AlipayNotifyError::kUnsupportedSignType);
    EXPECT_EQ(AlipayNotifyErrorName(AlipayNotifyError::kBadSignature), "bad_signature");
}

// --- alipay.trade.query ---

TEST(AlipayQuery, RequestIsSignedOverUrlAndBodyTogether) {
    const AlipayGatewayRequest request =
        BuildAlipayTradeQuery(TestApp(), MerchantKey(), "IS20260101000001", kNewYearUtc);
    const ParsedUrl url = ParseUrl(request.url);
    EXPECT_EQ(url.base, "https://openapi.alipay.com/gateway.do");
    EXPECT_EQ(url.params.at("method"), "alipay.trade.query");
    EXPECT_EQ(url.params.at("sign_type"), "RSA2");
    EXPECT_EQ(url.params.at("timestamp"), "2026-01-01 08:00:00");
    EXPECT_EQ(url.params.count("biz_content"), 0u);
    const auto body = ParseFormBody(request.form_body);
    ASSERT_TRUE(body);
    EXPECT_EQ(ParseJson(body->at("biz_content"))["out_trade_no"].asString(), "IS20260101000001");

    AlipayParams all = url.params;
    all.insert(body->begin(), body->end());
    EXPECT_TRUE(MerchantKey().Public().VerifySha256(AlipayRequestSigningString(all),
                                                    url.params.at("sign")));
    EXPECT_THROW(BuildAlipayTradeQuery(TestApp(), MerchantKey(), "bad/no", kNewYearUtc),
                 std::invalid_argument);
}

TEST(AlipayQuery, RawJsonMemberFindsTheExactText) {
    const std::string json =
        R"( { "a" : 1 , "b\"{" : "}" , "alipay_trade_query_response" : {"x":"{\"}","y":[{}, "]"]} ,)"
        R"( "sign":"s" } )";
    EXPECT_EQ(RawJsonMember(json, "alipay_trade_query_response"), R"({"x":"{\"}","y":[{}, "]"]})");
    EXPECT_EQ(RawJsonMember(json, "a"), "1");
    EXPECT_EQ(RawJsonMember(json, "sign"), "\"s\"");
    EXPECT_EQ(RawJsonMember(json, "missing"), std::nullopt);
    EXPECT_EQ(RawJsonMember(json, "x"), std::nullopt);  // nested members are not top level
    EXPECT_EQ(RawJsonMember("[1]", "a"), std::nullopt);
    EXPECT_EQ(RawJsonMember("{}", "a"), std::nullopt);
}

const char kPaidTrade[] =
    R"({"code":"10000","msg":"Success","buyer_logon_id":"abc***@example.com",)"
    R"("buyer_pay_amount":"10.00","buyer_user_id":"2088000000000001","invoice_amount":"10.00",)"
    R"("out_trade_no":"IS20260101000001","point_amount":"0.00","receipt_amount":"10.00",)"
    R"("send_pay_date":"2026-01-01 08:01:01","total_amount":"10.00",)"
    R"("trade_no":"2026010122001400000000000001","trade_status":"TRADE_SUCCESS",)"
    R"("subject":"{\"braces\": \"}\"} \/ \u5199"})";

Result<AlipayTrade, AlipayQueryError> ParseQuery(const std::string& body) {
    return ParseAlipayTradeQueryResponse(body, ProviderKey().Public());
}

TEST(AlipayQuery, ASignedPaidAnswerVerifies) {
    const auto result =
        ParseQuery(SignAlipayResponse("alipay_trade_query_response", kPaidTrade, ProviderKey()));
    ASSERT_TRUE(result.ok()) << result.detail();
    EXPECT_TRUE(result.value().exists);
    EXPECT_TRUE(result.value().IsPaid());
    EXPECT_EQ(result.value().out_trade_no, "IS20260101000001");
    EXPECT_EQ(result.value().trade_no, "2026010122001400000000000001");
    EXPECT_EQ(result.value().trade_status, "TRADE_SUCCESS");
    EXPECT_EQ(result.value().total_amount_fen, 1000);

    // The signature is over the bytes as sent, wherever `sign` sits and whatever the spacing.
    const std::string sign = ProviderKey().SignSha256(kPaidTrade);
    const std::string reordered = std::string("{\n  \"sign\" : \"") + sign +
                                  "\",\n  \"alipay_trade_query_response\" :  " + kPaidTrade +
                                  "\n}\n";
    EXPECT_TRUE(ParseQuery(reordered).ok()) << ParseQuery(reordered).detail();
}

TEST(AlipayQuery, TamperedUnsignedOrForeignAnswersFail) {
    std::string body = SignAlipayResponse("alipay_trade_query_response", kPaidTrade, ProviderKey());
    std::string tampered = body;
    tampered.replace(tampered.find("\"total_amount\":\"10.00\""), 22, "\"total_amount\":\"99.00\"");
    EXPECT_EQ(ParseQuery(tampered).error(), AlipayQueryError::kBadSignature);
    // Re-serialised JSON (the escapes normalised) is not what was signed.
    tampered = body;
    tampered.replace(tampered.find("\\/"), 2, "/");
    EXPECT_EQ(ParseQuery(tampered).error(), AlipayQueryError::kBadSignature);

    EXPECT_EQ(
        ParseQuery(SignAlipayResponse("alipay_trade_query_response", kPaidTrade, StrangerKey()))
            .error(),
        AlipayQueryError::kBadSignature);
    EXPECT_EQ(
        ParseQuery(std::string(R"({"alipay_trade_query_response":)") + kPaidTrade + "}").error(),
        AlipayQueryError::kMissingSignature);
    EXPECT_EQ(ParseQuery(std::string(R"({"alipay_trade_query_response":)") + kPaidTrade +
                         R"(,"sign":""})")
                  .error(),
              AlipayQueryError::kMissingSignature);
    EXPECT_EQ(ParseQuery("not json").error(), AlipayQueryError::kMalformedResponse);
    EXPECT_EQ(ParseQuery(R"({"sign":"abc"})").error(), AlipayQueryError::kMalformedResponse);
    EXPECT_EQ(ParseQuery(R"({"alipay_trade_query_response":"x","sign":"abc"})").error(),
              AlipayQueryError::kMalformedResponse);
    // Two copies of the response object: which one was signed would be ambiguous.
    const std::string twice = std::string(R"({"alipay_trade_query_response":{},)") + body.substr(1);
    EXPECT_EQ(ParseQuery(twice).error(), AlipayQueryError::kMalformedResponse);
}

TEST(AlipayQuery, NotExistErrorsAndBadAmounts) {
    const char not_exist[] =
        R"({"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST",)"
        R"("sub_msg":"交易不存在","buyer_pay_amount":"0.00","invoice_amount":"0.00",)"
        R"("out_trade_no":"IS20260101000001","point_amount":"0.00","receipt_amount":"0.00"})";
    auto result =
        ParseQuery(SignAlipayResponse("alipay_trade_query_response", not_exist, ProviderKey()));
    ASSERT_TRUE(result.ok()) << result.detail();
    EXPECT_FALSE(result.value().exists);
    EXPECT_FALSE(result.value().IsPaid());

    const char system_error[] =
        R"({"code":"20000","msg":"Service Currently Unavailable","sub_code":"aop.unknow-error"})";
    result =
        ParseQuery(SignAlipayResponse("alipay_trade_query_response", system_error, ProviderKey()));
    EXPECT_EQ(result.error(), AlipayQueryError::kGatewayError);
    EXPECT_NE(result.detail().find("aop.unknow-error"), std::string::npos) << result.detail();

    const char invalid_app[] =
        R"({"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id"})";
    result = ParseQuery(std::string(R"({"error_response":)") + invalid_app + "}");
    EXPECT_EQ(result.error(), AlipayQueryError::kMissingSignature);
    EXPECT_NE(result.detail().find("isv.invalid-app-id"), std::string::npos) << result.detail();
    result = ParseQuery(SignAlipayResponse("error_response", invalid_app, ProviderKey()));
    EXPECT_EQ(result.error(), AlipayQueryError::kGatewayError);

    std::string bad_amount = kPaidTrade;
    bad_amount.replace(bad_amount.find("\"total_amount\":\"10.00\""), 22,
                       "\"total_amount\":\"10.0\"");
    EXPECT_EQ(
        ParseQuery(SignAlipayResponse("alipay_trade_query_response", bad_amount, ProviderKey()))
            .error(),
        AlipayQueryError::kMalformedAmount);
    const char no_trade_no[] =
        R"({"code":"10000","msg":"Success","out_trade_no":"IS1","total_amount":"1.00",)"
        R"("trade_status":"TRADE_SUCCESS"})";
    EXPECT_EQ(
        ParseQuery(SignAlipayResponse("alipay_trade_query_response", no_trade_no, ProviderKey()))
            .error(),
        AlipayQueryError::kMalformedResponse);
}

// --- alipay.trade.refund ---

TEST(AlipayRefund, RequestIsSignedAndCarriesTheRefundNumber) {
    AlipayRefundRequest refund;
    refund.out_trade_no = "R20260101AAAAAAAAAAAAAAAAAAAA";
    refund.out_request_no = "RFR20260101AAAAAAAAAAAAAAAAAAAA";
    refund.refund_fen = 505;
    refund.reason = std::string(300, 'x');
    const AlipayGatewayRequest call =
        BuildAlipayTradeRefund(TestApp(), MerchantKey(), refund, kNewYearUtc);
    const size_t question = call.url.find('?');
    ASSERT_NE(question, std::string::npos);
    std::optional<AlipayParams> params = ParseFormBody(call.url.substr(question + 1));
    const std::optional<AlipayParams> body = ParseFormBody(call.form_body);
    ASSERT_TRUE(params && body);
    params->insert(body->begin(), body->end());
    EXPECT_EQ(params->at("method"), "alipay.trade.refund");
    EXPECT_TRUE(MerchantKey().Public().VerifySha256(AlipayRequestSigningString(*params),
                                                    params->at("sign")));
    Json::Value biz;
    ASSERT_TRUE(Json::Reader().parse(params->at("biz_content"), biz));
    EXPECT_EQ(biz["out_trade_no"], refund.out_trade_no);
    EXPECT_EQ(biz["out_request_no"], refund.out_request_no);
    EXPECT_EQ(biz["refund_amount"], "5.05");
    EXPECT_EQ(biz["refund_reason"].asString().size(), 256u);  // cut to Alipay's limit
    refund.refund_fen = 0;
    EXPECT_THROW(BuildAlipayTradeRefund(TestApp(), MerchantKey(), refund, kNewYearUtc),
                 std::invalid_argument);
}

TEST(AlipayRefund, AcceptedRefusedAndGatewayErrorAnswers) {
    const auto signed_answer = [](const std::string& json) {
        return SignAlipayResponse("alipay_trade_refund_response", json, ProviderKey());
    };
    const auto accepted = ParseAlipayTradeRefundResponse(
        signed_answer(
            R"({"code":"10000","msg":"Success","trade_no":"2026010122001","out_trade_no":"R1","fund_change":"Y","refund_fee":"5.05"})"),
        ProviderKey().Public());
    ASSERT_TRUE(accepted.ok()) << accepted.detail();
    EXPECT_TRUE(accepted.value().accepted);
    EXPECT_EQ(accepted.value().refund_fee_fen, 505);
    EXPECT_EQ(accepted.value().fund_change, "Y");

    const auto refused = ParseAlipayTradeRefundResponse(
        signed_answer(
            R"({"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_HAS_CLOSE","sub_msg":"交易已关闭"})"),
        ProviderKey().Public());
    ASSERT_TRUE(refused.ok()) << refused.detail();
    EXPECT_FALSE(refused.value().accepted);
    EXPECT_EQ(refused.value().sub_code, "ACQ.TRADE_HAS_CLOSE");
    EXPECT_FALSE(IsTransientAlipayRefusal(refused.value().sub_code));
    EXPECT_TRUE(IsTransientAlipayRefusal("ACQ.SYSTEM_ERROR"));

    const auto unavailable = ParseAlipayTradeRefundResponse(
        signed_answer(R"({"code":"20000","msg":"Service Currently Unavailable"})"),
        ProviderKey().Public());
    ASSERT_FALSE(unavailable.ok());
    EXPECT_EQ(unavailable.error(), AlipayQueryError::kGatewayError);

    const auto forged = ParseAlipayTradeRefundResponse(
        SignAlipayResponse("alipay_trade_refund_response",
                           R"({"code":"10000","msg":"Success","refund_fee":"5.05"})",
                           StrangerKey()),
        ProviderKey().Public());
    ASSERT_FALSE(forged.ok());
    EXPECT_EQ(forged.error(), AlipayQueryError::kBadSignature);
}

}  // namespace
}  // namespace inkstone::lib
