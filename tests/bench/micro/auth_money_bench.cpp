// The per-request token check (everything before the session SELECT: the format check, the
// base64url decode and the SHA-256 that names the session row) and the calendar-month
// arithmetic of memberships. The DB part of authentication is measured by `make bench`.
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "lib/accounts/auth.h"
#include "lib/billing/money.h"

namespace {

using namespace inkstone;

void BM_TokenCheck(benchmark::State& state) {
    const std::string token = lib::accounts::GenerateToken();
    for (auto _ : state) {
        std::optional<std::string> hash = lib::accounts::TokenHashHex(token);
        benchmark::DoNotOptimize(hash);
    }
}
BENCHMARK(BM_TokenCheck);

// A malformed token is rejected before any hashing: what a flood of garbage tokens costs.
void BM_TokenCheckMalformed(benchmark::State& state) {
    std::string token = lib::accounts::GenerateToken();
    token[20] = '!';
    for (auto _ : state) {
        std::optional<std::string> hash = lib::accounts::TokenHashHex(token);
        benchmark::DoNotOptimize(hash);
    }
}
BENCHMARK(BM_TokenCheckMalformed);

void BM_AddCalendarMonths(benchmark::State& state) {
    // Jan 31 2024 08:00:00 UTC: a clamped day (to Feb 29) on the first step.
    const lib::base::TimePoint start{std::chrono::seconds(1706688000)};
    int months = 0;
    for (auto _ : state) {
        lib::base::TimePoint t = lib::billing::AddCalendarMonths(start, months);
        benchmark::DoNotOptimize(t);
        months = months == 12 ? 1 : months + 1;
    }
}
BENCHMARK(BM_AddCalendarMonths);

}  // namespace
