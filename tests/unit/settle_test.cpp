// The money rules of a generation (lib/generation/settle.h) as one table: every row of the
// README's "Who pays when something goes wrong" table, plus success and members.
#include "lib/generation/settle.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace inkstone::lib::generation {
namespace {

using ai::UpstreamError;
using base::ErrorCode;
using Kind = ai::UpstreamError::Kind;

struct Row {
    const char* what;
    GenerationFacts facts;
    GenerationStatus status;
    bool refund;
    std::optional<int> http_status;  ///< nullopt: nobody is told anything
    const char* code;                ///< the public machine code, when told
};

GenerationFacts Facts(Ending ending, bool delivered, int64_t charged,
                      Kind upstream = Kind::kProtocol) {
    GenerationFacts facts;
    facts.ending = ending;
    facts.delivered = delivered;
    facts.credits_charged = charged;
    facts.upstream = upstream;
    return facts;
}

const std::vector<Row>& Table() {
    using S = GenerationStatus;
    static const std::vector<Row> rows = {
        // upstream fails before the first delta: HTTP error per kind, refunded
        {"before delta: server error", Facts(Ending::kUpstreamFailed, false, 10, Kind::kServer),
         S::kFailed, true, 502, "UPSTREAM_ERROR"},
        {"before delta: our key refused", Facts(Ending::kUpstreamFailed, false, 10, Kind::kAuth),
         S::kFailed, true, 502, "UPSTREAM_ERROR"},
        {"before delta: bad request", Facts(Ending::kUpstreamFailed, false, 10, Kind::kBadRequest),
         S::kFailed, true, 502, "UPSTREAM_ERROR"},
        {"before delta: network", Facts(Ending::kUpstreamFailed, false, 10, Kind::kNetwork),
         S::kFailed, true, 502, "UPSTREAM_ERROR"},
        {"before delta: protocol", Facts(Ending::kUpstreamFailed, false, 10, Kind::kProtocol),
         S::kFailed, true, 502, "UPSTREAM_ERROR"},
        {"before delta: upstream 429",
         Facts(Ending::kUpstreamFailed, false, 10, Kind::kRateLimited), S::kFailed, true, 503,
         "UPSTREAM_BUSY"},
        {"before delta: timeout", Facts(Ending::kUpstreamFailed, false, 10, Kind::kTimeout),
         S::kFailed, true, 504, "UPSTREAM_TIMEOUT"},
        {"before delta: moderation",
         Facts(Ending::kUpstreamFailed, false, 10, Kind::kContentRejected), S::kFailed, true, 422,
         "CONTENT_REJECTED"},
        // upstream fails after a delta (error frame, cut connection, idle timeout): refunded
        {"after delta: error frame", Facts(Ending::kUpstreamFailed, true, 10, Kind::kServer),
         S::kFailed, true, 502, "UPSTREAM_ERROR"},
        {"after delta: cut", Facts(Ending::kUpstreamFailed, true, 10, Kind::kNetwork), S::kFailed,
         true, 502, "UPSTREAM_ERROR"},
        {"after delta: idle timeout", Facts(Ending::kUpstreamFailed, true, 10, Kind::kTimeout),
         S::kFailed, true, 504, "UPSTREAM_TIMEOUT"},
        // the owner stops it: refunded before any delta, stands after one
        {"stopped before any delta", Facts(Ending::kCancelled, false, 10), S::kAborted, true, 409,
         "CONFLICT"},
        {"stopped after a delta", Facts(Ending::kCancelled, true, 10), S::kAborted, false,
         std::nullopt, ""},
        // the worker died: the recovery job refunds (once: Generations::Finish)
        {"worker lost", Facts(Ending::kWorkerLost, false, 10), S::kFailed, true, std::nullopt, ""},
        {"worker lost after a delta", Facts(Ending::kWorkerLost, true, 10), S::kFailed, true,
         std::nullopt, ""},
        // images: a task that failed (or that upstream lost) is refunded
        {"image task failed", Facts(Ending::kTaskFailed, false, 10), S::kFailed, true, std::nullopt,
         ""},
        // success: the charge stands
        {"success, streamed", Facts(Ending::kSucceeded, true, 10), S::kSucceeded, false,
         std::nullopt, ""},
        {"success, JSON", Facts(Ending::kSucceeded, false, 10), S::kSucceeded, false, std::nullopt,
         ""},
        // a member (or a free model) was charged 0: nothing to refund, whatever happens
        {"member: success", Facts(Ending::kSucceeded, true, 0), S::kSucceeded, false, std::nullopt,
         ""},
        {"member: upstream fails", Facts(Ending::kUpstreamFailed, false, 0, Kind::kRateLimited),
         S::kFailed, false, 503, "UPSTREAM_BUSY"},
        {"member: stopped before any delta", Facts(Ending::kCancelled, false, 0), S::kAborted,
         false, 409, "CONFLICT"},
        {"member: worker lost", Facts(Ending::kWorkerLost, false, 0), S::kFailed, false,
         std::nullopt, ""},
        {"member: image task failed", Facts(Ending::kTaskFailed, false, 0), S::kFailed, false,
         std::nullopt, ""},
    };
    return rows;
}

TEST(Settle, EveryRowOfTheWhoPaysTable) {
    for (const Row& row : Table()) {
        SCOPED_TRACE(row.what);
        const Verdict verdict = Settle(row.facts);
        EXPECT_EQ(verdict.status, row.status);
        EXPECT_EQ(verdict.refund, row.refund);
        ASSERT_EQ(verdict.error.has_value(), row.http_status.has_value());
        if (!verdict.error) continue;
        EXPECT_EQ(base::HttpStatus(verdict.error->code), *row.http_status);
        EXPECT_EQ(base::MachineCode(verdict.error->code), row.code);
        EXPECT_FALSE(verdict.error->detail.empty());
        // The public error says whether the charge came back (the caller adds `balance`).
        EXPECT_EQ(verdict.error->extra["refunded"], row.refund);
    }
}

TEST(Settle, NeverRefundsWhatWasNotCharged) {
    for (const Row& row : Table()) {
        GenerationFacts free = row.facts;
        free.credits_charged = 0;
        EXPECT_FALSE(Settle(free).refund) << row.what;
    }
}

TEST(Settle, UpstreamTextNeverReachesTheClient) {
    GenerationFacts facts = Facts(Ending::kUpstreamFailed, false, 10, Kind::kAuth);
    const Verdict verdict = Settle(facts);
    ASSERT_TRUE(verdict.error);
    EXPECT_EQ(verdict.error->detail, "the AI service failed to answer");
}

TEST(Settle, EveryEndingHasItsReason) {
    EXPECT_EQ(Settle(Facts(Ending::kSucceeded, true, 10)).reason, EndReason::kCompleted);
    EXPECT_EQ(Settle(Facts(Ending::kUpstreamFailed, true, 10)).reason, EndReason::kUpstreamError);
    EXPECT_EQ(Settle(Facts(Ending::kTaskFailed, false, 10)).reason, EndReason::kTaskFailed);
    EXPECT_EQ(Settle(Facts(Ending::kCancelled, true, 10)).reason, EndReason::kCancelled);
    EXPECT_EQ(Settle(Facts(Ending::kWorkerLost, true, 10)).reason, EndReason::kWorkerLost);
    for (EndReason r : {EndReason::kCompleted, EndReason::kUpstreamError, EndReason::kTaskFailed,
                        EndReason::kCancelled, EndReason::kWorkerLost}) {
        EndReason back = EndReason::kCompleted;
        ASSERT_TRUE(FromSql(ToSql(r), &back));
        EXPECT_EQ(back, r);
    }
    EndReason unknown = EndReason::kCompleted;
    EXPECT_FALSE(FromSql("client_gone", &unknown));
}

TEST(CreditsToCharge, MembersPayNothing) {
    EXPECT_EQ(CreditsToCharge(false, 10), 10);
    EXPECT_EQ(CreditsToCharge(true, 10), 0);
    EXPECT_EQ(CreditsToCharge(false, 0), 0);
    EXPECT_EQ(CreditsToCharge(true, 0), 0);
}

}  // namespace
}  // namespace inkstone::lib::generation
