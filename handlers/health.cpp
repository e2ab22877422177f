#include "handlers/health.h"

namespace inkstone::handlers {

lib::Response HealthHandler::Handle(const lib::Request&, lib::StreamWriter&) const {
    if (db_.Ping()) {
        Json::Value body;
        body["status"] = "ok";
        body["db"] = "ok";
        body["version"] = INKSTONE_VERSION;
        return lib::Response::Json(200, body);
    }
    lib::ApiError error(lib::ErrorCode::kUnavailable, "the database is unreachable");
    error.extra["status"] = "error";
    error.extra["db"] = "down";
    error.extra["version"] = INKSTONE_VERSION;
    return lib::Response::Error(error);
}

}  // namespace inkstone::handlers
