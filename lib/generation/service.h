#pragma once
/// The generation area's service (README, "Generation (Qwen)"): one function per endpoint and
/// job. It runs a generation from start to finish: start it (limits, charge, row), call the AI
/// provider with no database connection held, ask Settle (lib/generation/settle.h) what the
/// end means and finish the row with that verdict. The handlers only parse, validate and render.
///
/// Thread-safe: no mutable state (the referenced objects are thread-safe). Errors: ApiError for
/// clients (404, 422, 429, 402, 503 when a model's provider is not configured), db::DbError.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/ai/provider.h"
#include "lib/base/clock.h"
#include "lib/base/errors.h"
#include "lib/generation/generations.h"
#include "lib/generation/live.h"
#include "lib/generation/settle.h"

namespace inkstone::lib::generation {

/// The client end of one text generation, implemented by the handler (a JSON reply or an SSE
/// stream). A client that goes away does not stop the generation: it runs to its end and is
/// stored, and the reader can reattach (README, "Who pays").
class TextClient {
  public:
    virtual ~TextClient() = default;
    /// Once the generation is started (charged, row written), before the upstream call.
    virtual void Started(const StartedGeneration& started) = 0;
    /// A streaming client's delta number `seq` (1, 2, ...), on the thread running the call.
    /// Return false when the client is gone: nothing more is sent to it. Must not throw. Never
    /// called for a JSON client.
    virtual bool OnDelta(std::string_view text, int64_t seq) = 0;
    /// Called at least once a second while the call waits (an SSE client's keep-alive).
    virtual void Idle() {}
};

/// What the reattach path sends: the stored deltas after N, then the live ones, then the end.
class FollowClient {
  public:
    virtual ~FollowClient() = default;
    /// The generation as first read (before any delta is sent).
    virtual bool Begin(const GenerationRecord& record) = 0;
    virtual bool Delta(std::string_view text, int64_t seq) = 0;
    /// The generation has ended: `record` holds its final state.
    virtual void End(const GenerationRecord& record) = 0;
    /// Waits up to `wait` for more (an SSE client's keep-alive goes here). false: the client is
    /// gone, stop following.
    virtual bool Wait(std::chrono::milliseconds wait) = 0;
};

/// The service's own timings (the board's are LiveTiming).
struct ProgressTiming {
    /// A failed finish (DB away, deadlocks) is retried with backoff for this long; then the
    /// row stays RUNNING and recovery refunds it once its heartbeat is stale.
    std::chrono::milliseconds finish_retry_for{10000};
    /// The reattach path's read interval.
    std::chrono::milliseconds follow_every{500};
};

/// POST /writing/generate, validated by the handler.
struct TextOrder {
    int64_t user_id = 0;
    const ModelInfo* model = nullptr;  ///< a text or vision model of the catalog
    std::string tool_type;             ///< checked here: 422 `tool_type` when unknown
    std::string prompt;
    bool stream = false;  ///< deltas go to the client as they arrive
    std::vector<std::string> images;
    std::optional<int> max_tokens;
    std::optional<double> temperature;
    std::optional<billing::IdempotentRequest> idempotency;
    int64_t catalog_version = 0;  ///< http::Principal::catalog_version: which prices apply
};

struct TextResult {
    /// started.replayed: an Idempotency-Key retry; nothing ran, the caller reattaches to
    /// started.generation_id and nothing below is set.
    StartedGeneration started;
    /// What reached the client (stream), or what the JSON reply carries.
    std::string content;
    std::string finish_reason;
    ai::Usage usage;
    int64_t credits_charged = 0;  ///< after the verdict: 0 when refunded
    int64_t balance = 0;          ///< the user's credits after the finish
    /// Settle's public error, with `refunded` (as the ledger has it) and `balance`; nullopt on
    /// success.
    std::optional<base::ApiError> error;
};

/// POST /image/generate, validated by the handler.
struct ImageOrder {
    int64_t user_id = 0;
    const ModelInfo* model = nullptr;  ///< an image model of the catalog
    std::string prompt;
    std::optional<std::string> size;  ///< DashScope spelling, "1024*1024"
    std::optional<int> n;
    int64_t catalog_version = 0;  ///< http::Principal::catalog_version: which prices apply
};

struct ImageSubmitted {
    std::string task_id;
    ai::TaskStatus status = ai::TaskStatus::kPending;
    int64_t credits_charged = 0;
    int64_t balance = 0;
};

/// An image generation as its task view shows it.
struct TaskState {
    GenerationRecord record;
    std::string upstream_status;  ///< upstream's status while RUNNING ("PENDING"), else empty
};

class GenerationService {
  public:
    /// Every reference must outlive the service.
    GenerationService(const Generations& generations, const ai::ProviderMap& providers,
                      const std::vector<ModelInfo>& models, LiveBoard& board,
                      const ProgressTiming& timing, const base::Clock& clock)
        : generations_(generations),
          providers_(providers),
          models_(models),
          board_(board),
          timing_(timing),
          clock_(clock) {}

