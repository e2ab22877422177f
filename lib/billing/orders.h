#pragma once
/// Price lists and orders (README, "Credits, orders and memberships"): reading the seeded packages
/// and plans, numbering, storing and reading recharge and membership orders. Creating an order for
/// a request (idempotency, the provider, one transaction) is lib/billing/order_service.h;
/// settlement and expiry, which change what an order delivers, live in the wallet
/// (lib/billing/wallet.h).
///
/// Orders are kept in two tables, `recharge_orders` and `membership_orders`; the first letter of
/// an order_no (billing::OrderKindOf) says which. Functions are thread-safe (no state); those
/// taking a Lease run inside the caller's transaction, the others lease their own connection.
/// DB failures escape as db::DbError.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/clock.h"
#include "lib/billing/money.h"
#include "lib/billing/order_enums.h"
#include "lib/db/db.h"

namespace inkstone::lib::billing {

/// A credit package (a `credit_prices` row).
struct CreditPackage {
    int64_t id = 0;
    billing::RechargeTerms terms;  ///< credits, bonus_credits, amount_fen (= price_fen)
};

/// A membership plan (a `membership_prices` row).
struct MembershipPlan {
    int64_t id = 0;
    std::string plan;  ///< "monthly", "quarterly", "yearly"
    std::string name;
    int months = 0;
    int64_t price_fen = 0;
};

/// One order of either kind, as stored. Fields of the other kind keep their defaults.
struct Order {
    billing::OrderKind kind = billing::OrderKind::kRecharge;
    std::string order_no;
    int64_t user_id = 0;
    std::optional<int64_t> price_id;  ///< null for a custom recharge
    // recharge
    int64_t credits = 0;
    int64_t bonus_credits = 0;
    // membership
    std::string plan;
    int months = 0;
    std::optional<base::TimePoint> member_until;  ///< set when paid
    // both
    int64_t amount_fen = 0;
    PaymentMethod payment_method = PaymentMethod::kAlipay;
    /// What the provider answered when the order was created and cannot be asked for again:
    /// WeChat Pay's Native `code_url` (live mode). nullopt otherwise.
    std::optional<std::string> code_url;
    OrderStatus status = OrderStatus::kPending;
    base::TimePoint created_at;
    base::TimePoint expires_at;
    std::optional<base::TimePoint> paid_at;
};

struct OrderPage {
    std::vector<Order> items;  ///< newest first
    int64_t total = 0;
};

/// The active packages, in display order. Rows failing billing::PackageError are left out.
std::vector<CreditPackage> ActivePackages(db::Pool& pool);
/// The active package `id`, or nullopt.
std::optional<CreditPackage> FindActivePackage(db::Pool& pool, int64_t id);

/// The active plans, in display order.
std::vector<MembershipPlan> ActivePlans(db::Pool& pool);
/// The active plan with this id (when `id` is set) or this name (when `plan` is set); both set
/// must name the same plan. nullopt when none matches.
std::optional<MembershipPlan> FindActivePlan(db::Pool& pool, std::optional<int64_t> id,
                                             std::optional<std::string> plan);

/// A PENDING recharge order, not stored yet: a fresh order_no (billing::NewOrderNo), created now
/// (whole seconds) and expiring `ttl` later. Numbering before storing lets a live provider
/// learn the order (WeChat Pay's Native order) before the order exists here.
Order NewRechargeOrder(int64_t user_id, std::optional<int64_t> price_id,
                       const billing::RechargeTerms& terms, PaymentMethod payment_method,
                       base::TimePoint now, std::chrono::seconds ttl);

/// The same for a membership order of `plan`.
Order NewMembershipOrder(int64_t user_id, const MembershipPlan& plan, PaymentMethod payment_method,
                         base::TimePoint now, std::chrono::seconds ttl);

/// Inserts `order` (from New*Order, code_url filled in or not) inside the caller's transaction;
/// a later read returns it exactly. Its order_no is 100 random bits, so a clash with an existing
/// order is not expected in the lifetime of the universe; the UNIQUE key still refuses one (a
/// db::DbError of kind kDuplicate, like any other failed statement).
void InsertOrder(db::Lease& lease, const Order& order);

/// The user's unpaid orders that can still be paid (PENDING, expires_at > now), both kinds
/// together, and when the first of them expires.
struct PendingOrders {
    int64_t count = 0;
    std::optional<base::TimePoint> first_expiry;
};
PendingOrders CountPendingOrders(db::Lease& lease, int64_t user_id, base::TimePoint now);

/// Locks the user's row by writing it (WriteLockUser, lib/billing/wallet.h) inside the caller's
/// transaction, so that counting and inserting the user's orders is one step across workers and
/// hosts, Galera nodes included (a lock alone holds on one node only).
void LockOrderingUser(db::Lease& lease, int64_t user_id);

/// The user's order `order_no` of the given kind; nullopt when it does not exist, is of the
/// other kind, is malformed, or belongs to someone else (all the same 404 to a client).
std::optional<Order> FindUserOrder(db::Pool& pool, billing::OrderKind kind, int64_t user_id,
                                   std::string_view order_no);

/// One page of the user's orders of one kind, newest first.
OrderPage ListUserOrders(db::Pool& pool, billing::OrderKind kind, int64_t user_id, int64_t limit,
                         int64_t offset);

}  // namespace inkstone::lib::billing
