#pragma once
/// The JSON views of the credit and payment API (handlers/credit.h, handlers/payment.h): the one
/// place that says what an order, a ledger entry, a balance and a price list look like to a
/// client. Pure functions of their arguments (PaymentInstructions signs a URL, nothing else).
#include <json/value.h>

#include <cstdint>
#include <vector>

#include "lib/base/clock.h"
#include "lib/billing/orders.h"
#include "lib/billing/wallet.h"
#include "lib/payments/notify.h"

namespace inkstone::handlers {

inline constexpr char kMockPayPath[] = "/api/v1/payment/mock/pay";

/// An order as the API shows it. Recharge: `{"order_no", "price_id", "credits",
/// "bonus_credits", "amount_fen", "payment_method", "status", "created_at", "expires_at",
/// "paid_at", "payment"}`; membership: `{"order_no", "price_id", "plan", "months", "amount_fen",
/// "payment_method", "status", "created_at", "expires_at", "paid_at", "member_until",
/// "payment"}`. `payment` (PaymentInstructions, as of `now`) only while PENDING, else null.
Json::Value OrderToJson(const lib::billing::Order& order, const lib::payments::Providers& providers,
                        lib::base::TimePoint now);

/// The `payment` object of a PENDING order: how to pay it. Always `{"provider", "mode",
/// "order_no", "amount_fen", "amount": "10.00"}`, plus:
/// - mock mode: `"provider": "mock", "mode": "mock", "method": "POST", "pay_url":
///   "/api/v1/payment/mock/pay"`;
/// - live Alipay: `"provider": "alipay", "mode": "live", "method": "GET", "pay_url"`: the
///   signed `alipay.trade.page.pay` URL (signed now, so its timestamp is fresh; `time_expire`
///   is the order's expires_at) to send the browser to;
/// - live WeChat Pay: `"provider": "wechat", "mode": "live", "code_url"`: the Native code_url
///   WeChat Pay answered when the order was created, to show as a QR code (null for an order
///   created while payments were mocked).
/// This is the one place that builds it. Throws CryptoError if signing fails.
Json::Value PaymentInstructions(const lib::payments::Providers& providers,
                                const lib::billing::Order& order, lib::base::TimePoint now);

/// A ledger row: `{"id", "type", "amount", "balance_after", "description", "related_order_id",
/// "related_generation_id", "created_at"}`; related_order_id is the order's order_no or null.
Json::Value LedgerEntryToJson(const lib::billing::LedgerEntry& entry);

/// `{"credits", "is_member", "member_expired_at", "cost_per_generation"}` as of `now`.
Json::Value BalanceToJson(const lib::billing::Balance& balance, lib::base::TimePoint now,
                          int64_t cost_per_generation);

/// `{"items": [{"id", "credits", "bonus_credits", "price_fen"}]}`.
Json::Value PackagesToJson(const std::vector<lib::billing::CreditPackage>& packages);

/// `{"items": [{"id", "plan", "name", "months", "price_fen"}]}`.
Json::Value PlansToJson(const std::vector<lib::billing::MembershipPlan>& plans);

}  // namespace inkstone::handlers
