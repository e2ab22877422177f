#pragma once
/// The JSON shapes of the generation area (README, "Generation (Qwen)"), in one place: every
/// generation handler renders through these. Pure functions.
#include <json/value.h>

#include <cstdint>

#include "lib/base/clock.h"
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

/// An item of GET /writing/history.
Json::Value HistoryItemJson(const lib::generation::GenerationRecord& record);

/// The 202 of POST /image/generate: `{"task_id", "status", "credits_charged", "balance"}`.
Json::Value SubmittedJson(const lib::generation::ImageSubmitted& submitted);
/// GET /image/tasks/{id}: `{"task_id", "status", "images": [{"url"}], "credits_charged",
/// "refunded"}`. `status` is upstream's while the task runs, UNKNOWN for a task upstream lost.
Json::Value TaskJson(const lib::generation::TaskState& task);

}  // namespace inkstone::handlers::views
