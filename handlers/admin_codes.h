#pragma once
/// Redemption codes over HTTP (docs/admin-api.md, "Redemption codes"): the admin routes (create,
/// list, detail, CSV export, disable; Auth::kAdmin in routes.cpp) and the user's
/// POST /credit/redeem (Auth::kUser). Thin: they read the whitelisted fields and call
/// lib/admin/codes.h.
#include "handlers/admin_users.h"
#include "lib/admin/codes.h"
#include "lib/base/config.h"

namespace inkstone::handlers {

/// POST /admin/codes/batches, GET /admin/codes/batches, GET /admin/codes/batches/{id},
/// GET /admin/codes/batches/{id}/export, POST /admin/codes/batches/{id}/disable, and
/// POST /credit/redeem.
struct AdminCodeHandlers {
    AdminCodeHandlers(lib::db::Pool& pool, const lib::base::Clock& clock,
                      const lib::base::RedeemConfig& config);

    AdminHandler create;
    AdminHandler batches;
    AdminHandler batch;
    AdminHandler batch_export;
    AdminHandler batch_disable;
    AdminHandler redeem;
};

}  // namespace inkstone::handlers
