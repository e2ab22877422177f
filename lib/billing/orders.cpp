#include "lib/billing/orders.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <stdexcept>

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
constexpr char kCountRechargeOrdersSql[] = "SELECT COUNT(*) FROM recharge_orders WHERE user_id = ?";
constexpr char kCountMembershipOrdersSql[] =
    "SELECT COUNT(*) FROM membership_orders WHERE user_id = ?";

CreditPackage ReadPackage(sql::ResultSet& row) {
    CreditPackage package;
    package.id = static_cast<int64_t>(row.getUInt64("id"));
    package.terms.credits = row.getInt64("credits");
    package.terms.bonus_credits = row.getInt64("bonus_credits");
    package.terms.amount_fen = row.getInt64("price_fen");
    return package;
}

MembershipPlan ReadPlan(sql::ResultSet& row) {
    MembershipPlan plan;
    plan.id = static_cast<int64_t>(row.getUInt64("id"));
    plan.plan = row.getString("plan").asStdString();
    plan.name = row.getString("name").asStdString();
    plan.months = row.getInt("months");
    plan.price_fen = row.getInt64("price_fen");
    return plan;
}

Order ReadOrder(sql::ResultSet& row, OrderKind kind) {
    Order order;
    order.kind = kind;
    order.order_no = row.getString("order_no").asStdString();
    order.user_id = static_cast<int64_t>(row.getUInt64("user_id"));
    if (!row.isNull("price_id")) order.price_id = static_cast<int64_t>(row.getUInt64("price_id"));
    if (kind == OrderKind::kRecharge) {
        order.credits = row.getInt64("credits");
        order.bonus_credits = row.getInt64("bonus_credits");
    } else {
        order.plan = row.getString("plan").asStdString();
        order.months = row.getInt("months");
        order.member_until = db::GetOptionalTime(row, "member_until");
    }
    order.amount_fen = row.getInt64("amount_fen");
    order.payment_method = row.getString("payment_method").asStdString();
    if (!row.isNull("code_url")) order.code_url = row.getString("code_url").asStdString();
    order.status = row.getString("status").asStdString();
    order.created_at = db::GetTime(row, "created_at");
    order.expires_at = db::GetTime(row, "expires_at");
    order.paid_at = db::GetOptionalTime(row, "paid_at");
    return order;
}

/// A PENDING order of `kind` created now, expiring `ttl` later, with a fresh order number; the
/// caller adds the terms.
Order PendingOrder(OrderKind kind, int64_t user_id, std::optional<int64_t> price_id,
                   const std::string& payment_method, base::TimePoint now, std::chrono::seconds ttl) {
    Order order;
    order.kind = kind;
    order.user_id = user_id;
    order.price_id = price_id;
    order.payment_method = payment_method;
    order.status = "PENDING";
    // Stored at whole seconds; the returned order must equal what a later read gives.
    order.created_at = std::chrono::floor<std::chrono::seconds>(now);
    order.expires_at = order.created_at + ttl;
    order.order_no = billing::NewOrderNo(kind, order.created_at);
    return order;
}

}  // namespace

bool IsPaymentMethod(std::string_view method) { return method == "alipay" || method == "wechat"; }

std::vector<CreditPackage> ActivePackages(db::Pool& pool) {
    return db::WithLease(pool, [](db::Lease& lease) {
        std::vector<CreditPackage> packages;
        std::unique_ptr<sql::ResultSet> rows(lease.Prepare(kSelectPackagesSql).executeQuery());
        while (rows->next()) {
            CreditPackage package = ReadPackage(*rows);
            if (!billing::PackageError(package.terms)) packages.push_back(package);
        }
        return packages;
    });
}

std::optional<CreditPackage> FindActivePackage(db::Pool& pool, int64_t id) {
    return db::WithLease(pool, [id](db::Lease& lease) -> std::optional<CreditPackage> {
        sql::PreparedStatement& select = lease.Prepare(kSelectPackageSql);
        select.setUInt64(1, static_cast<uint64_t>(id));
        std::unique_ptr<sql::ResultSet> row(select.executeQuery());
        if (!row->next()) return std::nullopt;
        CreditPackage package = ReadPackage(*row);
        if (billing::PackageError(package.terms)) return std::nullopt;
        return package;
    });
}

