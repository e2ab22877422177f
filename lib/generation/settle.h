#pragma once
/// The money rules of one generation (README, "Generation (Qwen)", "Who pays when something
/// goes wrong"), as pure functions: what a generation costs when it starts, and what its end
/// means (final status, whether the charge stands or is refunded, the public error). Every
/// owner of a generation's end asks Settle: the request thread (text and image submission),
/// the image poller and the recovery job. None of them decides a refund itself.
///
/// Thread-safe: no state.
#include <cstdint>
#include <optional>
#include <string_view>

#include "lib/ai/provider.h"
#include "lib/base/errors.h"

namespace inkstone::lib::generation {

enum class GenerationStatus { kRunning, kSucceeded, kFailed, kAborted };
/// "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED": the stored and the public name.
std::string_view ToSql(GenerationStatus status);
/// Strict: false for anything else, never a fallback to RUNNING.
bool FromSql(std::string_view text, GenerationStatus* status);

/// How the owner of a generation saw it end. A reader that goes away is not an ending: the
/// generation runs on and is stored (README, "Who pays").
enum class Ending {
    kSucceeded,       ///< upstream finished the text, or the image task SUCCEEDED
    kUpstreamFailed,  ///< the upstream call failed (before or after a delta), `upstream` says how
    kTaskFailed,      ///< the image task FAILED, was CANCELED, or upstream no longer knows it
    kCancelled,       ///< the owner asked to stop it (POST /writing/generations/{id}/cancel)
    kWorkerLost,      ///< its heartbeat stopped: the worker died (the recovery job)
};

/// Why a generation ended, as `generations.end_reason` stores it and the API shows it.
enum class EndReason { kCompleted, kUpstreamError, kTaskFailed, kCancelled, kWorkerLost };
/// "completed" | "upstream_error" | "task_failed" | "cancelled" | "worker_lost".
std::string_view ToSql(EndReason reason);
/// Strict: false for anything else.
bool FromSql(std::string_view text, EndReason* reason);

struct GenerationFacts {
    Ending ending = Ending::kSucceeded;
    /// The first delta had arrived (and was stored) before the end. A JSON client's text counts
    /// too: it is stored as it arrives, whoever reads it.
    bool delivered = false;
    /// What Start charged: 0 for a member or a free model (then there is nothing to refund).
    int64_t credits_charged = 0;
    /// kUpstreamFailed: the kind of failure, which picks the public error.
    ai::UpstreamError::Kind upstream = ai::UpstreamError::Kind::kProtocol;
};

struct Verdict {
    GenerationStatus status = GenerationStatus::kSucceeded;
    EndReason reason = EndReason::kCompleted;
    /// Give the charge back. Never true when nothing was charged.
    bool refund = false;
    /// What a client that is still listening is told (`detail`, `code`, and `refunded` in
    /// `extra`; the caller adds `balance`). nullopt on success, for a stop after output (the
    /// partial text is the answer), and where nobody is told anything (a lost worker, a failed
    /// image task: the task view shows it).
    std::optional<base::ApiError> error;
};

/// The one rule table:
///
/// | ending                     | status    | charge                          | public error      |
/// |----------------------------|-----------|---------------------------------|-------------------|
/// | kSucceeded                 | SUCCEEDED | stands                          | -                 |
/// | kUpstreamFailed            | FAILED    | refunded (before or after delta)| ai::ToApiError    |
/// | kTaskFailed                | FAILED    | refunded                        | -                 |
/// | kCancelled, no delta       | ABORTED   | refunded                        | 409 CONFLICT      |
/// | kCancelled, after a delta  | ABORTED   | stands (partial text kept)      | -                 |
/// | kWorkerLost                | FAILED    | refunded (by recovery, once)    | -                 |
///
/// A generation that charged nothing (a member, a free model) has nothing to refund.
Verdict Settle(const GenerationFacts& facts);

/// What Start charges: a member pays nothing, anyone else the model's `cost`.
int64_t CreditsToCharge(bool member, int64_t cost);

}  // namespace inkstone::lib::generation
