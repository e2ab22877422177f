#pragma once
/// Invariant checks (Envoy's ENVOY_BUG, TigerBeetle's assertions): for conditions that only a
/// bug in inkstone (or a corrupted database) can break, never for input.
///
///     INKSTONE_ASSERT(row.Int("credits") >= 0, "user " + std::to_string(user_id));
///
/// A failed check logs `invariant_violation` (error) with the expression, file:line and the
/// context, counts it (InvariantViolations()), and throws InvariantError. The request loop
/// answers it 500 INTERNAL; the job runner logs and goes on: a worker serving other requests
/// never crashes. Environment failures (the DB down, a file missing) are ServiceError or
/// std::runtime_error, not this. The context is evaluated only when the check fails.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace inkstone::lib::base {

/// Thrown by a failed INKSTONE_ASSERT / INKSTONE_INVARIANT_FAILED, already logged and counted.
struct InvariantError : std::logic_error {
    using std::logic_error::logic_error;
};

/// Logs, counts and throws InvariantError. `expression` and `file` are string literals.
[[noreturn]] void InvariantFailed(const char* expression, const char* file, int line,
                                  std::string_view context);

/// Broken invariants seen by this process since it started (thread-safe).
uint64_t InvariantViolations();

}  // namespace inkstone::lib::base

#define INKSTONE_ASSERT(condition, context)                                                    \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            ::inkstone::lib::base::InvariantFailed(#condition, __FILE__, __LINE__, (context)); \
        }                                                                                      \
    } while (0)

/// For a branch that cannot be reached (an unknown enum value read back from the DB, ...).
#define INKSTONE_INVARIANT_FAILED(context) \
    ::inkstone::lib::base::InvariantFailed("unreachable", __FILE__, __LINE__, (context))
