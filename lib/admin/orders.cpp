#include "lib/admin/orders.h"

#include <ctime>
#include <utility>

#include "lib/admin/users.h"
#include "lib/base/assert.h"
#include "lib/base/errors.h"
#include "lib/base/json.h"
#include "lib/billing/money.h"
#include "lib/billing/refunds.h"

namespace inkstone::lib::admin {
namespace {

using base::TimePoint;

// Both kinds in one list: each branch takes the same filters (a NULL one matches everything),
// and the kind filter switches a branch off. Plans and months are NULL for recharges, credits
// for memberships.
#define INKSTONE_ORDER_BRANCH(table, kind, credits, bonus, plan, months)                       \
    "SELECT o.id, o.order_no, '" kind                                                          \
    "' AS kind, o.user_id, u.username, o.status, o.amount_fen, " credits " AS credits, " bonus \
    " AS bonus_credits, " plan " AS plan, " months                                             \
    " AS months, "                                                                             \
    "o.payment_method, o.created_at, o.paid_at, o.provider_trade_no, o.paid_provider, "        \
    "o.expires_at, r.status AS refund_status FROM " table                                      \
    " o JOIN users u ON u.id = o.user_id "                                                     \
    "LEFT JOIN order_refunds r ON r.order_no = o.order_no "                                    \
    "WHERE (? IS NULL OR ? = '" kind                                                           \
    "') AND (? IS NULL OR o.order_no = ?) "                                                    \
    "AND (? IS NULL OR o.user_id = ?) AND (? IS NULL OR o.status = ?) "                        \
    "AND (? IS NULL OR o.payment_method = ?) AND (? IS NULL OR o.created_at >= ?) "            \
    "AND (? IS NULL OR o.created_at < ?)"
#define INKSTONE_ORDERS_UNION                                                                    \
    INKSTONE_ORDER_BRANCH("recharge_orders", "recharge", "o.credits", "o.bonus_credits", "NULL", \
                          "NULL")                                                                \
    " UNION ALL " INKSTONE_ORDER_BRANCH("membership_orders", "membership", "NULL", "NULL",       \
                                        "o.plan", "o.months")

constexpr char kListOrdersSql[] = "SELECT * FROM (" INKSTONE_ORDERS_UNION
                                  ") x ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?";
constexpr char kCountOrdersSql[] = "SELECT COUNT(*) AS n FROM (" INKSTONE_ORDERS_UNION ") x";
constexpr char kOneOrderSql[] = "SELECT * FROM (" INKSTONE_ORDERS_UNION ") x";
#undef INKSTONE_ORDERS_UNION
#undef INKSTONE_ORDER_BRANCH

constexpr char kOrderLedgerSql[] =
    "SELECT id, type, amount, balance_after, description, related_order_no, "
    "related_generation_id, created_at FROM credit_transactions WHERE related_order_no = ? "
    "ORDER BY id";
constexpr char kOrderNotifiesSql[] =
    "SELECT provider, kind, outcome, http_status, detail, received_at FROM notify_log "
    "WHERE order_no = ? ORDER BY received_at, id";
constexpr char kOrderGrantsSql[] =
    "SELECT id, source, months, days, expired_before, expired_after, related_order_no, "
    "related_redeem_code_id, created_at FROM membership_grants WHERE related_order_no = ? "
    "ORDER BY id";
constexpr char kUserBalanceSql[] = "SELECT credits, member_expired_at FROM users WHERE id = ?";
constexpr char kExpireRechargeSql[] =
    "UPDATE recharge_orders SET status = 'EXPIRED', updated_at = ? "
    "WHERE order_no = ? AND status = 'PENDING' AND expires_at < ?";
constexpr char kExpireMembershipSql[] =
    "UPDATE membership_orders SET status = 'EXPIRED', updated_at = ? "
    "WHERE order_no = ? AND status = 'PENDING' AND expires_at < ?";

Json::Value OrderRow(const db::Rows& row, bool detail) {
    Json::Value json(Json::objectValue);
    json["order_no"] = row.String("order_no");
    json["kind"] = row.String("kind");
    json["user_id"] = Json::Int64{row.Int("user_id")};
    json["username"] = row.String("username");
    json["status"] = row.String("status");
    json["amount_fen"] = Json::Int64{row.Int("amount_fen")};
    json["credits"] = base::IntOrNull(row.OptionalInt("credits"));
    json["bonus_credits"] = base::IntOrNull(row.OptionalInt("bonus_credits"));
    json["plan"] = base::TextOrNull(row.OptionalString("plan"));
    json["months"] = base::IntOrNull(row.OptionalInt("months"));
    json["payment_method"] = row.String("payment_method");
    json["created_at"] = base::FormatRfc3339(row.Time("created_at"));
    json["paid_at"] = base::TimeOrNull(row.OptionalTime("paid_at"));
    json["provider_trade_no"] = base::TextOrNull(row.OptionalString("provider_trade_no"));
    json["refund_status"] = base::TextOrNull(row.OptionalString("refund_status"));
    if (detail) {
        json["paid_provider"] = base::TextOrNull(row.OptionalString("paid_provider"));
        json["expires_at"] = base::FormatRfc3339(row.Time("expires_at"));
    }
    return json;
}

/// Runs `sql` (one of the union statements) with the filter's values, in the placeholders'
/// order: per branch kind, order_no, user_id, status, method, from, to (each twice), then `tail`.
template <class... Tail>
db::Rows QueryOrders(db::Lease& lease, const char* sql, const OrderFilter& f, const Tail&... tail) {
    return lease.Query(sql, f.kind, f.kind, f.order_no, f.order_no, f.user_id, f.user_id, f.status,
                       f.status, f.method, f.method, f.from, f.from, f.to, f.to, f.kind, f.kind,
                       f.order_no, f.order_no, f.user_id, f.user_id, f.status, f.status, f.method,
                       f.method, f.from, f.from, f.to, f.to, tail...);
}

/// YYYY-MM-DD as the UTC midnight starting that day; nullopt when malformed.
std::optional<TimePoint> ParseDay(const std::string& text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
    }
    std::tm tm{};
    tm.tm_year = std::stoi(text.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(text.substr(5, 2)) - 1;
    tm.tm_mday = std::stoi(text.substr(8, 2));
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31) return std::nullopt;
    const std::tm asked = tm;
    const time_t seconds = timegm(&tm);
    // timegm normalises 2026-02-31 to March: such a day does not exist.
    if (tm.tm_mday != asked.tm_mday || tm.tm_mon != asked.tm_mon) return std::nullopt;
    return std::chrono::system_clock::from_time_t(seconds);
}

Json::Value FindOrder(db::Pool& pool, const std::string& order_no) {
    OrderFilter filter;
    filter.order_no = order_no;
    return db::WithLease(pool, [&](db::Lease& lease) {
        db::Rows row = QueryOrders(lease, kOneOrderSql, filter);
        if (!row.Next()) throw base::ApiError(base::ErrorCode::kNotFound, "order not found");
        return OrderRow(row, true);
    });
}

/// The order's kind from its number; 404 when it names none.
billing::OrderKind KindOf(const std::string& order_no) {
    const std::optional<billing::OrderKind> kind = billing::OrderKindOf(order_no);
    if (!kind) throw base::ApiError(base::ErrorCode::kNotFound, "order not found");
    return *kind;
}

}  // namespace

