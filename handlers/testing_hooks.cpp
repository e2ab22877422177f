#include "handlers/testing_hooks.h"

#include <chrono>
#include <string>
#include <thread>

namespace inkstone::handlers {

lib::Response SleepHandler::Handle(const lib::Request& request, lib::StreamWriter&) const {
    int64_t ms = 0;
    try {
        ms = std::stoll(request.QueryParam("ms").value_or("0"));
    } catch (const std::exception&) {
        throw lib::ApiError::Validation("ms", "must be an integer");
    }
    if (ms < 0 || ms > 60000) throw lib::ApiError::Validation("ms", "must be 0..60000");
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    Json::Value body;
    body["slept_ms"] = Json::Int64(ms);
    return lib::Response::Json(200, body);
}

}  // namespace inkstone::handlers
