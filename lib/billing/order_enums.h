#pragma once
/// The states and names an order carries, as enums with their one text form: the text stored in
/// `recharge_orders` / `membership_orders` (sql/002_wallet.sql checks the same lists) and shown in
/// the API. `ToSql` gives the text, `FromSql` parses it strictly (exact, case-sensitive; anything
/// else is false); lib/db binds and reads the enums through them (ADL), so an unknown value read
/// back from the database is a broken invariant, never a silent default.
#include <string_view>

namespace inkstone::lib::billing {

/// `recharge_orders.status` / `membership_orders.status`.
enum class OrderStatus { kPending, kPaid, kExpired };
/// `"PENDING"`, `"PAID"`, `"EXPIRED"`.
std::string_view ToSql(OrderStatus status);
bool FromSql(std::string_view text, OrderStatus* status);

/// `payment_method`: how the user means to pay (the provider asked in live mode).
enum class PaymentMethod { kAlipay, kWechat };
/// `"alipay"`, `"wechat"`.
std::string_view ToSql(PaymentMethod method);
bool FromSql(std::string_view text, PaymentMethod* method);

/// `paid_provider`: who settled the order. kMock is mock mode's own payments, recorded as such so
/// that no database ever shows them as real money.
enum class PaymentProvider { kAlipay, kWechat, kMock };
/// `"alipay"`, `"wechat"`, `"mock"`.
std::string_view ToSql(PaymentProvider provider);
bool FromSql(std::string_view text, PaymentProvider* provider);

/// The provider that takes payments of `method` in live mode.
PaymentProvider ProviderOf(PaymentMethod method);

}  // namespace inkstone::lib::billing
