#pragma once
/// Generations (README, "Generation (Qwen)"): the model catalog, writing tools, and the DB side
/// of one generation: start (rate limits, charge, row), finish (exactly once, as Settle's
/// verdict says: lib/generation/settle.h), recovery of generations whose worker died, and image
/// tasks. Every statement of the `generations` and `writing_tools` tables is here.
///
/// Every state change of a generation is a conditional UPDATE `... WHERE status = 'RUNNING'`
/// in the same transaction as its refund, so the request thread, the recovery job and the
/// image poller, on any number of hosts, can race: exactly one of them finishes a generation,
/// and a charge is refunded at most once (the ledger's UNIQUE refund_of key is the backstop).
///
/// Thread-safe: no mutable state but the tool list, cached for kToolsFreshFor under a mutex (an
/// operator's change to `writing_tools` reaches every worker within that). Errors: ApiError for
/// clients (402, 404, 429), db::DbError, and an InvariantError for a row that breaks the schema's
/// rules (an unknown status or kind).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/config.h"
#include "lib/billing/idempotency.h"
#include "lib/billing/wallet.h"
#include "lib/db/db.h"
#include "lib/generation/live.h"
#include "lib/generation/settle.h"

namespace inkstone::lib::generation {

enum class ModelKind { kText, kVision, kImage };
/// "text" | "vision" | "image": the stored and the public name.
std::string_view ToSql(ModelKind kind);
/// Strict: false for anything else (a row read through db::Rows then fails its invariant).
bool FromSql(std::string_view text, ModelKind* kind);

struct ModelInfo {
    std::string provider;  ///< "qwen"
    std::string model;     ///< "qwen-plus"
    ModelKind kind;
    int64_t credits;  ///< cost of one generation for a non-member
};

/// qwen-turbo, qwen-plus, qwen-max (text), qwen-vl-plus (vision), wanx-v1 (image), each costing
/// `credit.cost_per_generation` unless `ai.model_credits` ("qwen-max=20,wanx-v1=30") says
/// otherwise. Throws ConfigError for a malformed `ai.model_credits` or an unknown model in it.
std::vector<ModelInfo> ModelCatalog(const base::Config& config);

/// The catalog entry called `model`, or nullptr.
const ModelInfo* FindModel(const std::vector<ModelInfo>& models, std::string_view model);

struct WritingTool {
    std::string tool_type;
    std::string name;
    std::string description;
    std::string system_prompt;
    std::string user_template;  ///< `{prompt}` is replaced by the user's prompt

