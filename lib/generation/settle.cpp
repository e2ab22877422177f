#include "lib/generation/settle.h"

#include <string>
#include <utility>

#include "lib/base/assert.h"

namespace inkstone::lib::generation {
namespace {

Verdict Told(GenerationStatus status, EndReason reason, bool refund, base::ApiError error) {
    error.extra["refunded"] = refund;
    return Verdict{status, reason, refund, std::move(error)};
}

constexpr std::pair<EndReason, std::string_view> kEndReasons[] = {
    {EndReason::kCompleted, "completed"},    {EndReason::kUpstreamError, "upstream_error"},
    {EndReason::kTaskFailed, "task_failed"}, {EndReason::kCancelled, "cancelled"},
    {EndReason::kWorkerLost, "worker_lost"},
};

}  // namespace

std::string_view ToSql(GenerationStatus status) {
    switch (status) {
        case GenerationStatus::kRunning:
            return "RUNNING";
        case GenerationStatus::kSucceeded:
            return "SUCCEEDED";
        case GenerationStatus::kFailed:
            return "FAILED";
        case GenerationStatus::kAborted:
            return "ABORTED";
    }
    INKSTONE_INVARIANT_FAILED("GenerationStatus " + std::to_string(static_cast<int>(status)));
}

bool FromSql(std::string_view text, GenerationStatus* status) {
    for (GenerationStatus s : {GenerationStatus::kRunning, GenerationStatus::kSucceeded,
                               GenerationStatus::kFailed, GenerationStatus::kAborted}) {
        if (text == ToSql(s)) {
            *status = s;
            return true;
        }
    }
    return false;
}

std::string_view ToSql(EndReason reason) {
    for (const auto& [r, name] : kEndReasons) {
        if (r == reason) return name;
    }
    INKSTONE_INVARIANT_FAILED("EndReason " + std::to_string(static_cast<int>(reason)));
}

bool FromSql(std::string_view text, EndReason* reason) {
    for (const auto& [r, name] : kEndReasons) {
        if (text == name) {
            *reason = r;
            return true;
        }
    }
    return false;
}

Verdict Settle(const GenerationFacts& facts) {
    INKSTONE_ASSERT(facts.credits_charged >= 0,
                    "credits_charged " + std::to_string(facts.credits_charged));
    const bool charged = facts.credits_charged > 0;
    switch (facts.ending) {
        case Ending::kSucceeded:
            return Verdict{GenerationStatus::kSucceeded, EndReason::kCompleted, false,
                           std::nullopt};
        case Ending::kUpstreamFailed: {
            // Before or after the first delta alike: a text cut short is not what was paid for.
            ai::UpstreamError error;
            error.kind = facts.upstream;
            return Told(GenerationStatus::kFailed, EndReason::kUpstreamError, charged,
                        ai::ToApiError(error));
        }
        case Ending::kTaskFailed:
            return Verdict{GenerationStatus::kFailed, EndReason::kTaskFailed, charged,
                           std::nullopt};
        case Ending::kCancelled:
            // Stopped after output: the owner keeps the text they chose to stop at and pays.
            if (facts.delivered) {
                return Verdict{GenerationStatus::kAborted, EndReason::kCancelled, false,
                               std::nullopt};
            }
            return Told(GenerationStatus::kAborted, EndReason::kCancelled, charged,
                        base::ApiError(base::ErrorCode::kConflict,
                                       "the generation was stopped before any output"));
        case Ending::kWorkerLost:
            return Verdict{GenerationStatus::kFailed, EndReason::kWorkerLost, charged,
                           std::nullopt};
    }
    INKSTONE_INVARIANT_FAILED("unknown Ending " + std::to_string(static_cast<int>(facts.ending)));
}

int64_t CreditsToCharge(bool member, int64_t cost) { return member ? 0 : cost; }

}  // namespace inkstone::lib::generation
