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

}  // namespace inkstone::handlers
