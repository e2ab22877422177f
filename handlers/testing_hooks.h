#pragma once
/// Test-only endpoints, routed only when `testing.hooks = true` (never in production configs):
/// they let integration tests hold a request in flight to exercise drains, reloads and crashes,
/// drive the wallet's charge primitive before generation exists, and run background jobs now.
#include <functional>
#include <vector>

#include "lib/base/jobs.h"
#include "lib/billing/wallet.h"
#include "lib/http/router.h"

namespace inkstone::handlers {

/// GET /api/v1/_test/sleep?ms=N → sleeps N ms (at most 60 000), then 200 {"slept_ms": N}.
class SleepHandler final : public lib::http::Handler {
  public:
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;
};

/// GET /api/v1/_test/stream?events=N&gap_ms=M → an SSE stream of N `tick` events M ms apart,
/// each flushed at once; logs `test_stream_client_gone` with the number sent if the client
/// leaves early (checked between events, as generation does while waiting on upstream).
class StreamHandler final : public lib::http::Handler {
  public:
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;
};

/// POST /api/v1/_test/credit/charge `{"credits", "description"?}` (Auth::kUser) → 201
/// `{"charge_id", "balance"}` via Wallet::Charge on the caller, or its 402
/// INSUFFICIENT_CREDITS. It takes no ids: a charge is always the caller's own.
class TestChargeHandler final : public lib::http::Handler {
  public:
    explicit TestChargeHandler(const lib::billing::Wallet& wallet) : wallet_(wallet) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::billing::Wallet& wallet_;
};

/// POST /api/v1/_test/credit/refund `{"charge_id"}` (Auth::kUser) → 200 `{"refunded": bool}`
/// via Wallet::Refund (true only for the call that refunded it); 404 for an unknown charge and
/// for another user's (the same answer, as for orders).
class TestRefundHandler final : public lib::http::Handler {
  public:
    explicit TestRefundHandler(const lib::billing::Wallet& wallet) : wallet_(wallet) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const lib::billing::Wallet& wallet_;
};

/// POST /api/v1/_test/run-jobs → runs every background job once, now, on this request's thread
/// → 200 `{"ran": [job names]}`. A failing job fails the request (500), unlike in the runner.
class RunJobsHandler final : public lib::http::Handler {
  public:
    explicit RunJobsHandler(std::function<std::vector<lib::base::Job>()> jobs)
        : jobs_(std::move(jobs)) {}
    lib::http::Response Handle(const lib::http::Request& request,
                               lib::http::StreamWriter& stream) const override;

  private:
    const std::function<std::vector<lib::base::Job>()> jobs_;
};

}  // namespace inkstone::handlers
