#include "handlers/generation_views.h"

#include <string>

#include "lib/base/assert.h"

namespace inkstone::handlers::views {
namespace {

using lib::generation::GenerationRecord;
using lib::generation::GenerationStatus;

std::string DisplayStatus(const GenerationRecord& record, const std::string& upstream) {
    switch (record.status) {
        case GenerationStatus::kRunning:
            return upstream.empty() ? "RUNNING" : upstream;
        case GenerationStatus::kSucceeded:
            return "SUCCEEDED";
        case GenerationStatus::kFailed:
        case GenerationStatus::kAborted:
            return record.error_code == "task_unknown" ? "UNKNOWN" : "FAILED";
    }
    INKSTONE_INVARIANT_FAILED("GenerationStatus " +
                              std::to_string(static_cast<int>(record.status)));
}

}  // namespace

Json::Value ModelJson(const lib::generation::ModelInfo& model) {
    Json::Value item;
    item["provider"] = model.provider;
    item["model"] = model.model;
    item["kind"] = std::string(ToSql(model.kind));
    item["credits"] = Json::Int64(model.credits);
    return item;
}

Json::Value ToolJson(const lib::generation::WritingTool& tool) {
    Json::Value item;
    item["tool_type"] = tool.tool_type;
    item["name"] = tool.name;
    item["description"] = tool.description;
    return item;
}

Json::Value UsageJson(int64_t input_tokens, int64_t output_tokens) {
    Json::Value usage;
    usage["input_tokens"] = Json::Int64(input_tokens);
    usage["output_tokens"] = Json::Int64(output_tokens);
    return usage;
}

Json::Value GenerationJson(const lib::generation::TextResult& result, const std::string& model) {
    Json::Value body;
    body["generation_id"] = Json::Int64(result.started.generation_id);
    body["content"] = result.content;
    body["model"] = model;
    body["finish_reason"] = result.finish_reason;
    body["usage"] = UsageJson(result.usage.input_tokens, result.usage.output_tokens);
    body["credits_charged"] = Json::Int64(result.credits_charged);
    body["balance"] = Json::Int64(result.balance);
    return body;
}

Json::Value MetaJson(const lib::generation::StartedGeneration& started, const std::string& model) {
    Json::Value meta;
    meta["generation_id"] = Json::Int64(started.generation_id);
    meta["model"] = model;
    meta["credits_charged"] = Json::Int64(started.credits_charged);
    meta["balance"] = Json::Int64(started.balance);
    return meta;
}

Json::Value DoneJson(const lib::generation::TextResult& result) {
    Json::Value end;
    end["finish_reason"] = result.finish_reason;
    end["usage"] = UsageJson(result.usage.input_tokens, result.usage.output_tokens);
    end["credits_charged"] = Json::Int64(result.credits_charged);
    end["balance"] = Json::Int64(result.balance);
    return end;
}

Json::Value HistoryItemJson(const GenerationRecord& r) {
    Json::Value item;
    item["id"] = Json::Int64(r.id);
    item["kind"] = std::string(ToSql(r.kind));
    item["tool_type"] = r.tool_type ? Json::Value(*r.tool_type) : Json::Value();
    item["model"] = r.model;
    item["stream"] = r.stream;
    item["status"] = std::string(ToSql(r.status));
    item["end_reason"] =
        r.end_reason ? Json::Value(std::string(ToSql(*r.end_reason))) : Json::Value();
    item["prompt"] = r.prompt;
    item["content"] = r.content;
    Json::Value images(Json::arrayValue);
    for (const std::string& url : r.image_urls) images.append(url);
    item["images"] = images;
    item["task_id"] = r.task_id.empty() ? Json::Value() : Json::Value(r.task_id);
    item["credits_charged"] = Json::Int64(r.credits_charged);
    item["refunded"] = r.refunded;
    item["finish_reason"] = r.finish_reason.empty() ? Json::Value() : Json::Value(r.finish_reason);
    item["usage"] = UsageJson(r.input_tokens, r.output_tokens);
    item["created_at"] = lib::base::FormatRfc3339(r.created_at);
    item["finished_at"] =
        r.finished_at ? Json::Value(lib::base::FormatRfc3339(*r.finished_at)) : Json::Value();
    return item;
}

Json::Value GenerationDetailJson(const GenerationRecord& r) {
    Json::Value item = HistoryItemJson(r);
    item["deltas"] = Json::Int64(r.deltas);
    item["cancel_requested"] = r.cancel_requested;
    item["balance"] = Json::Int64(r.balance);
    return item;
}

Json::Value DeltaJson(std::string_view text) {
    Json::Value delta;
    delta["content"] = std::string(text);
    return delta;
}

std::optional<lib::base::ApiError> EndedError(const GenerationRecord& r) {
    using lib::generation::EndReason;
    if (r.status == GenerationStatus::kRunning || !r.end_reason) return std::nullopt;
    std::optional<lib::base::ApiError> error;
    switch (*r.end_reason) {
        case EndReason::kCompleted:
        case EndReason::kTaskFailed:
            return std::nullopt;
        case EndReason::kCancelled:
            if (!r.refunded) return std::nullopt;  // stopped after output: the text stands
            error = lib::base::ApiError(lib::base::ErrorCode::kConflict,
                                        "the generation was stopped before any output");
            break;
        case EndReason::kUpstreamError: {
            // error_code is "<kind>:<upstream code>"; the kind picks the public error as it did
            // for the first reply.
            lib::ai::UpstreamError upstream;
            const std::string kind = r.error_code.substr(0, r.error_code.find(':'));
            for (auto k :
                 {lib::ai::UpstreamError::Kind::kAuth, lib::ai::UpstreamError::Kind::kRateLimited,
                  lib::ai::UpstreamError::Kind::kBadRequest,
                  lib::ai::UpstreamError::Kind::kContentRejected,
                  lib::ai::UpstreamError::Kind::kServer, lib::ai::UpstreamError::Kind::kTimeout,
                  lib::ai::UpstreamError::Kind::kNetwork,
                  lib::ai::UpstreamError::Kind::kProtocol}) {
                if (lib::ai::UpstreamErrorKindName(k) == kind) upstream.kind = k;
            }
            error = lib::ai::ToApiError(upstream);
            break;
        }
        case EndReason::kWorkerLost:
            error = lib::base::ApiError(lib::base::ErrorCode::kUnavailable,
                                        "the generation was interrupted on our side");
            break;
    }
    error->extra["refunded"] = r.refunded;
    error->extra["balance"] = Json::Int64(r.balance);
    error->extra["generation_id"] = Json::Int64(r.id);
    return error;
}

EndEvent FollowEndEvent(const GenerationRecord& r) {
    if (std::optional<lib::base::ApiError> error = EndedError(r)) return {"error", error->Body()};
    Json::Value end;
    end["status"] = std::string(ToSql(r.status));
    end["end_reason"] =
        r.end_reason ? Json::Value(std::string(ToSql(*r.end_reason))) : Json::Value();
    end["finish_reason"] = r.finish_reason;
    end["usage"] = UsageJson(r.input_tokens, r.output_tokens);
    end["credits_charged"] = Json::Int64(r.refunded ? 0 : r.credits_charged);
    end["balance"] = Json::Int64(r.balance);
    return {"done", end};
}

Json::Value GenerationJson(const GenerationRecord& r) {
    Json::Value body;
    body["generation_id"] = Json::Int64(r.id);
    body["content"] = r.content;
    body["model"] = r.model;
    body["finish_reason"] = r.finish_reason;
    body["usage"] = UsageJson(r.input_tokens, r.output_tokens);
    body["credits_charged"] = Json::Int64(r.refunded ? 0 : r.credits_charged);
    body["balance"] = Json::Int64(r.balance);
    return body;
}

Json::Value SubmittedJson(const lib::generation::ImageSubmitted& submitted) {
    Json::Value body;
    body["task_id"] = submitted.task_id;
    body["status"] = std::string(lib::ai::TaskStatusName(submitted.status));
    body["credits_charged"] = Json::Int64(submitted.credits_charged);
    body["balance"] = Json::Int64(submitted.balance);
    return body;
}

Json::Value TaskJson(const lib::generation::TaskState& task) {
    const GenerationRecord& record = task.record;
    Json::Value body;
    body["task_id"] = record.task_id;
    body["status"] = DisplayStatus(record, task.upstream_status);
    Json::Value images(Json::arrayValue);
    for (const std::string& url : record.image_urls) {
        Json::Value image;
        image["url"] = url;
        images.append(image);
    }
    body["images"] = images;
    body["credits_charged"] = Json::Int64(record.credits_charged);
    body["refunded"] = record.refunded;
    return body;
}

}  // namespace inkstone::handlers::views
