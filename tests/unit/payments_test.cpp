// lib/payments/notify.h without a database: the providers a config yields, the mock notifies (they
// verify with the same client code as real ones, and any tampering fails it), and every
// NotifyProcessor verdict reached before settlement. Settlement itself is covered over HTTP by
// tests/integration/payment_live_test.cpp and wallet_api_test.cpp.
#include <gtest/gtest.h>
#include <json/value.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>

#include "lib/db/db.h"
#include "lib/http/message.h"
#include "lib/payments/notify.h"
#include "tests/harness/manual_clock.h"
#include "tests/unit/payment_test_keys.h"

namespace inkstone::lib::payments {
using namespace inkstone::lib::base;
using namespace inkstone::lib::http;
using namespace inkstone::lib::db;
using namespace inkstone::lib::billing;
using namespace inkstone::lib::payments;
namespace {

using testing::ManualClock;

// 2026-01-01T00:00:00Z
const TimePoint kNewYearUtc = TimePoint(std::chrono::seconds(1767225600));

billing::Order RechargeOrder() {
    billing::Order order;
    order.kind = billing::OrderKind::kRecharge;
    order.order_no = "R20260101ABCDEFGHJKMNPQRSTVWX";
    order.user_id = 7;
    order.credits = 100;
    order.bonus_credits = 10;
    order.amount_fen = 1000;
    order.payment_method = billing::PaymentMethod::kAlipay;
    order.status = billing::OrderStatus::kPending;
    order.created_at = kNewYearUtc;
    order.expires_at = kNewYearUtc + std::chrono::minutes(30);
    return order;
}

Config MockConfig() {
    Config config;
    config.public_base_url = "https://pay.example.com";
    return config;
}

/// A mock-mode processor whose wallet is never reached: every case here is decided before
/// settlement (the pool would fail to connect if it were).
class PaymentsTest : public ::testing::Test {
  protected:
    PaymentsTest()
        : providers_(Providers::FromConfig(MockConfig(), NewMockProvider())),
          pool_(UnreachableDb()),
          wallet_(pool_, clock_),
          processor_(providers_, wallet_, clock_) {}

    static DbConfig UnreachableDb() {
        DbConfig config;
        config.port = 1;
        return config;
    }

    /// The mock Alipay notify for `order` with `field` replaced, signed again with the mock key:
    /// authentic, but saying something else.
    std::string ResignedAlipay(const billing::Order& order, const std::string& field,
                               const std::string& value) {
        std::optional<AlipayParams> params =
            ParseFormBody(BuildMockAlipayNotify(providers_, order, clock_.Now()));
        (*params)[field] = value;
        return SignAlipayNotify(*params, providers_.mock()->key);
    }

    /// The mock WeChat Pay notify whose transaction has `field` set to `value`.
    WechatSignedMessage WechatWith(const std::string& field, const Json::Value& value) {
        Json::Value transaction(Json::objectValue);
        transaction["mchid"] = kMockWechatMchid;
        transaction["appid"] = kMockWechatAppid;
        transaction["out_trade_no"] = RechargeOrder().order_no;
        transaction["transaction_id"] = "4200000000202601010000000001";
        transaction["trade_state"] = "SUCCESS";
        transaction["amount"]["total"] = 1000;
        transaction[field] = value;
        return BuildWechatNotify(ToJson(transaction), providers_.mock()->apiv3_key,
                                 providers_.mock()->key, kMockPlatformSerial, clock_.Now());
    }