    /// The user message: the template with every `{prompt}` replaced (appended when absent).
    std::string Render(std::string_view prompt) const;
};

struct GenerationLimits {
    int per_minute = 20;  ///< generations started per user in any 60 s
    int in_flight = 3;    ///< text/vision generations RUNNING per user
    /// A RUNNING text generation whose heartbeat is older than this belongs to a dead worker
    /// (the generating thread writes one at least every kHeartbeatEvery): it no longer counts
    /// as in flight and the recovery job refunds it.
    std::chrono::seconds heartbeat_stale{30};
    /// An image generation that never got its task id this long after it started (its
    /// submission outlived every upstream timeout) belongs to a dead worker too.
    std::chrono::seconds image_submit_stale{330};
};

/// How long a worker's copy of the writing tools or model prices serves generation starts at
/// most. A catalog change is seen sooner: the copy is also dropped as soon as a request carries
/// another catalog_version (read with its token, http::Principal::catalog_version), which every
/// admin catalog write bumps. The age bound only covers a change made by hand in SQL.
inline constexpr std::chrono::seconds kToolsFreshFor{10};

/// The generating thread's longest silence towards the database.
inline constexpr std::chrono::seconds kHeartbeatEvery{5};

struct NewGeneration {
    int64_t user_id = 0;
    ModelKind kind = ModelKind::kText;
    std::optional<std::string> tool_type;
    std::string provider;
    std::string model;
    bool stream = false;
    std::string prompt;
    int64_t cost = 0;  ///< credits for a non-member
    /// POST /writing/generate's Idempotency-Key: a retry gets the first generation, uncharged.
    std::optional<billing::IdempotentRequest> idempotency;
};

struct StartedGeneration {
    int64_t generation_id = 0;
    int64_t charge_id = 0;        ///< 0 when nothing was charged (member)
    int64_t credits_charged = 0;  ///< 0 for members
    int64_t balance = 0;          ///< credits right after the charge
    /// An Idempotency-Key retry: generation_id is the first request's generation, nothing was
    /// charged now and nothing else above is set.
    bool replayed = false;
};

/// What a finished generation stores besides its verdict.
struct GenerationOutput {
    bool delivered = false;  ///< the first delta had arrived
    /// The whole text, with its delta count and ends (see StoredText). nullopt keeps what the
    /// flushes stored (recovery: the text a dead worker stored is kept).
    std::optional<std::string> content;
    int64_t deltas = 0;
    std::string delta_ends;
    std::string finish_reason;
    int64_t input_tokens = 0;
    int64_t output_tokens = 0;
    std::string upstream_request_id;
    std::string error_code;  ///< ours or upstream's kind name, for operators
    std::vector<std::string> image_urls;
};

struct FinishResult {
    bool finished_now = false;  ///< false: someone else had finished it already
    bool refunded = false;      ///< the generation's charge has been refunded (now or before)
    int64_t balance = 0;        ///< the user's credits after this
};

/// Where each delta of a stored text ends: `delta_ends` parsed ("5,12," -> {5, 12}). An entry
/// past the text or out of order is an invariant failure.
std::vector<size_t> DeltaEnds(int64_t generation_id, std::string_view delta_ends, size_t text_size);

enum class CancelOutcome {
    kRequested,  ///< recorded now, or already requested: the generation stops within a second
    kEnded,      ///< it had already ended (409)
};

/// A generation row as GET /writing/history, GET /writing/generations/{id} and
/// GET /image/tasks/{id} show it.
struct GenerationRecord {
    int64_t id = 0;
    int64_t user_id = 0;
    ModelKind kind = ModelKind::kText;
    std::optional<std::string> tool_type;
    std::string model;
    GenerationStatus status = GenerationStatus::kRunning;
    std::string prompt;
    std::string content;
    std::vector<std::string> image_urls;
    int64_t credits_charged = 0;
    bool refunded = false;
    std::string finish_reason;
    int64_t input_tokens = 0;
    int64_t output_tokens = 0;
    std::string task_id;
    std::string error_code;
    base::TimePoint created_at;
    std::optional<base::TimePoint> finished_at;
    bool stream = false;
    int64_t deltas = 0;      ///< deltas in `content`
    std::string delta_ends;  ///< their ends (DeltaEnds)
    std::optional<base::TimePoint> first_delta_at;
    bool cancel_requested = false;
    std::optional<EndReason> end_reason;  ///< nullopt while RUNNING
    std::string task_status;              ///< an image task's last upstream status
    base::TimePoint updated_at;           ///< an image task's last poll
    int64_t balance = 0;                  ///< the user's credits now (Find only)
};

struct HistoryPage {
    std::vector<GenerationRecord> items;  ///< newest first
    int64_t total = 0;
};

class Generations {
  public:
    Generations(db::Pool& pool, const base::Clock& clock, const billing::Wallet& wallet,
                GenerationLimits limits)
        : pool_(pool),
          clock_(clock),
          wallet_(wallet),
          limits_(limits),
          tools_(std::make_shared<ToolCache>()) {}

    /// Active writing tools, in display order.
    std::vector<WritingTool> ListTools() const;
    /// The active tool, from the worker's copy of the list when it was loaded at
    /// `catalog_version` and is younger than kToolsFreshFor (a generation's start then needs no
    /// statement for it); else the list is read again.
    std::optional<WritingTool> FindTool(std::string_view tool_type, int64_t catalog_version) const;

    /// The credits one generation of `model` costs a non-member: its model_prices row (an
    /// admin's price) or else the config's (ModelInfo::credits). Cached like FindTool.
    int64_t ModelCredits(const ModelInfo& model, int64_t catalog_version) const;
    /// `models` with their model_prices overrides applied, read now (GET /ai/models).
    std::vector<ModelInfo> PricedModels(const std::vector<ModelInfo>& models) const;

