#include "lib/billing/orders.h"

#include <utility>

#include "lib/base/assert.h"
#include "lib/billing/wallet.h"

namespace inkstone::lib::billing {
namespace {

constexpr char kSelectPackagesSql[] =
    "SELECT id, credits, bonus_credits, price_fen FROM credit_prices WHERE active = 1 "
    "ORDER BY sort_order, id";
constexpr char kSelectPackageSql[] =
    "SELECT id, credits, bonus_credits, price_fen FROM credit_prices WHERE id = ? AND active = 1";
constexpr char kSelectPlansSql[] =
    "SELECT id, plan, name, months, price_fen FROM membership_prices WHERE active = 1 "
    "ORDER BY sort_order, id";

constexpr char kInsertRechargeOrderSql[] =
    "INSERT INTO recharge_orders (order_no, user_id, price_id, credits, bonus_credits, "
    "amount_fen, payment_method, code_url, status, created_at, expires_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?, ?)";
constexpr char kInsertMembershipOrderSql[] =
    "INSERT INTO membership_orders (order_no, user_id, price_id, plan, months, amount_fen, "
    "payment_method, code_url, status, created_at, expires_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?, ?)";

constexpr char kSelectRechargeOrderSql[] =
    "SELECT order_no, user_id, price_id, credits, bonus_credits, amount_fen, payment_method, "
    "code_url, status, created_at, expires_at, paid_at FROM recharge_orders "
    "WHERE order_no = ? AND user_id = ?";
constexpr char kSelectMembershipOrderSql[] =
    "SELECT order_no, user_id, price_id, plan, months, member_until, amount_fen, payment_method, "
    "code_url, status, created_at, expires_at, paid_at FROM membership_orders "
    "WHERE order_no = ? AND user_id = ?";
constexpr char kListRechargeOrdersSql[] =
    "SELECT order_no, user_id, price_id, credits, bonus_credits, amount_fen, payment_method, "
    "code_url, status, created_at, expires_at, paid_at FROM recharge_orders WHERE user_id = ? "
    "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?";
constexpr char kListMembershipOrdersSql[] =
    "SELECT order_no, user_id, price_id, plan, months, member_until, amount_fen, payment_method, "
    "code_url, status, created_at, expires_at, paid_at FROM membership_orders WHERE user_id = ? "
    "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?";
constexpr char kCountRechargeOrdersSql[] =
    "SELECT COUNT(*) AS total FROM recharge_orders WHERE user_id = ?";
constexpr char kCountMembershipOrdersSql[] =
    "SELECT COUNT(*) AS total FROM membership_orders WHERE user_id = ?";

CreditPackage ReadPackage(const db::Rows& row) {
    CreditPackage package;
    package.id = row.Int("id");
    package.terms.credits = row.Int("credits");
    package.terms.bonus_credits = row.Int("bonus_credits");
    package.terms.amount_fen = row.Int("price_fen");
    return package;
}

MembershipPlan ReadPlan(const db::Rows& row) {
    MembershipPlan plan;
    plan.id = row.Int("id");
    plan.plan = row.String("plan");
    plan.name = row.String("name");
    plan.months = static_cast<int>(row.Int("months"));
    plan.price_fen = row.Int("price_fen");
    return plan;
}

Order ReadOrder(const db::Rows& row, OrderKind kind) {
    Order order;
    order.kind = kind;
    order.order_no = row.String("order_no");
    order.user_id = row.Int("user_id");
    order.price_id = row.OptionalInt("price_id");
    if (kind == OrderKind::kRecharge) {
        order.credits = row.Int("credits");
        order.bonus_credits = row.Int("bonus_credits");
    } else {
        order.plan = row.String("plan");
        order.months = static_cast<int>(row.Int("months"));
        order.member_until = row.OptionalTime("member_until");
    }
    order.amount_fen = row.Int("amount_fen");
    order.payment_method = row.Enum<PaymentMethod>("payment_method");
    order.code_url = row.OptionalString("code_url");
    order.status = row.Enum<OrderStatus>("status");
    order.created_at = row.Time("created_at");
    order.expires_at = row.Time("expires_at");
    order.paid_at = row.OptionalTime("paid_at");
    return order;
}

/// A PENDING order of `kind` created now, expiring `ttl` later, with a fresh order number; the
/// caller adds the terms.
Order PendingOrder(OrderKind kind, int64_t user_id, std::optional<int64_t> price_id,
                   PaymentMethod payment_method, base::TimePoint now, std::chrono::seconds ttl) {
    Order order;
    order.kind = kind;
    order.user_id = user_id;
    order.price_id = price_id;
    order.payment_method = payment_method;
    order.status = OrderStatus::kPending;
    // Stored at whole seconds; the returned order must equal what a later read gives.
    order.created_at = std::chrono::floor<std::chrono::seconds>(now);
    order.expires_at = order.created_at + ttl;
    order.order_no = billing::NewOrderNo(kind, order.created_at);
    return order;
}

/// The single row of a `SELECT COUNT(*) AS total ...`.
int64_t Total(db::Rows rows) {
    INKSTONE_ASSERT(rows.Next(), "COUNT(*) returned no row");
    return rows.Int("total");
}

}  // namespace

std::vector<CreditPackage> ActivePackages(db::Pool& pool) {
    return db::WithLease(pool, [](db::Lease& lease) {
        std::vector<CreditPackage> packages;
        db::Rows rows = lease.Query(kSelectPackagesSql);
        while (rows.Next()) {
            CreditPackage package = ReadPackage(rows);
            if (!billing::PackageError(package.terms)) packages.push_back(package);
        }
        return packages;
    });
}

std::optional<CreditPackage> FindActivePackage(db::Pool& pool, int64_t id) {
    return db::WithLease(pool, [id](db::Lease& lease) -> std::optional<CreditPackage> {
        db::Rows row = lease.Query(kSelectPackageSql, id);
        if (!row.Next()) return std::nullopt;
        CreditPackage package = ReadPackage(row);
        if (billing::PackageError(package.terms)) return std::nullopt;
        return package;
    });
}

std::vector<MembershipPlan> ActivePlans(db::Pool& pool) {
    return db::WithLease(pool, [](db::Lease& lease) {
        std::vector<MembershipPlan> plans;
        db::Rows rows = lease.Query(kSelectPlansSql);
        while (rows.Next()) plans.push_back(ReadPlan(rows));
        return plans;
    });
}

std::optional<MembershipPlan> FindActivePlan(db::Pool& pool, std::optional<int64_t> id,
                                             std::optional<std::string> plan) {
    if (!id && !plan) return std::nullopt;
    // Three rows: reading them all keeps one statement for every way of naming a plan.
    for (MembershipPlan& candidate : ActivePlans(pool)) {
        if ((!id || candidate.id == *id) && (!plan || candidate.plan == *plan)) {
            return std::move(candidate);
        }
    }
    return std::nullopt;
}

Order NewRechargeOrder(int64_t user_id, std::optional<int64_t> price_id,
                       const billing::RechargeTerms& terms, PaymentMethod payment_method,
                       base::TimePoint now, std::chrono::seconds ttl) {
    Order order = PendingOrder(OrderKind::kRecharge, user_id, price_id, payment_method, now, ttl);
    order.credits = terms.credits;
    order.bonus_credits = terms.bonus_credits;
    order.amount_fen = terms.amount_fen;
    return order;
}

Order NewMembershipOrder(int64_t user_id, const MembershipPlan& plan, PaymentMethod payment_method,
                         base::TimePoint now, std::chrono::seconds ttl) {
    Order order = PendingOrder(OrderKind::kMembership, user_id, plan.id, payment_method, now, ttl);
    order.plan = plan.plan;
    order.months = plan.months;
    order.amount_fen = plan.price_fen;
    return order;
}

void InsertOrder(db::Lease& lease, const Order& order) {
    INKSTONE_ASSERT(order.status == OrderStatus::kPending, "order " + order.order_no);
    if (order.kind == OrderKind::kRecharge) {
        lease.Execute(kInsertRechargeOrderSql, order.order_no, order.user_id, order.price_id,
                      order.credits, order.bonus_credits, order.amount_fen, order.payment_method,
                      order.code_url, order.created_at, order.expires_at, order.created_at);
    } else {
        lease.Execute(kInsertMembershipOrderSql, order.order_no, order.user_id, order.price_id,
                      order.plan, order.months, order.amount_fen, order.payment_method,
                      order.code_url, order.created_at, order.expires_at, order.created_at);
    }
}

constexpr char kCountPendingRechargeSql[] =
    "SELECT COUNT(*) AS n, MIN(expires_at) AS first_expiry FROM recharge_orders "
    "WHERE user_id = ? AND status = 'PENDING' AND expires_at > ?";
constexpr char kCountPendingMembershipSql[] =
    "SELECT COUNT(*) AS n, MIN(expires_at) AS first_expiry FROM membership_orders "
    "WHERE user_id = ? AND status = 'PENDING' AND expires_at > ?";

PendingOrders CountPendingOrders(db::Lease& lease, int64_t user_id, base::TimePoint now) {
    PendingOrders pending;
    for (const char* sql : {kCountPendingRechargeSql, kCountPendingMembershipSql}) {
        db::Rows rows = lease.Query(sql, user_id, now);
        if (!rows.Next()) continue;
        pending.count += rows.Int("n");
        const std::optional<base::TimePoint> first = rows.OptionalTime("first_expiry");
        if (first && (!pending.first_expiry || *first < *pending.first_expiry)) {
            pending.first_expiry = first;
        }
    }
    return pending;
}

void LockOrderingUser(db::Lease& lease, int64_t user_id) {
    // A write, not SELECT ... FOR UPDATE: on Galera the lock alone holds only on one node.
    WriteLockUser(lease, user_id);
}

std::optional<Order> FindUserOrder(db::Pool& pool, OrderKind kind, int64_t user_id,
                                   std::string_view order_no) {
    if (billing::OrderKindOf(order_no) != kind) return std::nullopt;
    return db::WithLease(pool, [&](db::Lease& lease) -> std::optional<Order> {
        db::Rows row = lease.Query(
            kind == OrderKind::kRecharge ? kSelectRechargeOrderSql : kSelectMembershipOrderSql,
            order_no, user_id);
        if (!row.Next()) return std::nullopt;
        return ReadOrder(row, kind);
    });
}

OrderPage ListUserOrders(db::Pool& pool, OrderKind kind, int64_t user_id, int64_t limit,
                         int64_t offset) {
    const bool recharge = kind == OrderKind::kRecharge;
    return db::WithLease(pool, [&](db::Lease& lease) {
        OrderPage page;
        db::Rows rows = lease.Query(recharge ? kListRechargeOrdersSql : kListMembershipOrdersSql,
                                    user_id, limit, offset);
        while (rows.Next()) page.items.push_back(ReadOrder(rows, kind));
        page.total = Total(
            lease.Query(recharge ? kCountRechargeOrdersSql : kCountMembershipOrdersSql, user_id));
        return page;
    });
}

}  // namespace inkstone::lib::billing