    ManualClock clock_{kNewYearUtc};
    const Providers providers_;
    db::Pool pool_;
    const billing::Wallet wallet_;
    const NotifyProcessor processor_;
};

TEST_F(PaymentsTest, MockModeHasItsOwnKeysAndClients) {
    EXPECT_FALSE(providers_.live());
    ASSERT_NE(providers_.mock(), nullptr);
    EXPECT_EQ(providers_.mock()->apiv3_key.size(), 32u);
    EXPECT_EQ(providers_.alipay().app().app_id, kMockAlipayAppId);
    EXPECT_EQ(providers_.alipay().app().notify_url,
              "https://pay.example.com/api/v1/payment/alipay/notify");
    EXPECT_EQ(providers_.wechat().merchant().mchid, kMockWechatMchid);
    EXPECT_NE(providers_.alipay().app().gateway.find(".invalid"), std::string::npos);
    EXPECT_NE(providers_.wechat().merchant().api_base.find(".invalid"), std::string::npos);
    // Another server's mock key: nothing from outside verifies.
    const Providers other = Providers::FromConfig(MockConfig(), NewMockProvider());
    const std::string notify = BuildMockAlipayNotify(other, RechargeOrder(), clock_.Now());
    EXPECT_EQ(providers_.alipay().VerifyNotify(notify).error(), AlipayNotifyError::kBadSignature);
}

TEST_F(PaymentsTest, LiveModeNeedsEveryKey) {
    Config config = MockConfig();
    config.payment.mode = "live";
    try {
        Providers::FromConfig(config, NewMockProvider());
        ADD_FAILURE() << "live mode without keys must not start";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("alipay.app_id"), std::string::npos) << e.what();
    }
}

TEST_F(PaymentsTest, SubjectsAndMockTradeNumbers) {
    billing::Order order = RechargeOrder();
    EXPECT_EQ(PaymentSubject(order), "inkstone 积分 100+10");
    order.bonus_credits = 0;
    EXPECT_EQ(PaymentSubject(order), "inkstone 积分 100");
    order.kind = billing::OrderKind::kMembership;
    order.months = 3;
    EXPECT_EQ(PaymentSubject(order), "inkstone 会员 3 个月");
    EXPECT_EQ(MockTradeNo("R1"), "MOCK-R1");
}

TEST_F(PaymentsTest, MockAlipayNotifyIsWhatAlipaySends) {
    const std::string body = BuildMockAlipayNotify(providers_, RechargeOrder(), clock_.Now());
    const auto notice = providers_.alipay().VerifyNotify(body);
    ASSERT_TRUE(notice.ok()) << notice.detail();
    EXPECT_EQ(notice.value().app_id, kMockAlipayAppId);
    EXPECT_EQ(notice.value().out_trade_no, RechargeOrder().order_no);
    EXPECT_EQ(notice.value().trade_no, "MOCK-" + RechargeOrder().order_no);
    EXPECT_EQ(notice.value().trade_status, "TRADE_SUCCESS");
    EXPECT_EQ(notice.value().total_amount_fen, 1000);
    EXPECT_EQ(notice.value().gmt_payment, "2026-01-01 08:00:00");
}

TEST_F(PaymentsTest, TamperedMockAlipayNotifiesFailVerification) {
    const std::string body = BuildMockAlipayNotify(providers_, RechargeOrder(), clock_.Now());
    const std::string amount = "total_amount=10.00";
    ASSERT_NE(body.find(amount), std::string::npos) << body;
    std::string cheaper = body;
    cheaper.replace(cheaper.find(amount), amount.size(), "total_amount=0.01");
    const NotifyResult result = processor_.ProcessAlipay(cheaper);
    EXPECT_EQ(result.outcome, NotifyOutcome::kUnauthentic);
    EXPECT_EQ(result.reason, "bad_signature");
    EXPECT_FALSE(result.Acknowledged());

    std::string unsigned_body = body;
    unsigned_body.replace(unsigned_body.find("sign_type=RSA2"), 14, "sign_type=RSA");
    EXPECT_EQ(processor_.ProcessAlipay(unsigned_body).reason, "unsupported_sign_type");
    EXPECT_EQ(processor_.ProcessAlipay("not a form=&=").outcome, NotifyOutcome::kRejected);
}

TEST_F(PaymentsTest, AuthenticAlipayNotifiesForSomeoneElseAreRejected) {
    const NotifyResult app =
        processor_.ProcessAlipay(ResignedAlipay(RechargeOrder(), "app_id", "2021000000000002"));
    EXPECT_EQ(app.outcome, NotifyOutcome::kRejected);
    EXPECT_EQ(app.reason, "app_id_mismatch");
    EXPECT_EQ(app.order_no, RechargeOrder().order_no);

    const NotifyResult waiting =
        processor_.ProcessAlipay(ResignedAlipay(RechargeOrder(), "trade_status", "WAIT_BUYER_PAY"));
    EXPECT_EQ(waiting.outcome, NotifyOutcome::kIgnored);
    EXPECT_TRUE(waiting.Acknowledged());
    const NotifyResult closed =
        processor_.ProcessAlipay(ResignedAlipay(RechargeOrder(), "trade_status", "TRADE_CLOSED"));
    EXPECT_EQ(closed.outcome, NotifyOutcome::kIgnored);
    EXPECT_EQ(closed.reason, "trade_status TRADE_CLOSED");

    const NotifyResult bad_trade_no =
        processor_.ProcessAlipay(ResignedAlipay(RechargeOrder(), "trade_no", std::string(65, '1')));
    EXPECT_EQ(bad_trade_no.outcome, NotifyOutcome::kRejected);
    EXPECT_EQ(bad_trade_no.reason, "malformed_trade_no");
}

TEST_F(PaymentsTest, MockWechatNotifyIsWhatWechatPaySends) {
    billing::Order order = RechargeOrder();
    order.payment_method = billing::PaymentMethod::kWechat;
    const WechatSignedMessage notify = BuildMockWechatNotify(providers_, order, clock_.Now());
    const auto verified =
        providers_.wechat().VerifyNotify(notify.headers, notify.body, clock_.Now());
    ASSERT_TRUE(verified.ok()) << verified.detail();
    EXPECT_EQ(verified.value().event_type, "TRANSACTION.SUCCESS");
    const WechatTransaction& transaction = verified.value().transaction;
    EXPECT_EQ(transaction.mchid, kMockWechatMchid);
    EXPECT_EQ(transaction.appid, kMockWechatAppid);
    EXPECT_EQ(transaction.out_trade_no, order.order_no);
    EXPECT_EQ(transaction.transaction_id, "MOCK-" + order.order_no);
    EXPECT_TRUE(transaction.IsPaid());
    EXPECT_EQ(transaction.amount_total_fen, 1000);
    EXPECT_EQ(transaction.success_time, "2026-01-01T08:00:00+08:00");
    // The resource is really encrypted: the order number is not in the body.
    EXPECT_EQ(notify.body.find(order.order_no), std::string::npos);
}

TEST_F(PaymentsTest, TamperedOrStaleMockWechatNotifiesFailVerification) {
    const WechatSignedMessage notify =
        BuildMockWechatNotify(providers_, RechargeOrder(), clock_.Now());
    std::string tampered = notify.body;
    tampered[tampered.find("TRANSACTION.SUCCESS")] = 'X';
    EXPECT_EQ(processor_.ProcessWechat(notify.headers, tampered).reason, "bad_signature");
    WechatSignedHeaders other_serial = notify.headers;
    other_serial.serial = "PUB_KEY_ID_OTHER";
    EXPECT_EQ(processor_.ProcessWechat(other_serial, notify.body).reason, "bad_serial");
    clock_.Advance(std::chrono::minutes(6));
    const NotifyResult stale = processor_.ProcessWechat(notify.headers, notify.body);
    EXPECT_EQ(stale.outcome, NotifyOutcome::kUnauthentic);
    EXPECT_EQ(stale.reason, "stale_timestamp");
}

TEST_F(PaymentsTest, AuthenticWechatNotifiesForSomeoneElseAreRejected) {
    for (const auto& [field, value, reason] : {std::tuple<std::string, Json::Value, std::string>{
                                                   "mchid", "1900000002", "mchid_mismatch"},
                                               {"appid", "wx0000000000000002", "appid_mismatch"}}) {
        const WechatSignedMessage notify = WechatWith(field, value);
        const NotifyResult result = processor_.ProcessWechat(notify.headers, notify.body);
        EXPECT_EQ(result.outcome, NotifyOutcome::kRejected) << field;
        EXPECT_EQ(result.reason, reason);
    }
    const WechatSignedMessage notpay = WechatWith("trade_state", "NOTPAY");
    const NotifyResult ignored = processor_.ProcessWechat(notpay.headers, notpay.body);
    EXPECT_EQ(ignored.outcome, NotifyOutcome::kIgnored);
    EXPECT_EQ(ignored.reason, "trade_state NOTPAY");
}

TEST_F(PaymentsTest, ReconcileAsksNobodyInMockMode) {
    EXPECT_FALSE(processor_.Reconcile({RechargeOrder().order_no, PaymentMethod::kAlipay, 1000}));
    EXPECT_FALSE(processor_.Reconcile({RechargeOrder().order_no, PaymentMethod::kWechat, 1000}));
}

TEST(PaymentsLiveTest, LiveProvidersUseTheConfiguredKeysAndBuildNoMockNotifies) {
    const testing::TempFile app_key(testing::MerchantKey().ToPem());
    const testing::TempFile alipay_key(testing::ProviderKey().Public().ToPem());
    Config config = MockConfig();
    config.payment.mode = "live";
    config.alipay.app_id = "2021000000000001";
    config.alipay.private_key_file = app_key.path();
    config.alipay.public_key_file = alipay_key.path();
    config.wechat.mchid = "1900000001";
    config.wechat.appid = "wx0000000000000001";
    config.wechat.apiv3_key = "0123456789abcdef0123456789ABCDEF";
    config.wechat.private_key_file = app_key.path();
    config.wechat.merchant_serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
    config.wechat.platform_public_key_file = alipay_key.path();
    config.wechat.platform_serial = "PUB_KEY_ID_0114232134912410000000000000000000";
    const Providers providers = Providers::FromConfig(config, NewMockProvider());
    EXPECT_TRUE(providers.live());
    EXPECT_EQ(providers.mock(), nullptr);
    EXPECT_EQ(providers.alipay().app().app_id, "2021000000000001");
    EXPECT_EQ(providers.wechat().merchant().appid, "wx0000000000000001");
    EXPECT_THROW(BuildMockAlipayNotify(providers, RechargeOrder(), kNewYearUtc), std::logic_error);
    EXPECT_THROW(BuildMockWechatNotify(providers, RechargeOrder(), kNewYearUtc), std::logic_error);
    // Alipay's own notify verifies against the configured Alipay key.
    const std::string notify = SignAlipayNotify({{"app_id", "2021000000000001"},
                                                 {"out_trade_no", "R1"},
                                                 {"trade_no", "2026"},
                                                 {"trade_status", "TRADE_SUCCESS"},
                                                 {"total_amount", "10.00"}},
                                                testing::ProviderKey());
    EXPECT_TRUE(providers.alipay().VerifyNotify(notify).ok());
}

TEST(NotifyOutcomeNameTest, Names) {
    EXPECT_EQ(NotifyOutcomeName(NotifyOutcome::kSettled), "settled");
    EXPECT_EQ(NotifyOutcomeName(NotifyOutcome::kAlreadySettled), "already_settled");
    EXPECT_EQ(NotifyOutcomeName(NotifyOutcome::kIgnored), "ignored");
    EXPECT_EQ(NotifyOutcomeName(NotifyOutcome::kUnauthentic), "unauthentic");
    EXPECT_EQ(NotifyOutcomeName(NotifyOutcome::kRejected), "rejected");
    EXPECT_EQ(NotifyOutcomeName(NotifyOutcome::kFailed), "failed");
}

}  // namespace
}  // namespace inkstone::lib::payments
