#pragma once
/// Every admin route (docs/admin-api.md), for the table-driven auth test: each must answer 401
/// without a token and 403 FORBIDDEN for a plain user. Add a row with every new admin route;
/// `{id}`-style segments are filled with a value that looks real (the role check comes before
/// any lookup, so the value never matters).
#include <string>
#include <vector>

namespace inkstone::testing {

struct AdminRoute {
    const char* method;
    const char* path;
};

inline const std::vector<AdminRoute>& AdminRoutes() {
    static const std::vector<AdminRoute> routes = {
        // admin console: users, dashboard, catalog, audit
        {"GET", "/api/v1/admin/users"},
        {"GET", "/api/v1/admin/users/999999999"},
        {"POST", "/api/v1/admin/users/999999999/credits"},
        {"POST", "/api/v1/admin/users/999999999/membership"},
        {"POST", "/api/v1/admin/users/999999999/disable"},
        {"POST", "/api/v1/admin/users/999999999/enable"},
        {"GET", "/api/v1/admin/audit"},
        {"GET", "/api/v1/admin/dashboard"},
        {"GET", "/api/v1/admin/catalog/packages"},
        {"POST", "/api/v1/admin/catalog/packages"},
        {"PUT", "/api/v1/admin/catalog/packages/999999"},
        {"GET", "/api/v1/admin/catalog/plans"},
        {"POST", "/api/v1/admin/catalog/plans"},
        {"PUT", "/api/v1/admin/catalog/plans/999999"},
        {"GET", "/api/v1/admin/catalog/models"},
        {"PUT", "/api/v1/admin/catalog/models/no-such-model"},
        {"GET", "/api/v1/admin/catalog/tools"},
        {"POST", "/api/v1/admin/catalog/tools"},
        {"POST", "/api/v1/admin/catalog/tools/preview"},
        {"PUT", "/api/v1/admin/catalog/tools/999999"},
        // admin console: orders
        {"GET", "/api/v1/admin/orders"},
        {"GET", "/api/v1/admin/orders/R20260101AAAAAAAAAAAAAAAAAAAA"},
        {"POST", "/api/v1/admin/orders/R20260101AAAAAAAAAAAAAAAAAAAA/reconcile"},
        {"POST", "/api/v1/admin/orders/R20260101AAAAAAAAAAAAAAAAAAAA/refund"},
        // admin console: redemption codes
        {"POST", "/api/v1/admin/codes/batches"},
        {"GET", "/api/v1/admin/codes/batches"},
        {"GET", "/api/v1/admin/codes/batches/999999"},
        {"GET", "/api/v1/admin/codes/batches/999999/export"},
        {"POST", "/api/v1/admin/codes/batches/999999/disable"},
    };
    return routes;
}

}  // namespace inkstone::testing