std::vector<MembershipPlan> ActivePlans(db::Pool& pool) {
    return db::WithLease(pool, [](db::Lease& lease) {
        std::vector<MembershipPlan> plans;
        std::unique_ptr<sql::ResultSet> rows(lease.Prepare(kSelectPlansSql).executeQuery());
        while (rows->next()) plans.push_back(ReadPlan(*rows));
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
                       const billing::RechargeTerms& terms, const std::string& payment_method,
                       base::TimePoint now, std::chrono::seconds ttl) {
    Order order = PendingOrder(OrderKind::kRecharge, user_id, price_id, payment_method, now, ttl);
    order.credits = terms.credits;
    order.bonus_credits = terms.bonus_credits;
    order.amount_fen = terms.amount_fen;
    return order;
}

Order NewMembershipOrder(int64_t user_id, const MembershipPlan& plan,
                         const std::string& payment_method, base::TimePoint now,
                         std::chrono::seconds ttl) {
    Order order = PendingOrder(OrderKind::kMembership, user_id, plan.id, payment_method, now, ttl);
    order.plan = plan.plan;
    order.months = plan.months;
    order.amount_fen = plan.price_fen;
    return order;
}

void InsertOrder(db::Lease& lease, const Order& order) {
    const bool recharge = order.kind == OrderKind::kRecharge;
    sql::PreparedStatement& insert =
        lease.Prepare(recharge ? kInsertRechargeOrderSql : kInsertMembershipOrderSql);
    insert.setString(1, order.order_no);
    insert.setUInt64(2, static_cast<uint64_t>(order.user_id));
    if (order.price_id) {
        insert.setUInt64(3, static_cast<uint64_t>(*order.price_id));
    } else {
        insert.setNull(3, sql::DataType::INTEGER);
    }
    if (recharge) {
        insert.setInt64(4, order.credits);
        insert.setInt64(5, order.bonus_credits);
    } else {
        insert.setString(4, order.plan);
        insert.setInt(5, order.months);
    }
    insert.setInt64(6, order.amount_fen);
    insert.setString(7, order.payment_method);
    if (order.code_url) {
        insert.setString(8, *order.code_url);
    } else {
        insert.setNull(8, sql::DataType::VARCHAR);
    }
    insert.setString(9, base::FormatSqlDateTime(order.created_at));
    insert.setString(10, base::FormatSqlDateTime(order.expires_at));
    insert.setString(11, base::FormatSqlDateTime(order.created_at));
    insert.executeUpdate();
}

std::optional<Order> FindUserOrder(db::Pool& pool, OrderKind kind, int64_t user_id,
                                   std::string_view order_no) {
    if (billing::OrderKindOf(order_no) != kind) return std::nullopt;
    return db::WithLease(pool, [&](db::Lease& lease) -> std::optional<Order> {
        sql::PreparedStatement& select = lease.Prepare(
            kind == OrderKind::kRecharge ? kSelectRechargeOrderSql : kSelectMembershipOrderSql);
        select.setString(1, std::string(order_no));
        select.setUInt64(2, static_cast<uint64_t>(user_id));
        std::unique_ptr<sql::ResultSet> row(select.executeQuery());
        if (!row->next()) return std::nullopt;
        return ReadOrder(*row, kind);
    });
}

OrderPage ListUserOrders(db::Pool& pool, OrderKind kind, int64_t user_id, int64_t limit,
                         int64_t offset) {
    const bool recharge = kind == OrderKind::kRecharge;
    return db::WithLease(pool, [&](db::Lease& lease) {
        OrderPage page;
        sql::PreparedStatement& list =
            lease.Prepare(recharge ? kListRechargeOrdersSql : kListMembershipOrdersSql);
        list.setUInt64(1, static_cast<uint64_t>(user_id));
        list.setInt64(2, limit);
        list.setInt64(3, offset);
        std::unique_ptr<sql::ResultSet> rows(list.executeQuery());
        while (rows->next()) page.items.push_back(ReadOrder(*rows, kind));
        sql::PreparedStatement& count =
            lease.Prepare(recharge ? kCountRechargeOrdersSql : kCountMembershipOrdersSql);
        count.setUInt64(1, static_cast<uint64_t>(user_id));
        std::unique_ptr<sql::ResultSet> total(count.executeQuery());
        if (!total->next()) throw std::runtime_error("COUNT(*) returned no row");
        page.total = total->getInt64(1);
        return page;
    });
}

}  // namespace inkstone::lib::billing
