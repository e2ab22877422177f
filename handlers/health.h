#pragma once
#include "lib/db/db.h"
#include "lib/http/router.h"

namespace inkstone::handlers {

/// GET /api/v1/health → 200 {"status":"ok","db":"ok","version"} or, when MariaDB does not
/// answer, 503 UNAVAILABLE with "db":"down". Recovers by itself: every call asks the pool,
/// which reconnects once the server is back.
class HealthHandler final : public lib::http::Handler {
  public:
    explicit HealthHandler(lib::db::Pool& db) : db_(db) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    lib::db::Pool& db_;
};

}  // namespace inkstone::handlers
