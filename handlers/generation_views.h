#pragma once
/// The JSON shapes of the generation area (README, "Generation (Qwen)"), in one place: every
/// generation handler renders through these. Pure functions.
#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/clock.h"
#include "lib/base/errors.h"
#include "lib/generation/generations.h"
#include "lib/generation/service.h"

namespace inkstone::handlers::views {

/// `{"provider", "model", "kind", "credits"}`
Json::Value ModelJson(const lib::generation::ModelInfo& model);
/// `{"tool_type", "name", "description"}`
Json::Value ToolJson(const lib::generation::WritingTool& tool);
/// `{"input_tokens", "output_tokens"}`
Json::Value UsageJson(int64_t input_tokens, int64_t output_tokens);

/// The `stream: false` reply: `{"generation_id", "content", "model", "finish_reason", "usage",
/// "credits_charged", "balance"}`.
Json::Value GenerationJson(const lib::generation::TextResult& result, const std::string& model);
/// `event: meta`: `{"generation_id", "model", "credits_charged", "balance"}`.
Json::Value MetaJson(const lib::generation::StartedGeneration& started, const std::string& model);
/// `event: done`: `{"finish_reason", "usage", "credits_charged", "balance"}`.
Json::Value DoneJson(const lib::generation::TextResult& result);

/// An item of GET /writing/history: `{"id", "kind", "tool_type", "model", "stream", "status",
/// "end_reason", "prompt", "content", "images", "task_id", "credits_charged", "refunded",
/// "finish_reason", "usage", "created_at", "finished_at"}`.
Json::Value HistoryItemJson(const lib::generation::GenerationRecord& record);
/// GET /writing/generations/{id}: the history item plus `"deltas"` (stored so far),
/// `"cancel_requested"` and `"balance"`.
Json::Value GenerationDetailJson(const lib::generation::GenerationRecord& record);
/// `event: delta` `{"content"}` (its `id:` is the delta's number).
Json::Value DeltaJson(std::string_view text);

/// The last event of a reattached stream, from the final row: `done` (`{"status",
/// "end_reason", "finish_reason", "usage", "credits_charged", "balance"}`) when the text stands,
/// else `error` with the public error of the ending (`refunded`, `balance`).
struct EndEvent {
    std::string name;
    Json::Value data;
};
EndEvent FollowEndEvent(const lib::generation::GenerationRecord& record);
/// The public error of a generation that ended without a text to show (refunded), rebuilt from
/// its row as the first reply told it; nullopt when the text stands.
std::optional<lib::base::ApiError> EndedError(const lib::generation::GenerationRecord& record);
/// The `stream: false` reply rebuilt from a finished row (an Idempotency-Key retry).
Json::Value GenerationJson(const lib::generation::GenerationRecord& record);

/// The 202 of POST /image/generate: `{"task_id", "status", "credits_charged", "balance"}`.
Json::Value SubmittedJson(const lib::generation::ImageSubmitted& submitted);
/// GET /image/tasks/{id}: `{"task_id", "status", "images": [{"url"}], "credits_charged",
/// "refunded"}`. `status` is upstream's while the task runs, UNKNOWN for a task upstream lost.
Json::Value TaskJson(const lib::generation::TaskState& task);

}  // namespace inkstone::handlers::views