OrderFilter ParseOrderFilter(const http::Request& request) {
    const auto read = [&](std::string_view name) -> std::optional<std::string> {
        std::optional<std::string> value = request.QueryParam(name);
        if (value && value->empty()) return std::nullopt;
        if (value && value->size() > 64) {
            throw base::ApiError::Validation(std::string(name), "at most 64 characters");
        }
        return value;
    };
    const auto one_of = [&](std::string_view name, std::initializer_list<const char*> allowed) {
        std::optional<std::string> value = read(name);
        if (!value) return value;
        for (const char* option : allowed) {
            if (*value == option) return value;
        }
        throw base::ApiError::Validation(std::string(name), "not a known value");
    };
    OrderFilter filter;
    filter.order_no = read("order_no");
    if (const std::optional<std::string> user = read("user_id")) {
        int64_t id = 0;
        for (char c : *user) {
            if (c < '0' || c > '9' || id > 1'000'000'000'000) {
                throw base::ApiError::Validation("user_id", "must be a user id");
            }
            id = id * 10 + (c - '0');
        }
        filter.user_id = id;
    }
    filter.kind = one_of("kind", {"recharge", "membership"});
    filter.status = one_of("status", {"PENDING", "PAID", "EXPIRED"});
    filter.method = one_of("method", {"alipay", "wechat"});
    for (const char* name : {"from", "to"}) {
        if (const std::optional<std::string> day = read(name)) {
            const std::optional<TimePoint> start = ParseDay(*day);
            if (!start) throw base::ApiError::Validation(name, "must be a date YYYY-MM-DD");
            if (std::string_view(name) == "from") {
                filter.from = start;
            } else {
                filter.to = *start + std::chrono::hours(24);
            }
        }
    }
    return filter;
}

