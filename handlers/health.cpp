#include "handlers/health.h"

namespace inkstone::handlers {

lib::http::Response HealthHandler::Handle(const lib::http::Request&,
                                          lib::http::StreamWriter&) const {
    if (probe_.Check(kHealthBudget)) {
        Json::Value body;
        body["status"] = "ok";
        body["db"] = "ok";
        body["version"] = INKSTONE_VERSION;
        return lib::http::Response::Json(200, body);
    }
    lib::base::ApiError error(lib::base::ErrorCode::kUnavailable,
                              "the database did not answer in time");
    error.extra["status"] = "error";
    error.extra["db"] = "down";
    error.extra["version"] = INKSTONE_VERSION;
    return lib::http::Response::Error(error);
}

}  // namespace inkstone::handlers
