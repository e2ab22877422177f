#pragma once
/// GET /admin/dashboard (docs/admin-api.md, "Dashboard"): revenue, orders, users, generations,
/// refunds, credits, membership sales and notify failures over today, the last 7 and the last
/// 30 days, and a daily series of the last 30. Days are UTC days: "today" is from today's
/// midnight UTC, "7 days" from the midnight six days before (today and the six days before it),
/// "30 days" likewise; every range ends now. Each figure is one GROUP BY over a range scan of a
/// time index (sql/007_admin.sql, sql/008_admin_users.sql), summed into the ranges here, so the
/// cost follows the rows of the last 30 days, never the table. Thread-safe (no state).
#include <json/value.h>

#include "lib/base/clock.h"
#include "lib/db/db.h"

namespace inkstone::lib::admin {

inline constexpr int kDashboardDays = 30;

/// The whole dashboard at `now`, in the contract's shape.
Json::Value Dashboard(db::Pool& pool, base::TimePoint now);

}  // namespace inkstone::lib::admin