Json::Value SearchOrders(db::Pool& pool, const OrderFilter& filter, const http::PageRequest& page) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        Json::Value items(Json::arrayValue);
        db::Rows rows = QueryOrders(lease, kListOrdersSql, filter, page.limit(), page.offset());
        while (rows.Next()) items.append(OrderRow(rows, false));
        db::Rows count = QueryOrders(lease, kCountOrdersSql, filter);
        count.Next();
        return http::PageJson(std::move(items), count.Int("n"), page);
    });
}

Json::Value RefundToJson(const billing::OrderRefund& refund) {
    Json::Value json(Json::objectValue);
    json["refund_no"] = refund.refund_no;
    json["amount_fen"] = Json::Int64{refund.amount_fen};
    json["credits"] = Json::Int64{refund.credits};
    json["status"] = std::string(billing::ToSql(refund.status));
    json["provider_refund_id"] = base::TextOrNull(refund.provider_refund_id);
    json["failure"] = base::TextOrNull(refund.failure);
    json["reason"] = refund.reason;
    json["created_at"] = base::FormatRfc3339(refund.created_at);
    json["succeeded_at"] = base::TimeOrNull(refund.succeeded_at);
    return json;
}

OrderDetail GetOrderDetail(db::Pool& pool, const payments::NotifyProcessor& notifies,
                           const std::string& order_no) {
    KindOf(order_no);
    OrderDetail detail;
    detail.order = FindOrder(pool, order_no);
    db::WithLease(pool, [&](db::Lease& lease) {
        db::Rows ledger = lease.Query(kOrderLedgerSql, order_no);
        while (ledger.Next()) {
            billing::LedgerEntry entry;
            entry.id = ledger.Int("id");
            INKSTONE_ASSERT(billing::FromSql(ledger.String("type"), &entry.type),
                            "ledger row of an unknown type");
            entry.amount = ledger.Int("amount");
            entry.balance_after = ledger.Int("balance_after");
            entry.description = ledger.String("description");
            entry.related_order_no = ledger.OptionalString("related_order_no");
            entry.related_generation_id = ledger.OptionalInt("related_generation_id");
            entry.created_at = ledger.Time("created_at");
            detail.ledger.push_back(std::move(entry));
        }
        db::Rows notifies = lease.Query(kOrderNotifiesSql, order_no);
        while (notifies.Next()) {
            Json::Value row(Json::objectValue);
            row["provider"] = notifies.String("provider");
            row["kind"] = notifies.String("kind");
            row["outcome"] = notifies.String("outcome");
            row["http_status"] = Json::Int64{notifies.Int("http_status")};
            row["detail"] = notifies.OptionalString("detail").value_or("");
            row["received_at"] = base::FormatRfc3339(notifies.Time("received_at"));
            detail.notifies.append(std::move(row));
        }
        db::Rows grants = lease.Query(kOrderGrantsSql, order_no);
        while (grants.Next()) detail.membership_grants.append(MembershipGrantJson(grants));
        return 0;
    });
    const billing::Refunds* refunds = notifies.refunds();
    INKSTONE_ASSERT(refunds != nullptr, "the admin console's notify processor has a pool");
    if (std::optional<billing::OrderRefund> refund = refunds->FindByOrder(order_no)) {
        detail.refund = RefundToJson(*refund);
    }
    return detail;
}