    /// One transaction: lock the user row; 429 RATE_LIMITED (Retry-After) past the per-minute
    /// or in-flight limit; the RUNNING row is inserted, and charged CreditsToCharge (a member
    /// pays 0) through the wallet, which answers a short balance with 402 INSUFFICIENT_CREDITS
    /// (`required`, `balance`): then nothing is written. The row is linked to its CONSUME
    /// ledger row.
    StartedGeneration Start(const NewGeneration& generation) const;

    /// Finishes a RUNNING generation once, with the status and refund of `verdict` (see the
    /// class comment). A second call, or a call after recovery/poller finished it, changes
    /// nothing and reports finished_now = false. `balance_after_charge`, when the caller knows
    /// it (the balance Start answered), is what a finish without a refund reports as the
    /// balance, saving the read-back: the user's credits right after this generation's charge.
    /// A finish that refunds reads the balance under its lock, as without it.
    FinishResult Finish(int64_t generation_id, const Verdict& verdict,
                        const GenerationOutput& output,
                        std::optional<int64_t> balance_after_charge = std::nullopt) const;

    /// Appends the text that arrived to each RUNNING generation and beats its heart: one
    /// statement each, all in one transaction (LiveBoard's tick). For each, false: stop its
    /// upstream call (the owner asked to, or someone else finished it).
    std::vector<bool> SaveProgress(const std::vector<ProgressFlush>& flushes) const;

    /// The owner's stop of a RUNNING text generation: 404 for an unknown id or another user's
    /// (and for images, which cannot be stopped), kEnded when it had already ended.
    CancelOutcome RequestCancel(int64_t user_id, int64_t generation_id) const;
    /// RUNNING generations whose stop was requested (few at any time: one index range).
    std::vector<int64_t> CancelsRequested() const;

    /// The user's generation, or nullopt (another user's is nullopt too).
    std::optional<GenerationRecord> Find(int64_t user_id, int64_t generation_id) const;

    /// Records the upstream task id of an image generation and its first status.
    void SetTask(int64_t generation_id, const std::string& task_id,
                 std::string_view task_status) const;

    /// The user's generation with this task id, or nullopt (another user's task is nullopt too).
    std::optional<GenerationRecord> FindTask(int64_t user_id, std::string_view task_id) const;
    /// RUNNING image generations with a task id, least recently touched first, skipping those
    /// touched within `min_age` (for the background poller).
    std::vector<GenerationRecord> PendingTasks(std::chrono::seconds min_age, int limit) const;
    /// Marks a task as polled now (so other pollers skip it for a while), with the status
    /// upstream reported (nullopt: the poll failed, keep the last one).
    void TouchTask(int64_t generation_id, std::optional<std::string_view> task_status) const;

    /// Finishes RUNNING generations whose worker died as Settle says for a lost worker (failed,
    /// refunded, the stored text kept): text/vision whose heartbeat is older than
    /// heartbeat_stale, images that never got a task id within image_submit_stale. Returns how
    /// many this call finished.
    int64_t RecoverStale(int batch) const;

    HistoryPage History(int64_t user_id, int64_t limit, int64_t offset) const;

  private:
    /// Finish() for a verdict without a refund when the generation is still RUNNING: one
    /// conditional UPDATE outside a transaction. nullopt: take the transactional path.
    std::optional<FinishResult> FinishWithoutRefund(
        int64_t generation_id, const Verdict& verdict, const GenerationOutput& output,
        std::optional<int64_t> balance_after_charge) const;
    FinishResult FinishOnce(int64_t generation_id, const Verdict& verdict,
                            const GenerationOutput& output) const;

    struct ToolCache {
        std::mutex mutex;
        bool loaded = false;
        int64_t version = 0;  ///< the catalog_version it was loaded at
        std::chrono::steady_clock::time_point loaded_at;
        std::vector<WritingTool> tools;
        std::map<std::string, int64_t, std::less<>> model_credits;  ///< model_prices
    };
    /// The worker's copy of the catalog, reloaded when stale (see kToolsFreshFor).
    std::shared_ptr<const ToolCache> Catalog(int64_t catalog_version) const;

    db::Pool& pool_;
    const base::Clock& clock_;
    const billing::Wallet& wallet_;
    const GenerationLimits limits_;
    const std::shared_ptr<ToolCache> tools_;  // shared by copies of this object
};

}  // namespace inkstone::lib::generation
