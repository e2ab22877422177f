#pragma once
/// The API: every handler instance and the one routing table (routes.cpp).
#include <memory>
#include <vector>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/jobs.h"
#include "lib/payments.h"
#include "lib/provider.h"
#include "lib/router.h"

namespace inkstone::handlers {

/// What handlers are built from. All references must outlive the Api.
struct Deps {
    const lib::Config& config;
    lib::db::Pool& db;
    const lib::Clock& clock;
    const lib::ProviderMap& providers;  ///< AI providers by name ("qwen")
    /// Mock mode's payment provider key, made once by the server (lib::payments::NewMockProvider).
    const lib::payments::MockProvider& mock_payments;
};

class Api final {
public:
    explicit Api(const Deps& deps);
    ~Api();
    /// method, path, handler, auth, body kind, body limit: one row per endpoint.
    std::vector<lib::Route> Routes() const;
    /// The background jobs every worker runs (each safe on every host at once).
    std::vector<lib::Job> Jobs() const;

private:
    struct Handlers;
    const Deps deps_;
    std::unique_ptr<Handlers> handlers_;
};

}  // namespace inkstone::handlers