ReconcileResult ReconcileOrder(db::Pool& pool, const base::Clock& clock,
                               const payments::NotifyProcessor& notifies, const Actor& actor,
                               const std::string& order_no, const std::string& reason) {
    const billing::OrderKind kind = KindOf(order_no);
    const Json::Value before = FindOrder(pool, order_no);
    const std::string status = before["status"].asString();
    ReconcileResult result;
    const billing::Refunds* refunds = notifies.refunds();
    INKSTONE_ASSERT(refunds != nullptr, "the admin console's notify processor has a pool");
    if (status == "PENDING") {
        billing::OverdueOrder order;
        order.order_no = order_no;
        INKSTONE_ASSERT(
            billing::FromSql(before["payment_method"].asString(), &order.payment_method),
            "order " + order_no + " without a known payment method");
        order.amount_fen = before["amount_fen"].asInt64();
        // Live: the provider is asked and a payment it knows is settled (as the expiry job
        // does); a provider that cannot be asked leaves it pending. Mock: nobody to ask.
        const bool keep = notifies.Reconcile(order);
        if (!keep) {
            const TimePoint now = clock.Now();
            db::WithLease(pool, [&](db::Lease& lease) {
                return lease.Execute(kind == billing::OrderKind::kRecharge ? kExpireRechargeSql
                                                                           : kExpireMembershipSql,
                                     now, order_no, now);
            });
        }
    } else if (status == "PAID") {
        if (std::optional<billing::OrderRefund> refund = refunds->FindByOrder(order_no)) {
            if (refund->status == billing::RefundStatus::kPending) {
                // SubmitRefund answers the refund as stored after asking.
                refund = notifies.SubmitRefund(*refund);
                result.outcome = "refund_checked";
            }
            result.refund = RefundToJson(*refund);
        }
    }
    result.order = FindOrder(pool, order_no);
    const std::string after_status = result.order["status"].asString();
    if (result.outcome.empty()) {
        if (after_status == status) {
            result.outcome = status == "PENDING" ? "still_pending" : "unchanged";
        } else {
            result.outcome = after_status == "PAID" ? "settled" : "expired";
        }
    }
    db::RetryOnAborted(pool, "admin.order_reconcile", [&](db::Transaction& tx) {
        AuditEntry entry;
        entry.action = "order.reconcile";
        entry.target_type = "order";
        entry.target_id = order_no;
        entry.before["status"] = status;
        entry.after["status"] = after_status;
        entry.after["outcome"] = result.outcome;
        if (!result.refund.isNull()) entry.after["refund_status"] = result.refund["status"];
        entry.reason = reason;
        return RecordAudit(tx, actor, entry, clock.Now());
    });
    return result;
}

RefundResult RefundOrder(db::Pool& pool, const base::Clock& clock,
                         const payments::NotifyProcessor& notifies, const Actor& actor,
                         const std::string& order_no, std::optional<int64_t> amount_fen,
                         const std::string& reason) {
    KindOf(order_no);
    const billing::Refunds* refunds = notifies.refunds();
    INKSTONE_ASSERT(refunds != nullptr, "the admin console's notify processor has a pool");
    const Json::Value order = FindOrder(pool, order_no);
    const std::string paid_provider =
        order["paid_provider"].isString() ? order["paid_provider"].asString() : std::string();
    if (!paid_provider.empty() && (paid_provider == "mock") == notifies.live()) {
        throw base::ApiError::Specific(
            base::ErrorCode::kConflict, "MOCK_PAYMENT",
            notifies.live() ? "this order was paid in mock mode: there is no money to refund"
                            : "this order was paid for real: refund it with payment.mode = live");
    }
    billing::RefundRequest request;
    request.order_no = order_no;
    request.amount_fen = amount_fen;
    request.reason = reason;
    const billing::OpenedRefund opened =
        refunds->Open(request, [&](db::Transaction& tx, const billing::OrderRefund& refund,
                                   const Json::Value& before, const Json::Value& after) {
            AuditEntry entry;
            entry.action = "order.refund";
            entry.target_type = "order";
            entry.target_id = order_no;
            entry.before = before;
            entry.after = after;
            entry.after["refund_no"] = refund.refund_no;
            entry.after["amount_fen"] = Json::Int64{refund.amount_fen};
            entry.after["credits_taken_back"] = Json::Int64{refund.credits};
            entry.reason = reason;
            return RecordAudit(tx, actor, entry, clock.Now());
        });
    RefundResult result;
    result.refund = notifies.SubmitRefund(opened.refund);
    result.balance = opened.balance;
    result.member_expired_at = opened.member_expired_at;
    if (result.refund.status == billing::RefundStatus::kFailed) {
        // The provider refused at once: what Open took has been given back since.
        db::WithLease(pool, [&](db::Lease& lease) {
            db::Rows user = lease.Query(kUserBalanceSql, opened.refund.user_id);
            if (user.Next()) {
                result.balance = user.Int("credits");
                result.member_expired_at = user.OptionalTime("member_expired_at");
            }
            return 0;
        });
    }
    return result;
}

}  // namespace inkstone::lib::admin
