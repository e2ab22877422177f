#pragma once
/// The API: every handler instance and the one routing table (routes.cpp).
#include <memory>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/config.h"
#include "lib/db/db.h"
#include "lib/base/jobs.h"
#include "lib/payments/notify.h"
#include "lib/ai/provider.h"
#include "lib/http/router.h"

namespace inkstone::handlers {

/// What handlers are built from. All references must outlive the Api.
struct Deps {
    const lib::base::Config& config;
    lib::db::Pool& db;
    const lib::base::Clock& clock;
    const lib::ai::ProviderMap& providers;  ///< AI providers by name ("qwen")
    /// Mock mode's payment provider key, made once by the server (lib::payments::NewMockProvider).
    const lib::payments::MockProvider& mock_payments;
};

class Api final {
public:
    explicit Api(const Deps& deps);
    ~Api();
    /// method, path, handler, auth, body kind, body limit: one row per endpoint.
    std::vector<lib::http::Route> Routes() const;
    /// The background jobs every worker runs (each safe on every host at once).
    std::vector<lib::base::Job> Jobs() const;

private:
    struct Handlers;
    const Deps deps_;
    std::unique_ptr<Handlers> handlers_;
};

}  // namespace inkstone::handlers
