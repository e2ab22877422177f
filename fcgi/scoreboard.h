#pragma once
/// The pool's shared scoreboard: one anonymous shared mapping created by the master before it
/// forks, written by workers with lock-free atomics, read by any worker to render the status
/// page (like php-fpm's scoreboard). Counters of exited workers are folded into the totals so
/// `accepted` and `slow_requests` count since the pool started.
#include <json/value.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace inkstone::fcgi {

enum class WorkerState : int32_t { kFree = 0, kStarting, kReady, kDraining };

struct WorkerSlot {
    std::atomic<int32_t> pid{0};
    std::atomic<int32_t> generation{0};
    std::atomic<int32_t> state{0};
    std::atomic<int32_t> threads{0};  ///< request threads running
    std::atomic<int32_t> busy{0};     ///< threads inside a request
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> slow{0};
    std::atomic<int64_t> started_ms{0};
};

struct Scoreboard {
    static constexpr int kSlots = 512;

    std::atomic<int32_t> master_pid{0};
    std::atomic<int64_t> started_ms{0};
    std::atomic<int32_t> generation{0};
    std::atomic<uint64_t> restarts{0};  ///< workers that died unexpectedly and were replaced
    std::atomic<uint64_t> recycles{0};  ///< workers retired after max_requests
    std::atomic<uint64_t> reloads{0};   ///< SIGHUP reloads
    std::atomic<uint64_t> accepted_of_exited{0};
    std::atomic<uint64_t> slow_of_exited{0};
    WorkerSlot slots[kSlots];

    /// Maps a zeroed shared region (MAP_SHARED|MAP_ANONYMOUS). Aborts on failure (startup only).
    static Scoreboard* Create();

    /// A free slot claimed for `pid`, or nullptr when all are taken.
    WorkerSlot* Claim(pid_t pid, int32_t generation);
    WorkerSlot* Find(pid_t pid);
    /// Folds the slot's counters into the totals and frees it.
    void Release(WorkerSlot* slot);

    /// The status page body.
    Json::Value Status(int64_t now_ms) const;

    /// The pool's families for /metrics (lib/base/metrics.h ScrapeHook): appends the sample
    /// lines of `family` when it is one of the scoreboard's (inkstone_pool_*).
    void AppendMetrics(std::string_view family, std::string& out) const;
};

/// Milliseconds since the epoch (wall clock), for the status page.
int64_t NowMs();

}  // namespace inkstone::fcgi
