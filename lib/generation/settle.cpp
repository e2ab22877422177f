#include "lib/generation/settle.h"

#include <string>
#include <utility>

#include "lib/base/assert.h"

namespace inkstone::lib::generation {
namespace {

Verdict Told(GenerationStatus status, bool refund, base::ApiError error) {
    error.extra["refunded"] = refund;
    return Verdict{status, refund, std::move(error)};
}

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

Verdict Settle(const GenerationFacts& facts) {
    INKSTONE_ASSERT(facts.credits_charged >= 0,
                    "credits_charged " + std::to_string(facts.credits_charged));
    const bool charged = facts.credits_charged > 0;
    switch (facts.ending) {
        case Ending::kSucceeded:
            return Verdict{GenerationStatus::kSucceeded, false, std::nullopt};
        case Ending::kUpstreamFailed: {
            // Before or after the first delta alike: a text cut short is not what was paid for.
            ai::UpstreamError error;
            error.kind = facts.upstream;
            return Told(GenerationStatus::kFailed, charged, ai::ToApiError(error));
        }
        case Ending::kTaskFailed:
            return Verdict{GenerationStatus::kFailed, charged, std::nullopt};
        case Ending::kClientGone:
            // A delivered delta means the client received what they paid for.
            return Told(
                GenerationStatus::kAborted, charged && !facts.delivered,
                base::ApiError(base::ErrorCode::kBadRequest, "the client closed the connection"));
        case Ending::kWorkerLost:
            return Verdict{GenerationStatus::kFailed, charged, std::nullopt};
    }
    INKSTONE_INVARIANT_FAILED("unknown Ending " + std::to_string(static_cast<int>(facts.ending)));
}

int64_t CreditsToCharge(bool member, int64_t cost) { return member ? 0 : cost; }

}  // namespace inkstone::lib::generation
