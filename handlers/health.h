#pragma once
#include <chrono>

#include "lib/db/health_probe.h"
#include "lib/http/router.h"

namespace inkstone::handlers {

/// GET /api/v1/health → 200 {"status":"ok","db":"ok","version"} or, when MariaDB does not
/// answer within kHealthBudget (down, or frozen), 503 UNAVAILABLE with "db":"down". Always
/// answers within that budget (lib/db/health_probe.h). Recovers by itself: every call asks the
/// probe, which reconnects once the server is back.
class HealthHandler final : public lib::http::Handler {
  public:
    /// Under the 1 s a load balancer's check may take, with room for nginx and the network.
    static constexpr std::chrono::milliseconds kHealthBudget{800};

    explicit HealthHandler(lib::db::HealthProbe& probe) : probe_(probe) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    lib::db::HealthProbe& probe_;
};

}  // namespace inkstone::handlers
