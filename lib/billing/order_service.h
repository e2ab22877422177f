#pragma once
/// Creating an order for a request (README, "Credits, orders and memberships": Orders,
/// Idempotency): POST /credit/recharge and POST /credit/membership call one function here, which
/// finds the terms, honours the Idempotency-Key, lets the payment provider learn the order, and
/// stores the order and the key's response in one transaction ("order.create").
///
/// Thread-safe: an OrderService has no mutable state. Errors: ApiError for what a client may see
/// (422 on an unknown package or plan, 409 on a reused key, whatever the provider hook throws);
/// db::DbError when the database fails (deadlocks are retried first).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "lib/base/clock.h"
#include "lib/billing/idempotency.h"
#include "lib/billing/money.h"
#include "lib/billing/order_enums.h"
#include "lib/billing/orders.h"
#include "lib/db/db.h"

namespace inkstone::lib::billing {

/// What POST /credit/recharge asks for, validated: a package by id, or custom terms
/// (CustomRecharge of an amount CustomAmountError accepted). Exactly one is set.
struct RechargeRequest {
    std::optional<int64_t> price_id;
    std::optional<RechargeTerms> custom;
    PaymentMethod method = PaymentMethod::kAlipay;
};

/// What POST /credit/membership asks for: a plan by id, by name, or both (naming one plan).
struct MembershipRequest {
    std::optional<int64_t> price_id;
    std::optional<std::string> plan;
    PaymentMethod method = PaymentMethod::kAlipay;
};

/// The answer to a creation: the 201 and its body, or the stored first response of a replay.
struct CreatedOrder {
    StoredResponse response;
    bool replayed = false;
};

class OrderService final {
  public:
    /// Called with a new order before it is stored, outside any transaction: the payment
    /// provider learns it (lib/payments RegisterWithProvider: live WeChat Pay's Native order,
    /// whose code_url it puts into `order`). Whatever it throws stops the creation with nothing
    /// stored and the key unused.
    using ProviderHook = std::function<void(Order& order, base::TimePoint now)>;
    /// The JSON body of the 201 for a new order (the order's view as of `now`); stored with the
    /// Idempotency-Key, so a replay answers exactly these bytes.
    using Render = std::function<std::string(const Order& order, base::TimePoint now)>;

    /// `max_pending` (`payment.max_pending_orders`): unpaid orders a user may have at once.
    OrderService(db::Pool& pool, const base::Clock& clock, std::chrono::seconds order_ttl,
                 ProviderHook register_with_provider, int max_pending = 5)
        : pool_(pool),
          clock_(clock),
          order_ttl_(order_ttl),
          register_with_provider_(std::move(register_with_provider)),
          max_pending_(max_pending) {}

    /// A PENDING recharge order for `user_id` (NewRechargeOrder), created as CreateOrder says.
    /// 422 `price_id` ("no such credit package") for an unknown or inactive package.
    CreatedOrder CreateRecharge(int64_t user_id, const RechargeRequest& request,
                                const std::optional<IdempotentRequest>& idempotency,
                                const Render& render) const;

    /// A PENDING membership order. 422 `plan` when plan and price_id name different plans, else
    /// 422 `plan` (or `price_id` when only that was given): "no such membership plan".
    CreatedOrder CreateMembership(int64_t user_id, const MembershipRequest& request,
                                  const std::optional<IdempotentRequest>& idempotency,
                                  const Render& render) const;

  private:
    /// Stores `order` once per Idempotency-Key (if any) and answers 201 with `render(order)`. A
    /// replay answers the stored first response, creates nothing and never reaches the provider.
    /// Otherwise the provider learns the order first, so a failure there leaves nothing behind
    /// here; then the order and the key's response are stored in one transaction, where of two
    /// concurrent first uses of a key exactly one stores anything (the key's primary key
    /// decides; the other answers the first's response, and a WeChat order it registered is
    /// never shown to anyone and lapses at its time_expire).
    ///
    /// Bounded per user: a user with `max_pending` payable unpaid orders (PENDING, not yet
    /// expired, both kinds) gets 429 RATE_LIMITED with Retry-After (until the first of them
    /// expires). The count is checked before the provider is asked and again under the user's
    /// row lock in the storing transaction, so concurrent creations on any number of hosts
    /// cannot exceed it. A replay of an Idempotency-Key is answered before the cap applies.
    CreatedOrder CreateOrder(int64_t user_id, const std::optional<IdempotentRequest>& idempotency,
                             base::TimePoint now, Order order, const Render& render) const;

    db::Pool& pool_;
    const base::Clock& clock_;
    const std::chrono::seconds order_ttl_;
    const ProviderHook register_with_provider_;
    const int max_pending_;
};

}  // namespace inkstone::lib::billing
