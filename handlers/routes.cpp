#include "handlers/routes.h"

#include "handlers/auth.h"
#include "handlers/health.h"
#include "handlers/testing_hooks.h"

namespace inkstone::handlers {

struct Api::Handlers {
    explicit Handlers(const Deps& deps)
        : health(deps.db),
          register_user(deps.db, deps.clock, deps.config.auth),
          login(deps.db, deps.clock, deps.config.auth),
          logout(deps.db, deps.clock),
          me(deps.db, deps.clock),
          testing_hooks(deps.config.testing.hooks) {}
    HealthHandler health;
    RegisterHandler register_user;
    LoginHandler login;
    LogoutHandler logout;
    MeHandler me;
    bool testing_hooks;
    SleepHandler test_sleep;
    StreamHandler test_stream;
};

Api::Api(const Deps& deps) : deps_(deps), handlers_(std::make_unique<Handlers>(deps)) {}
Api::~Api() = default;

// clang-format off
std::vector<lib::Route> Api::Routes() const {
    using lib::Auth;
    using lib::BodyKind;
    using lib::Method;
    const Handlers& h = *handlers_;
    std::vector<lib::Route> routes = {
        // method      path                       handler            auth           body
        {Method::kGet,  "/api/v1/health",          &h.health,         Auth::kPublic, BodyKind::kNone},
        {Method::kPost, "/api/v1/auth/register",   &h.register_user,  Auth::kPublic, BodyKind::kJson},
        {Method::kPost, "/api/v1/auth/login",      &h.login,          Auth::kPublic, BodyKind::kJson},
        {Method::kPost, "/api/v1/auth/logout",     &h.logout,         Auth::kUser,   BodyKind::kAny},
        {Method::kGet,  "/api/v1/users/me",        &h.me,             Auth::kUser,   BodyKind::kNone},
    };
    if (h.testing_hooks) {
        routes.push_back(
        {Method::kGet,  "/api/v1/_test/sleep",     &h.test_sleep,     Auth::kPublic, BodyKind::kNone});
        routes.push_back(
        {Method::kGet,  "/api/v1/_test/stream",    &h.test_stream,    Auth::kPublic, BodyKind::kNone});
    }
    return routes;
}
// clang-format on

std::vector<lib::Job> Api::Jobs() const {
    lib::db::Pool& db = deps_.db;
    const lib::Clock& clock = deps_.clock;
    return {
        {"auth.purge", std::chrono::minutes(10),
         [&db, &clock] {
             while (PurgeExpiredAuthRows(db, clock.Now()) > 0) {
             }
         }},
    };
}

}  // namespace inkstone::handlers