    const std::vector<ModelInfo>& Models() const { return models_; }
    /// Models() at their current prices (model_prices read now): GET /ai/models.
    std::vector<ModelInfo> PricedModels() const { return generations_.PricedModels(models_); }
    std::vector<WritingTool> Tools() const { return generations_.ListTools(); }
    HistoryPage History(int64_t user_id, int64_t limit, int64_t offset) const {
        return generations_.History(user_id, limit, offset);
    }

    /// One text generation, start to finish: runs to its end whether or not the client stays.
    /// Failures of the upstream call and a stop are not thrown: they come back settled in
    /// TextResult::error, because a stream that has begun reports them as an event. Errors
    /// before the start are thrown (503 when this worker runs its cap of generations).
    TextResult Write(const TextOrder& order, TextClient& client) const;

    /// GET /writing/generations/{id}: the user's generation (404 for another user's).
    GenerationRecord Get(int64_t user_id, int64_t generation_id) const;
    /// The stored deltas after `after`, then the new ones as they are stored (read every
    /// follow_every, from any worker or host), then the end. 404 like Get.
    void Follow(int64_t user_id, int64_t generation_id, int64_t after, FollowClient& client) const;
    /// POST /writing/generations/{id}/cancel: the owner's stop (404 like Get; images too).
    /// Reaches the generating thread within a second wherever it runs.
    CancelOutcome Cancel(int64_t user_id, int64_t generation_id) const;

    /// Starts an image generation (charged per image: `n` times the model's price) and submits
    /// its task; an upstream failure is settled and thrown as its public error.
    ImageSubmitted SubmitImage(const ImageOrder& order) const;

    /// The user's task (404 for an unknown task or another user's), polled upstream while it
    /// runs (unless it was checked less than kTaskFreshFor ago) and finished when upstream has.
    TaskState Task(int64_t user_id, std::string_view task_id) const;
    /// Polls one RUNNING image generation upstream and finishes it when upstream has.
    TaskState Poll(GenerationRecord record) const;
    /// The background poller: up to `limit` tasks nobody polled for `min_age`. Returns how many
    /// it polled.
    int64_t PollPending(std::chrono::seconds min_age, int limit) const;
    /// The recovery job: Generations::RecoverStale.
    int64_t Recover(int batch) const { return generations_.RecoverStale(batch); }

  private:
    ai::Provider& ProviderFor(const ModelInfo& model) const;
    /// Finish with retries (ProgressTiming::finish_retry_for) on DB failures.
    FinishResult FinishRetrying(int64_t generation_id, const Verdict& verdict,
                                const GenerationOutput& output,
                                std::optional<int64_t> balance_after_charge = std::nullopt) const;

    const Generations& generations_;
    const ai::ProviderMap& providers_;
    const std::vector<ModelInfo>& models_;
    LiveBoard& board_;
    const ProgressTiming timing_;
    const base::Clock& clock_;
};

/// GET /image/tasks/{id} answers a RUNNING task from its row when it was checked upstream this
/// recently.
inline constexpr std::chrono::seconds kTaskFreshFor{2};

/// `generation.upstream_error` (warn): one failed upstream call of a generation.
void LogUpstreamError(int64_t generation_id, const ai::UpstreamError& error);

/// The error_code column of an upstream failure: the kind's name and upstream's code.
std::string UpstreamErrorCode(const ai::UpstreamError& error);

}  // namespace inkstone::lib::generation
