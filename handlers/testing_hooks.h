#pragma once
/// Test-only endpoints, routed only when `testing.hooks = true` (never in production configs):
/// they let integration tests hold a request in flight to exercise drains, reloads and crashes.
#include "lib/router.h"

namespace inkstone::handlers {

/// GET /api/v1/_test/sleep?ms=N → sleeps N ms (at most 60 000), then 200 {"slept_ms": N}.
class SleepHandler final : public lib::Handler {
public:
    lib::Response Handle(const lib::Request& request, lib::StreamWriter& stream) const override;
};

/// GET /api/v1/_test/stream?events=N&gap_ms=M → an SSE stream of N `tick` events M ms apart,
/// each flushed at once; logs `test_stream_client_gone` with the number sent if the client
/// leaves early (checked between events, as generation does while waiting on upstream).
class StreamHandler final : public lib::Handler {
public:
    lib::Response Handle(const lib::Request& request, lib::StreamWriter& stream) const override;
};

}  // namespace inkstone::handlers
