#pragma once
#include "lib/db.h"
#include "lib/router.h"

namespace inkstone::handlers {

/// GET /api/v1/health → 200 {"status":"ok","db":"ok","version"} or, when MariaDB does not
/// answer, 503 UNAVAILABLE with "db":"down". Recovers by itself: every call asks the pool,
/// which reconnects once the server is back.
class HealthHandler final : public lib::Handler {
  public:
    explicit HealthHandler(lib::db::Pool& db) : db_(db) {}
    lib::Response Handle(const lib::Request& request, lib::StreamWriter& stream) const override;

  private:
    lib::db::Pool& db_;
};

}  // namespace inkstone::handlers
