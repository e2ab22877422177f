#include "lib/billing/order_service.h"

#include <utility>

#include "lib/base/assert.h"
#include "lib/base/errors.h"
#include "lib/base/metrics.h"

namespace inkstone::lib::billing {

CreatedOrder OrderService::CreateRecharge(int64_t user_id, const RechargeRequest& request,
                                          const std::optional<IdempotentRequest>& idempotency,
                                          const Render& render) const {
    RechargeTerms terms;
    if (request.price_id) {
        const std::optional<CreditPackage> package = FindActivePackage(pool_, *request.price_id);
        if (!package) throw base::ApiError::Validation("price_id", "no such credit package");
        terms = package->terms;
    } else {
        INKSTONE_ASSERT(request.custom.has_value(), "recharge request without terms");
        terms = *request.custom;
    }
    const base::TimePoint now = clock_.Now();
    return CreateOrder(
        user_id, idempotency, now,
        NewRechargeOrder(user_id, request.price_id, terms, request.method, now, order_ttl_),
        render);
}

CreatedOrder OrderService::CreateMembership(int64_t user_id, const MembershipRequest& request,
                                            const std::optional<IdempotentRequest>& idempotency,
                                            const Render& render) const {
    const std::optional<MembershipPlan> plan =
        FindActivePlan(pool_, request.price_id, request.plan);
    if (!plan) {
        if (request.plan && request.price_id) {
            throw base::ApiError::Validation("plan",
                                             "plan and price_id do not name one active plan");
        }
        throw base::ApiError::Validation(request.plan ? "plan" : "price_id",
                                         "no such membership plan");
    }
    const base::TimePoint now = clock_.Now();
    return CreateOrder(user_id, idempotency, now,
                       NewMembershipOrder(user_id, *plan, request.method, now, order_ttl_), render);
}

namespace {

base::ApiError TooManyPending(const PendingOrders& pending, base::TimePoint now) {
    base::ApiError error(base::ErrorCode::kRateLimited,
                         "too many unpaid orders; pay one or wait until one expires");
    int64_t wait = 1;
    if (pending.first_expiry) {
        wait = std::chrono::ceil<std::chrono::seconds>(*pending.first_expiry - now).count();
    }
    error.retry_after_s = static_cast<int>(wait < 1 ? 1 : wait);
    return error;
}

}  // namespace

CreatedOrder OrderService::CreateOrder(int64_t user_id,
                                       const std::optional<IdempotentRequest>& idempotency,
                                       base::TimePoint now, Order order,
                                       const Render& render) const {
    if (idempotency) {
        if (std::optional<StoredResponse> stored = FindIdempotencyKey(
                pool_, user_id, idempotency->key, idempotency->fingerprint, now)) {
            return CreatedOrder{std::move(*stored), true};
        }
    }
    // Checked before the provider learns of a new order, so a user at the cap costs no provider
    // call; the count that decides is taken again under the user's row lock below.
    const PendingOrders pending = db::WithLease(
        pool_, [&](db::Lease& lease) { return CountPendingOrders(lease, user_id, now); });
    if (pending.count >= max_pending_) throw TooManyPending(pending, now);

    if (register_with_provider_) register_with_provider_(order, now);
    StoredResponse fresh;
    fresh.status = 201;
    fresh.body = render(order, now);
    return db::RetryOnAborted(pool_, "order.create", [&](db::Transaction& tx) {
        db::Lease& lease = tx.lease();
        if (idempotency) {
            if (std::optional<StoredResponse> stored = ClaimIdempotencyKey(
                    lease, user_id, idempotency->key, idempotency->fingerprint, now)) {
                return CreatedOrder{std::move(*stored), true};
            }
        }
        // The count that decides, under the user's row lock: concurrent creations queue here.
        LockOrderingUser(lease, user_id);
        const PendingOrders locked = CountPendingOrders(lease, user_id, now);
        if (locked.count >= max_pending_) throw TooManyPending(locked, now);
        InsertOrder(lease, order);
        if (idempotency) CompleteIdempotencyKey(lease, user_id, idempotency->key, fresh);
        lease.AfterCommit([kind = order.kind, method = order.payment_method] {
            base::metrics::Count(
                "inkstone_orders_created_total",
                {{"kind", kind == OrderKind::kRecharge ? "recharge" : "membership"},
                 {"method", ToSql(method)}});
        });
        return CreatedOrder{fresh, false};
    });
}

}  // namespace inkstone::lib::billing
