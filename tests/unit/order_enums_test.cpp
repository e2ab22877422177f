// The billing enums' text forms (lib/billing/order_enums.h, LedgerType in lib/billing/wallet.h):
// every value round-trips through ToSql / FromSql, and anything else (unknown, empty, another
// case, padded) is rejected, so lib/db's Rows::Enum turns it into a broken invariant instead of
// a default.
#include "lib/billing/order_enums.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "lib/base/assert.h"
#include "lib/billing/wallet.h"

namespace inkstone::lib::billing {
namespace {

template <class E>
void ExpectRoundTrips(const std::vector<E>& values, const std::vector<std::string>& texts) {
    ASSERT_EQ(values.size(), texts.size());
    for (size_t i = 0; i < values.size(); ++i) {
        EXPECT_EQ(ToSql(values[i]), texts[i]);
        E parsed{};
        ASSERT_TRUE(FromSql(texts[i], &parsed)) << texts[i];
        EXPECT_EQ(parsed, values[i]) << texts[i];
    }
}

template <class E>
void ExpectRejected(const std::vector<std::string>& texts) {
    for (const std::string& text : texts) {
        E parsed = E{};
        const E before = parsed;
        EXPECT_FALSE(FromSql(text, &parsed)) << "'" << text << "'";
        EXPECT_EQ(parsed, before) << "'" << text << "' changed the output";
    }
}

TEST(OrderEnums, OrderStatusIsStrict) {
    ExpectRoundTrips<OrderStatus>(
        {OrderStatus::kPending, OrderStatus::kPaid, OrderStatus::kExpired},
        {"PENDING", "PAID", "EXPIRED"});
    ExpectRejected<OrderStatus>(
        {"", "pending", "Paid", "PAID ", " PAID", "REFUNDED", "UNKNOWN", std::string("PAID\0", 5)});
}

TEST(OrderEnums, PaymentMethodIsStrict) {
    ExpectRoundTrips<PaymentMethod>({PaymentMethod::kAlipay, PaymentMethod::kWechat},
                                    {"alipay", "wechat"});
    ExpectRejected<PaymentMethod>({"", "ALIPAY", "Wechat", "mock", "paypal", "alipay "});
}

TEST(OrderEnums, PaymentProviderIsStrict) {
    ExpectRoundTrips<PaymentProvider>(
        {PaymentProvider::kAlipay, PaymentProvider::kWechat, PaymentProvider::kMock},
        {"alipay", "wechat", "mock"});
    ExpectRejected<PaymentProvider>({"", "MOCK", "Alipay", "paypal", "wechatpay", " mock"});
}

TEST(OrderEnums, EachMethodIsPaidThroughItsProvider) {
    EXPECT_EQ(ProviderOf(PaymentMethod::kAlipay), PaymentProvider::kAlipay);
    EXPECT_EQ(ProviderOf(PaymentMethod::kWechat), PaymentProvider::kWechat);
}

TEST(OrderEnums, LedgerTypeIsStrict) {
    ExpectRoundTrips<LedgerType>({LedgerType::kRecharge, LedgerType::kBonus, LedgerType::kConsume,
                                  LedgerType::kRefund, LedgerType::kAdminAdjust},
                                 {"RECHARGE", "BONUS", "CONSUME", "REFUND", "ADMIN_ADJUST"});
    ExpectRejected<LedgerType>({"", "recharge", "Bonus", "ADMIN ADJUST", "ADJUST", "CONSUME "});
}

TEST(OrderEnums, AValueOutsideTheEnumIsABrokenInvariant) {
    const uint64_t before = base::InvariantViolations();
    EXPECT_THROW(ToSql(static_cast<OrderStatus>(99)), base::InvariantError);
    EXPECT_THROW(ToSql(static_cast<PaymentMethod>(99)), base::InvariantError);
    EXPECT_THROW(ToSql(static_cast<PaymentProvider>(99)), base::InvariantError);
    EXPECT_THROW(ToSql(static_cast<LedgerType>(99)), base::InvariantError);
    EXPECT_EQ(base::InvariantViolations(), before + 4);
}

}  // namespace
}  // namespace inkstone::lib::billing
