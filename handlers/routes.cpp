#include "handlers/routes.h"

#include "handlers/health.h"

namespace inkstone::handlers {

struct Api::Handlers {
    explicit Handlers(const Deps& deps) : health(deps.db) {}
    HealthHandler health;
};

Api::Api(const Deps& deps) : handlers_(std::make_unique<Handlers>(deps)) {}
Api::~Api() = default;

std::vector<lib::Route> Api::Routes() const {
    using lib::Auth;
    using lib::BodyKind;
    using lib::Method;
    const Handlers& h = *handlers_;
    return {
        // method        path                    handler     auth            body
        {Method::kGet, "/api/v1/health", &h.health, Auth::kPublic, BodyKind::kNone},
    };
}

}  // namespace inkstone::handlers
