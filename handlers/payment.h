#pragma once
/// Payments (SPEC §8): how an order is paid, and the mock provider.
///
/// Every provider completes an order through lib::wallet::Wallet::Settle, the one settlement
/// transaction. Issue 6 adds the Alipay and WeChat Pay notify handlers here and fills in the
/// live half of PaymentInstructions.
#include <json/value.h>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/orders.h"
#include "lib/router.h"
#include "lib/wallet.h"

namespace inkstone::handlers {

inline constexpr char kMockPayPath[] = "/api/v1/payment/mock/pay";

/// The `payment` object of a PENDING order: how to pay it. Mock mode:
/// `{"provider": "mock", "mode": "mock", "method": "POST", "pay_url": "/api/v1/payment/mock/pay",
/// "order_no", "amount_fen", "amount": "10.00"}`. Live mode: `{"provider": <payment_method>,
/// "mode": "live", "order_no", "amount_fen", "amount"}` (issue 6 adds the Alipay page URL /
/// WeChat code_url here). This is the one place that builds it.
Json::Value PaymentInstructions(const lib::PaymentConfig& config, const lib::orders::Order& order);

/// The provider trade number the mock provider reports for `order_no`: one per order, so a
/// repeated mock payment is a duplicate notify, exactly like a provider's retry.
std::string MockTradeNo(const std::string& order_no);

/// POST /payment/mock/pay `{"order_no"}` (Auth::kUser; routed only when payment.mode = mock)
/// → 200 with the order as GET shows it (status "PAID") plus `"settled_now"`: true for the
/// call that settled it, false for any repeat (which changes nothing). Another user's, a
/// malformed or an unknown order_no → 404. An EXPIRED order is paid too, as a provider's
/// notify for it would be. Settles through Wallet::Settle with provider "mock".
class MockPayHandler final : public lib::Handler {
  public:
    MockPayHandler(lib::db::Pool& pool, const lib::wallet::Wallet& wallet, const lib::Clock& clock,
                   const lib::PaymentConfig& config)
        : pool_(pool), wallet_(wallet), clock_(clock), config_(config) {}

    lib::Response Handle(const lib::Request& request, lib::StreamWriter& stream) const override;

  private:
    lib::db::Pool& pool_;
    const lib::wallet::Wallet& wallet_;
    const lib::Clock& clock_;
    const lib::PaymentConfig& config_;
};

}  // namespace inkstone::handlers
