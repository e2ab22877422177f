#pragma once
/// The admin console's user, dashboard-free part of the API (docs/admin-api.md, "Users" and
/// "Audit"): thin handlers that parse, call one lib/admin service and render. Every route is
/// Auth::kAdmin (routes.cpp), so the dispatcher has checked the role before these run.
#include <json/value.h>

#include <cstdint>
#include <functional>
#include <optional>

#include "lib/base/clock.h"
#include "lib/billing/wallet.h"
#include "lib/db/db.h"
#include "lib/http/router.h"

namespace inkstone::handlers {

/// A handler that is one function: the admin routes are each a few lines of parsing and
/// rendering around one service call.
class AdminHandler final : public lib::http::Handler {
  public:
    using Fn = std::function<lib::http::Response(const lib::http::Request&)>;
    explicit AdminHandler(Fn fn) : fn_(std::move(fn)) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter&) const override {
        return fn_(request);
    }

  private:
    Fn fn_;
};

/// An admin reply: JSON with `Cache-Control: no-store` (admin pages must never be cached by a
/// browser or a proxy).
lib::http::Response AdminJson(int status, const Json::Value& body);

/// The `{id}` path segment of an admin route: digits only and > 0, else ApiError 404
/// "<what> not found", like an unknown id.
int64_t AdminPathId(const lib::http::Request& request, const char* what);

/// GET /admin/users, GET /admin/users/{id}, POST /admin/users/{id}/credits|membership|disable|
/// enable, GET /admin/audit, GET /admin/dashboard.
struct AdminUserHandlers {
    AdminUserHandlers(lib::db::Pool& pool, const lib::base::Clock& clock);

    AdminHandler users;
    AdminHandler user;
    AdminHandler user_credits;
    AdminHandler user_membership;
    AdminHandler user_disable;
    AdminHandler user_enable;
    AdminHandler audit;
    AdminHandler dashboard;
};

}  // namespace inkstone::handlers
