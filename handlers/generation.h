#pragma once
/// Generation endpoints (README, "Generation (Qwen)"): GET /ai/models, GET /writing/tools,
/// POST /writing/generate (JSON or SSE), GET /writing/generations/{id} (and /stream to
/// reattach, POST /cancel to stop), GET /writing/history, POST /image/generate,
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
#include "lib/generation/live.h"
#include "lib/generation/service.h"
#include "lib/http/router.h"

namespace inkstone::handlers {

/// What every generation handler needs. All references outlive the handlers.
struct GenerationDeps {
    lib::generation::Generations& generations;
    const lib::ai::ProviderMap& providers;
    const std::vector<lib::generation::ModelInfo>& models;
    lib::generation::LiveBoard& board;
    const lib::base::Clock& clock;
    lib::generation::ProgressTiming timing;
    /// The recovery job's period (a fraction of the heartbeat bound, at most 30 s).
    int recover_every_s = 30;
    /// An Idempotency-Key retry of a JSON generation waits this long for the first one's end.
    std::chrono::milliseconds replay_wait{330000};
    /// SSE comment sent when a stream has been silent this long (keeps proxies from timing out).
    std::chrono::milliseconds heartbeat{15000};

    /// The area's service on these references (stateless: cheap to make).
    lib::generation::GenerationService Service() const {
        return lib::generation::GenerationService(generations, providers, models, board, timing,
                                                  clock);
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
/// "max_tokens"?, "temperature"?}`, with an optional Idempotency-Key: a retry with the same key
/// and body gets the same generation (the JSON reply once it ended, or the stream replayed
/// from its first delta), never a second charge; another body is 409.
class GenerateHandler final : public lib::http::Handler {
  public:
    explicit GenerateHandler(const GenerationDeps& deps)
        : service_(deps.Service()), heartbeat_(deps.heartbeat), replay_wait_(deps.replay_wait) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    lib::http::Response AnswerJson(const lib::generation::TextOrder& order,
                                   const lib::http::Request& request,
                                   lib::http::StreamWriter& writer) const;
    lib::http::Response AnswerStream(const lib::generation::TextOrder& order,
                                     const lib::http::Request& request,
                                     lib::http::StreamWriter& writer) const;
    lib::http::Response Replayed(int64_t user_id, int64_t generation_id) const;

    const lib::generation::GenerationService service_;
    const std::chrono::milliseconds heartbeat_;
    const std::chrono::milliseconds replay_wait_;
};

/// GET /writing/generations/{id}: status, the text stored so far, usage, charge and refund,
/// the end reason (owner only; anyone else's is 404).
class GenerationHandler final : public lib::http::Handler {
  public:
    explicit GenerationHandler(const GenerationDeps& deps) : service_(deps.Service()) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::generation::GenerationService service_;
};

/// GET /writing/generations/{id}/stream with `Last-Event-ID: N` (or `?after=N`): SSE that
/// replays the stored deltas after N, then follows the generation until it ends, on any worker.
class GenerationStreamHandler final : public lib::http::Handler {
  public:
    explicit GenerationStreamHandler(const GenerationDeps& deps)
        : service_(deps.Service()), heartbeat_(deps.heartbeat) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::generation::GenerationService service_;
    const std::chrono::milliseconds heartbeat_;
};

/// POST /writing/generations/{id}/cancel: 202 `{"generation_id", "cancel_requested": true}`;
/// 409 when it had already ended; 404 for anyone but the owner. The upstream call stops within
/// a second on whichever worker runs it: refunded before the first delta, charged after.
class CancelGenerationHandler final : public lib::http::Handler {
  public:
    explicit CancelGenerationHandler(const GenerationDeps& deps) : service_(deps.Service()) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::generation::GenerationService service_;
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
