#include "handlers/testing_hooks.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <thread>

#include "handlers/auth.h"
#include "lib/base/log.h"
#include "lib/http/json_body.h"
#include "lib/http/sse.h"

namespace inkstone::handlers {

lib::http::Response SleepHandler::Handle(const lib::http::Request& request,
                                         lib::http::StreamWriter&) const {
    int64_t ms = 0;
    try {
        ms = std::stoll(request.QueryParam("ms").value_or("0"));
    } catch (const std::exception&) {
        throw lib::base::ApiError::Validation("ms", "must be an integer");
    }
    if (ms < 0 || ms > 60000) throw lib::base::ApiError::Validation("ms", "must be 0..60000");
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    Json::Value body;
    body["slept_ms"] = Json::Int64(ms);
    return lib::http::Response::Json(200, body);
}

lib::http::Response StreamHandler::Handle(const lib::http::Request& request,
                                          lib::http::StreamWriter& writer) const {
    int events = 0;
    int gap_ms = 0;
    try {
        events = std::stoi(request.QueryParam("events").value_or("3"));
        gap_ms = std::stoi(request.QueryParam("gap_ms").value_or("100"));
    } catch (const std::exception&) {
        throw lib::base::ApiError::Validation("events", "events and gap_ms must be integers");
    }
    if (events < 0 || events > 10000 || gap_ms < 0 || gap_ms > 60000) {
        throw lib::base::ApiError::Validation("events", "out of range");
    }
    lib::http::SseStream sse(writer);
    lib::http::Response done;
    done.streamed = true;
    bool alive = sse.Start();
    int sent = 0;
    for (; alive && sent < events; ++sent) {
        if (sent > 0) {
            // Wait in small steps so a departed client is noticed within ~50 ms.
            for (int waited = 0; alive && waited < gap_ms; waited += 50) {
                std::this_thread::sleep_for(
                    std::chrono::milliseconds(std::min(50, gap_ms - waited)));
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
        lib::base::Log(lib::base::LogLevel::kInfo, "test_stream_client_gone", f);
    }
    return done;
}

lib::http::Response TestChargeHandler::Handle(const lib::http::Request& request,
                                              lib::http::StreamWriter&) const {
    const lib::http::Principal& principal = RequirePrincipal(request);
    const lib::http::JsonFields fields(request.json);
    const int64_t credits = fields.RequiredInt("credits", 1, 1'000'000'000);
    const std::string description =
        fields.OptionalString("description", 1, lib::billing::kMaxDescriptionChars)
            .value_or("Test charge");
    const lib::billing::ChargeResult charged =
        wallet_.Charge(principal.user_id, credits, description);
    Json::Value body;
    body["charge_id"] = Json::Int64(charged.charge_id);
    body["balance"] = Json::Int64(charged.balance);
    return lib::http::Response::Json(201, body);
}

lib::http::Response TestRefundHandler::Handle(const lib::http::Request& request,
                                              lib::http::StreamWriter&) const {
    const lib::http::Principal& principal = RequirePrincipal(request);
    const lib::http::JsonFields fields(request.json);
    const int64_t charge_id =
        fields.RequiredInt("charge_id", 1, std::numeric_limits<int64_t>::max());
    // Another user's charge is as unknown as a missing one: a test route is still a route.
    if (wallet_.ChargeOwner(charge_id) != principal.user_id) {
        throw lib::base::ApiError(lib::base::ErrorCode::kNotFound, "charge not found");
    }
    Json::Value body;
    body["refunded"] =
        wallet_.Refund(charge_id, "Test refund of charge " + std::to_string(charge_id));
    return lib::http::Response::Json(200, body);
}

lib::http::Response RunJobsHandler::Handle(const lib::http::Request&,
                                           lib::http::StreamWriter&) const {
    Json::Value ran(Json::arrayValue);
    for (const lib::base::Job& job : jobs_()) {
        job.run();
        ran.append(job.name);
    }
    Json::Value body;
    body["ran"] = std::move(ran);
    return lib::http::Response::Json(200, body);
}

}  // namespace inkstone::handlers
