#include "lib/admin/dashboard.h"

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace inkstone::lib::admin {
namespace {

using base::TimePoint;

// Paid orders of both kinds by UTC day and provider (ix_*_orders_paid: status, paid_at).
constexpr char kPaidOrdersSql[] =
    "SELECT DATE_FORMAT(paid_at, '%Y-%m-%d') AS day, paid_provider AS provider, "
    "COUNT(*) AS n, SUM(amount_fen) AS fen FROM ("
    " SELECT paid_at, paid_provider, amount_fen FROM recharge_orders "
    "  WHERE status = 'PAID' AND paid_at >= ?"
    " UNION ALL"
    " SELECT paid_at, paid_provider, amount_fen FROM membership_orders "
    "  WHERE status = 'PAID' AND paid_at >= ?) o "
    "GROUP BY day, provider";
constexpr char kNewUsersSql[] =
    "SELECT DATE_FORMAT(created_at, '%Y-%m-%d') AS day, COUNT(*) AS n FROM users "
    "WHERE created_at >= ? GROUP BY day";
constexpr char kGenerationsByDaySql[] =
    "SELECT DATE_FORMAT(created_at, '%Y-%m-%d') AS day, COUNT(*) AS n FROM generations "
    "WHERE created_at >= ? GROUP BY day";
constexpr char kActiveUsersSql[] =
    "SELECT COUNT(DISTINCT CASE WHEN created_at >= ? THEN user_id END) AS today, "
    "COUNT(DISTINCT CASE WHEN created_at >= ? THEN user_id END) AS d7, "
    "COUNT(DISTINCT user_id) AS d30 FROM generations WHERE created_at >= ?";
constexpr char kGenerationsByStatusSql[] =
    "SELECT status, COUNT(*) AS n FROM generations WHERE created_at >= ? "
    "GROUP BY status ORDER BY status";
constexpr char kGenerationsByModelSql[] =
    "SELECT model, COUNT(*) AS n, SUM(credits_charged) AS credits FROM generations "
    "WHERE created_at >= ? GROUP BY model ORDER BY model";
constexpr char kRefundsSql[] =
    "SELECT COUNT(*) AS n, IFNULL(SUM(amount_fen), 0) AS fen, IFNULL(SUM(credits), 0) AS credits "
    "FROM order_refunds WHERE created_at >= ? AND status IN ('SUCCESS', 'PENDING')";
constexpr char kLedgerSql[] =
    "SELECT DATE_FORMAT(created_at, '%Y-%m-%d') AS day, type, SUM(amount) AS amount "
    "FROM credit_transactions WHERE created_at >= ? GROUP BY day, type";
constexpr char kMembershipSalesSql[] =
    "SELECT plan, COUNT(*) AS n, SUM(amount_fen) AS fen FROM membership_orders "
    "WHERE status = 'PAID' AND paid_at >= ? GROUP BY plan ORDER BY plan";
constexpr char kNotifyFailuresSql[] =
    "SELECT IFNULL(SUM(received_at >= ?), 0) AS d1, COUNT(*) AS d7 FROM notify_log "
    "WHERE received_at >= ? AND (outcome LIKE 'rejected%' OR outcome LIKE 'unauthentic%' "
    "OR outcome LIKE 'failed%')";

using Days = std::chrono::duration<int64_t, std::ratio<86400>>;

std::string DayOf(TimePoint t) { return base::FormatSqlDateTime(t).substr(0, 10); }

/// Today, last 7 days, last 30 days of a per-day figure.
struct Ranges {
    int64_t today = 0;
    int64_t d7 = 0;
    int64_t d30 = 0;
};

struct Calendar {
    std::vector<std::string> days;  ///< the 30 UTC days, oldest first
    std::string today;
    std::string d7_first;

    void Add(Ranges* ranges, const std::string& day, int64_t value) const {
        if (day < days.front()) return;
        ranges->d30 += value;
        if (day >= d7_first) ranges->d7 += value;
        if (day == today) ranges->today += value;
    }
};

Json::Value RangesJson(const Ranges& r, const char* suffix) {
    Json::Value json(Json::objectValue);
    json[std::string("today") + suffix] = Json::Int64{r.today};
    json[std::string("d7") + suffix] = Json::Int64{r.d7};
    json[std::string("d30") + suffix] = Json::Int64{r.d30};
    return json;
}

struct DayFigures {
    int64_t revenue_fen = 0;
    int64_t paid_orders = 0;
    int64_t new_users = 0;
    int64_t generations = 0;
    int64_t credits_consumed = 0;
};

}  // namespace

Json::Value Dashboard(db::Pool& pool, TimePoint now) {
    const TimePoint midnight = std::chrono::floor<Days>(now);
    const TimePoint d30_start = midnight - Days(kDashboardDays - 1);
    const TimePoint d7_start = midnight - Days(6);
    Calendar calendar;
    for (int i = 0; i < kDashboardDays; ++i) calendar.days.push_back(DayOf(d30_start + Days(i)));
    calendar.today = DayOf(midnight);
    calendar.d7_first = DayOf(d7_start);

    return db::WithLease(pool, [&](db::Lease& lease) {
        std::map<std::string, DayFigures> by_day;
        Json::Value body(Json::objectValue);
        body["generated_at"] = base::FormatRfc3339(now);

        Ranges revenue;
        Ranges paid_orders;
        std::map<std::string, Ranges> provider_revenue;
        {
            db::Rows rows = lease.Query(kPaidOrdersSql, d30_start, d30_start);
            while (rows.Next()) {
                const std::string day = rows.String("day");
                const int64_t fen = rows.Int("fen");
                const int64_t n = rows.Int("n");
                calendar.Add(&revenue, day, fen);
                calendar.Add(&paid_orders, day, n);
                calendar.Add(&provider_revenue[rows.OptionalString("provider").value_or("")], day,
                             fen);
                by_day[day].revenue_fen += fen;
                by_day[day].paid_orders += n;
            }
        }
        Json::Value revenue_json = RangesJson(revenue, "_fen");
        revenue_json["by_provider"] = Json::Value(Json::arrayValue);
        for (const auto& [provider, ranges] : provider_revenue) {
            Json::Value item = RangesJson(ranges, "_fen");
            item["provider"] = provider;
            revenue_json["by_provider"].append(std::move(item));
        }
        body["revenue"] = std::move(revenue_json);
        body["paid_orders"] = RangesJson(paid_orders, "");

        Ranges new_users;
        {
            db::Rows rows = lease.Query(kNewUsersSql, d30_start);
            while (rows.Next()) {
                calendar.Add(&new_users, rows.String("day"), rows.Int("n"));
                by_day[rows.String("day")].new_users += rows.Int("n");
            }
        }
        body["new_users"] = RangesJson(new_users, "");
        {
            db::Rows rows = lease.Query(kActiveUsersSql, midnight, d7_start, d30_start);
            Ranges active;
            if (rows.Next()) active = Ranges{rows.Int("today"), rows.Int("d7"), rows.Int("d30")};
            body["active_users"] = RangesJson(active, "");
        }
        {
            db::Rows rows = lease.Query(kGenerationsByDaySql, d30_start);
            while (rows.Next()) by_day[rows.String("day")].generations += rows.Int("n");
        }
        Json::Value generations(Json::objectValue);
        generations["by_status"] = Json::Value(Json::arrayValue);
        generations["by_model"] = Json::Value(Json::arrayValue);
        {
            db::Rows rows = lease.Query(kGenerationsByStatusSql, d30_start);
            while (rows.Next()) {
                Json::Value item(Json::objectValue);
                item["status"] = rows.String("status");
                item["count"] = Json::Int64{rows.Int("n")};
                generations["by_status"].append(std::move(item));
            }
        }
        {
            db::Rows rows = lease.Query(kGenerationsByModelSql, d30_start);
            while (rows.Next()) {
                Json::Value item(Json::objectValue);
                item["model"] = rows.String("model");
                item["count"] = Json::Int64{rows.Int("n")};
                item["credits"] = Json::Int64{rows.Int("credits")};
                generations["by_model"].append(std::move(item));
            }
        }
        body["generations"] = std::move(generations);
        {
            db::Rows rows = lease.Query(kRefundsSql, d30_start);
            Json::Value refunds(Json::objectValue);
            rows.Next();
            refunds["count"] = Json::Int64{rows.Int("n")};
            refunds["amount_fen"] = Json::Int64{rows.Int("fen")};
            refunds["credits"] = Json::Int64{rows.Int("credits")};
            body["refunds"] = std::move(refunds);
        }
        {
            // Issued: what each source put into balances (an admin's net adjustment, which may
            // be negative); consumed: what generations took (before their refunds, which are
            // issued.refund).
            std::map<std::string, int64_t> by_type;
            db::Rows rows = lease.Query(kLedgerSql, d30_start);
            while (rows.Next()) {
                const std::string type = rows.String("type");
                by_type[type] += rows.Int("amount");
                if (type == "CONSUME")
                    by_day[rows.String("day")].credits_consumed -= rows.Int("amount");
            }
            Json::Value credits(Json::objectValue);
            Json::Value issued(Json::objectValue);
            issued["recharge"] = Json::Int64{by_type["RECHARGE"]};
            issued["bonus"] = Json::Int64{by_type["BONUS"]};
            issued["admin"] = Json::Int64{by_type["ADMIN_ADJUST"]};
            issued["redeem"] = Json::Int64{by_type["REDEEM"]};
            issued["refund"] = Json::Int64{by_type["REFUND"]};
            credits["issued"] = std::move(issued);
            credits["consumed"] = Json::Int64{-by_type["CONSUME"]};
            body["credits"] = std::move(credits);
        }
        {
            Json::Value sales(Json::arrayValue);
            db::Rows rows = lease.Query(kMembershipSalesSql, d30_start);
            while (rows.Next()) {
                Json::Value item(Json::objectValue);
                item["plan"] = rows.String("plan");
                item["count"] = Json::Int64{rows.Int("n")};
                item["amount_fen"] = Json::Int64{rows.Int("fen")};
                sales.append(std::move(item));
            }
            body["membership_sales"] = std::move(sales);
        }
        {
            db::Rows rows =
                lease.Query(kNotifyFailuresSql, now - std::chrono::hours(24), now - Days(7));
            rows.Next();
            Json::Value failures(Json::objectValue);
            failures["d1"] = Json::Int64{rows.Int("d1")};
            failures["d7"] = Json::Int64{rows.Int("d7")};
            body["notify_failures"] = std::move(failures);
        }
        Json::Value series(Json::arrayValue);
        for (const std::string& day : calendar.days) {
            const DayFigures& f = by_day[day];
            Json::Value item(Json::objectValue);
            item["date"] = day;
            item["revenue_fen"] = Json::Int64{f.revenue_fen};
            item["paid_orders"] = Json::Int64{f.paid_orders};
            item["new_users"] = Json::Int64{f.new_users};
            item["generations"] = Json::Int64{f.generations};
            item["credits_consumed"] = Json::Int64{f.credits_consumed};
            series.append(std::move(item));
        }
        body["series"] = std::move(series);
        return body;
    });
}

}  // namespace inkstone::lib::admin
