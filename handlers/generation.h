#pragma once
/// Generation endpoints (README, "Generation (Qwen)"): GET /ai/models, GET /writing/tools,
/// POST /writing/generate (JSON or SSE), GET /writing/history, POST /image/generate,
/// GET /image/tasks/{task_id}, and the background jobs that recover dead workers' charges and
/// poll image tasks nobody polls.
///
/// Each handler parses and validates, calls one function of lib::generation::GenerationService
/// and renders through handlers/generation_views.h. Who pays when something goes wrong is
/// decided by lib::generation::Settle (lib/generation/settle.h), nowhere here.
#include <chrono>
#include <vector>

#include "lib/ai/provider.h"
#include "lib/base/clock.h"
#include "lib/base/jobs.h"
#include "lib/generation/generations.h"
#include "lib/generation/service.h"
#include "lib/http/router.h"

namespace inkstone::handlers {

/// What every generation handler needs. All references outlive the handlers.
struct GenerationDeps {
    lib::generation::Generations& generations;
    const lib::ai::ProviderMap& providers;
    const std::vector<lib::generation::ModelInfo>& models;
    /// SSE comment sent when a stream has been silent this long (keeps proxies from timing out).
    std::chrono::milliseconds heartbeat{15000};

    /// The area's service on these references (stateless: cheap to make).
    lib::generation::GenerationService Service() const {
        return lib::generation::GenerationService(generations, providers, models);
    }
};

class ModelsHandler final : public lib::http::Handler {
  public:
    explicit ModelsHandler(const GenerationDeps& deps) : service_(deps.Service()) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::generation::GenerationService service_;
};

class ToolsHandler final : public lib::http::Handler {
  public:
    explicit ToolsHandler(const GenerationDeps& deps) : service_(deps.Service()) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::generation::GenerationService service_;
};

/// POST /writing/generate `{"tool_type", "prompt", "model"?, "stream"?, "images"?,
/// "max_tokens"?, "temperature"?}`.
class GenerateHandler final : public lib::http::Handler {
  public:
    explicit GenerateHandler(const GenerationDeps& deps)
        : service_(deps.Service()), heartbeat_(deps.heartbeat) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    lib::http::Response AnswerJson(const lib::generation::TextOrder& order,
                                   lib::http::StreamWriter& writer) const;
    lib::http::Response AnswerStream(const lib::generation::TextOrder& order,
                                     lib::http::StreamWriter& writer) const;

    const lib::generation::GenerationService service_;
    const std::chrono::milliseconds heartbeat_;
};

class HistoryHandler final : public lib::http::Handler {
  public:
    explicit HistoryHandler(const GenerationDeps& deps) : service_(deps.Service()) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::generation::GenerationService service_;
};

/// POST /image/generate `{"prompt", "model"?: "wanx-v1", "size"?, "n"?}` → 202 task.
class ImageGenerateHandler final : public lib::http::Handler {
  public:
    explicit ImageGenerateHandler(const GenerationDeps& deps) : service_(deps.Service()) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::generation::GenerationService service_;
};

/// GET /image/tasks/{task_id}: the user's own task (another user's is 404), polled upstream
/// while it runs; FAILED/UNKNOWN is refunded exactly once, whoever sees it first.
class ImageTaskHandler final : public lib::http::Handler {
  public:
    explicit ImageTaskHandler(const GenerationDeps& deps) : service_(deps.Service()) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::generation::GenerationService service_;
};

/// The background jobs of this area, each bounded per run: `generation.recover` and
/// `image.poll`.
std::vector<lib::base::Job> GenerationJobs(const GenerationDeps& deps);

}  // namespace inkstone::handlers
