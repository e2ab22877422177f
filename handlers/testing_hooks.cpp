#include "handlers/testing_hooks.h"

#include "lib/log.h"
#include "lib/sse.h"

#include <algorithm>
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

lib::Response StreamHandler::Handle(const lib::Request& request, lib::StreamWriter& writer) const {
    int events = 0;
    int gap_ms = 0;
    try {
        events = std::stoi(request.QueryParam("events").value_or("3"));
        gap_ms = std::stoi(request.QueryParam("gap_ms").value_or("100"));
    } catch (const std::exception&) {
        throw lib::ApiError::Validation("events", "events and gap_ms must be integers");
    }
    if (events < 0 || events > 10000 || gap_ms < 0 || gap_ms > 60000) {
        throw lib::ApiError::Validation("events", "out of range");
    }
    lib::SseStream sse(writer);
    lib::Response done;
    done.streamed = true;
    bool alive = sse.Start();
    int sent = 0;
    for (; alive && sent < events; ++sent) {
        if (sent > 0) {
            // Wait in small steps so a departed client is noticed within ~50 ms.
            for (int waited = 0; alive && waited < gap_ms; waited += 50) {
                std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, gap_ms - waited)));
                alive = !sse.ClientGone();
            }
            if (!alive) break;
        }
        Json::Value data;
        data["n"] = sent;
        alive = sse.Send("tick", data);
    }
    if (!alive) {
        Json::Value f;
        f["sent"] = sent;
        f["request_id"] = request.request_id;
        lib::Log(lib::LogLevel::kInfo, "test_stream_client_gone", f);
    }
    return done;
}

}  // namespace inkstone::handlers
