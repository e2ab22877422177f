#pragma once
/// Generation endpoints (SPEC §7): GET /ai/models, GET /writing/tools, POST /writing/generate
/// (JSON or SSE), GET /writing/history, POST /image/generate, GET /image/tasks/{task_id}, and
/// the background jobs that recover dead workers' charges and poll image tasks nobody polls.
///
/// The money rule of a text generation: a non-member is charged before the upstream call
/// (402 and no upstream call when the balance is short). The charge is refunded when the
/// generation fails, before or after the first delta, and when the client leaves before any
/// delta was delivered; it stands when the client leaves after a delta was delivered. A worker
/// that dies mid-generation leaves a RUNNING row that the recovery job refunds exactly once.
#include <chrono>
#include <vector>

#include "lib/base/clock.h"
#include "lib/generation/generations.h"
#include "lib/base/jobs.h"
#include "lib/ai/provider.h"
#include "lib/http/router.h"

namespace inkstone::handlers {

/// What every generation handler needs. All references outlive the handlers.
struct GenerationDeps {
    lib::generation::Generations& generations;
    const lib::ai::ProviderMap& providers;
    const std::vector<lib::generation::ModelInfo>& models;
    const lib::base::Clock& clock;
    /// SSE comment sent when a stream has been silent this long (keeps proxies from timing out).
    std::chrono::milliseconds heartbeat{15000};
};

class ModelsHandler final : public lib::http::Handler {
  public:
    explicit ModelsHandler(const GenerationDeps& deps) : deps_(deps) {}
    lib::http::Response Handle(const lib::http::Request& request, lib::http::StreamWriter& stream) const override;

  private:
    GenerationDeps deps_;
};

class ToolsHandler final : public lib::http::Handler {
  public:
    explicit ToolsHandler(const GenerationDeps& deps) : deps_(deps) {}
    lib::http::Response Handle(const lib::http::Request& request, lib::http::StreamWriter& stream) const override;

  private:
    GenerationDeps deps_;
};

/// POST /writing/generate `{"tool_type", "prompt", "model"?, "stream"?, "images"?,
/// "max_tokens"?, "temperature"?}`.
class GenerateHandler final : public lib::http::Handler {
  public:
    explicit GenerateHandler(const GenerationDeps& deps) : deps_(deps) {}
    lib::http::Response Handle(const lib::http::Request& request, lib::http::StreamWriter& stream) const override;

  private:
    GenerationDeps deps_;
};

class HistoryHandler final : public lib::http::Handler {
  public:
    explicit HistoryHandler(const GenerationDeps& deps) : deps_(deps) {}
    lib::http::Response Handle(const lib::http::Request& request, lib::http::StreamWriter& stream) const override;

  private:
    GenerationDeps deps_;
};

/// POST /image/generate `{"prompt", "model"?: "wanx-v1", "size"?, "n"?}` → 202 task.
class ImageGenerateHandler final : public lib::http::Handler {
  public:
    explicit ImageGenerateHandler(const GenerationDeps& deps) : deps_(deps) {}
    lib::http::Response Handle(const lib::http::Request& request, lib::http::StreamWriter& stream) const override;

  private:
    GenerationDeps deps_;
};

/// GET /image/tasks/{task_id}: the user's own task (another user's is 404), polled upstream
/// while it runs; FAILED/UNKNOWN is refunded exactly once, whoever sees it first.
class ImageTaskHandler final : public lib::http::Handler {
  public:
    explicit ImageTaskHandler(const GenerationDeps& deps) : deps_(deps) {}
    lib::http::Response Handle(const lib::http::Request& request, lib::http::StreamWriter& stream) const override;

  private:
    GenerationDeps deps_;
};

/// Polls one RUNNING image generation upstream and finishes it when upstream has. Shared by the
/// task handler and the background poller.
lib::generation::GenerationRecord PollImageTask(const GenerationDeps& deps, lib::generation::GenerationRecord record);

/// The background jobs of this area: `generation.recover` and `image.poll`.
std::vector<lib::base::Job> GenerationJobs(const GenerationDeps& deps);

}  // namespace inkstone::handlers
