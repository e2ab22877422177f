#pragma once
/// Credits, orders and memberships (README, "Credits, orders and memberships"): balance, price
/// lists, the ledger, and the creation and listing of recharge and membership orders.
///
/// Every handler is a final class with its dependencies taken in the constructor and no mutable
/// state; it parses and validates the request, calls one function of lib/billing and renders
/// the result with handlers/credit_views.h. Money is integer fen and credits are integers in
/// every request and response. A user sees only their own orders and ledger: another user's
/// order_no is a 404. Order creation honours `Idempotency-Key` (lib/billing/idempotency.h): a
/// replay answers the first response with `Idempotent-Replayed: true`.
#include <json/value.h>

#include "lib/base/clock.h"
#include "lib/base/config.h"
#include "lib/billing/money.h"
#include "lib/billing/order_service.h"
#include "lib/billing/orders.h"
#include "lib/billing/wallet.h"
#include "lib/db/db.h"
#include "lib/http/router.h"
#include "lib/payments/notify.h"

namespace inkstone::handlers {

/// GET /credit/balance → `{"credits", "is_member", "member_expired_at", "cost_per_generation"}`.
/// cost_per_generation is the configured non-member price (`credit.cost_per_generation`);
/// members pay 0 while is_member is true. The credits and membership are the principal's (read
/// with the token, lib/accounts): no statement of its own.
class BalanceHandler final : public lib::http::Handler {
  public:
    BalanceHandler(const lib::base::Clock& clock, const lib::base::CreditConfig& config)
        : clock_(clock), config_(config) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::base::Clock& clock_;
    const lib::base::CreditConfig& config_;
};

/// GET /credit/prices (public) → `{"items": [{"id", "credits", "bonus_credits", "price_fen"}]}`.
class CreditPricesHandler final : public lib::http::Handler {
  public:
    explicit CreditPricesHandler(lib::db::Pool& pool) : pool_(pool) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    lib::db::Pool& pool_;
};

/// GET /credit/membership/prices (public) → `{"items": [{"id", "plan", "name", "months",
/// "price_fen"}]}`.
class MembershipPricesHandler final : public lib::http::Handler {
  public:
    explicit MembershipPricesHandler(lib::db::Pool& pool) : pool_(pool) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    lib::db::Pool& pool_;
};

/// GET /credit/transactions?type=&page=&page_size= → a page (lib/http/paging.h) of `{"id", "type",
/// "amount", "balance_after", "description", "related_order_id", "related_generation_id",
/// "created_at"}`, newest first. related_order_id is the order's order_no (the public id of
/// an order) or null. `type` is one of RECHARGE, BONUS, CONSUME, REFUND, ADMIN_ADJUST (empty
/// = all); anything else is a 422 on `type`.
class TransactionsHandler final : public lib::http::Handler {
  public:
    explicit TransactionsHandler(const lib::billing::Wallet& wallet) : wallet_(wallet) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::billing::Wallet& wallet_;
};

/// POST /credit/recharge `{"price_id", "payment_method"}` or `{"amount_fen", "payment_method"}`
/// → 201 a PENDING recharge order (OrderToJson), made by OrderService::CreateRecharge. A package's
/// terms come from credit_prices; a custom amount is whole yuan from ¥1 to ¥50,000 at 10 credits
/// per yuan, no bonus. 422 (field): neither or both of price_id / amount_fen (`price_id`), an
/// unknown or inactive package (`price_id`), a bad amount (`amount_fen`), a payment_method other
/// than alipay / wechat (`payment_method`), a malformed Idempotency-Key (`Idempotency-Key`). Live
/// WeChat Pay orders are registered with WeChat Pay first (payments::RegisterWithProvider, the
/// OrderService's hook): when that fails the answer is 502 UPSTREAM_ERROR and nothing is stored (no
/// order, and the Idempotency-Key stays unused, so the same request may simply be retried). A
/// replay of a used key never reaches the provider.
class RechargeHandler final : public lib::http::Handler {
  public:
    RechargeHandler(const lib::billing::OrderService& orders,
                    const lib::payments::Providers& providers)
        : orders_(orders), providers_(providers) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::billing::OrderService& orders_;
    const lib::payments::Providers& providers_;
};

/// POST /credit/membership `{"plan" | "price_id", "payment_method"}` → 201 a PENDING
/// membership order (OrderService::CreateMembership). 422 (field): no plan given or an unknown one
/// (`plan`, or `price_id` when only that was given), plan and price_id naming different plans
/// (`plan`), a bad payment_method, a malformed Idempotency-Key. Providers as for RechargeHandler.
class MembershipHandler final : public lib::http::Handler {
  public:
    MembershipHandler(const lib::billing::OrderService& orders,
                      const lib::payments::Providers& providers)
        : orders_(orders), providers_(providers) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::billing::OrderService& orders_;
    const lib::payments::Providers& providers_;
};

/// GET /credit/recharge/orders and GET /credit/membership/orders (`kind`) → a page of the
/// caller's orders of that kind, newest first.
class OrderListHandler final : public lib::http::Handler {
  public:
    OrderListHandler(lib::db::Pool& pool, lib::billing::OrderKind kind,
                     const lib::base::Clock& clock, const lib::payments::Providers& providers)
        : pool_(pool), kind_(kind), clock_(clock), providers_(providers) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    lib::db::Pool& pool_;
    const lib::billing::OrderKind kind_;
    const lib::base::Clock& clock_;
    const lib::payments::Providers& providers_;
};

/// GET /credit/recharge/orders/{order_no} and GET /credit/membership/orders/{order_no} → the
/// caller's order; 404 for anyone else's, an order of the other kind, or a malformed order_no.
class OrderDetailHandler final : public lib::http::Handler {
  public:
    OrderDetailHandler(lib::db::Pool& pool, lib::billing::OrderKind kind,
                       const lib::base::Clock& clock, const lib::payments::Providers& providers)
        : pool_(pool), kind_(kind), clock_(clock), providers_(providers) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    lib::db::Pool& pool_;
    const lib::billing::OrderKind kind_;
    const lib::base::Clock& clock_;
    const lib::payments::Providers& providers_;
};

}  // namespace inkstone::handlers
