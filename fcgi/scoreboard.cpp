#include "fcgi/scoreboard.h"

#include <sys/mman.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "lib/base/metrics.h"

namespace inkstone::fcgi {

int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Scoreboard* Scoreboard::Create() {
    void* mem = mmap(nullptr, sizeof(Scoreboard), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        perror("inkstone: mmap scoreboard");
        std::abort();
    }
    static_assert(std::atomic<int64_t>::is_always_lock_free, "shared atomics must be lock-free");
    return new (mem) Scoreboard();
}

WorkerSlot* Scoreboard::Claim(pid_t pid, int32_t gen) {
    for (WorkerSlot& slot : slots) {
        int32_t expected = 0;
        if (slot.pid.compare_exchange_strong(expected, pid)) {
            slot.generation = gen;
            slot.state = static_cast<int32_t>(WorkerState::kStarting);
            slot.threads = 0;
            slot.busy = 0;
            slot.accepted = 0;
            slot.slow = 0;
            slot.started_ms = NowMs();
            return &slot;
        }
    }
    return nullptr;
}

WorkerSlot* Scoreboard::Find(pid_t pid) {
    for (WorkerSlot& slot : slots) {
        if (slot.pid.load() == pid) return &slot;
    }
    return nullptr;
}

void Scoreboard::Release(WorkerSlot* slot) {
    accepted_of_exited += slot->accepted.load();
    slow_of_exited += slot->slow.load();
    slot->state = static_cast<int32_t>(WorkerState::kFree);
    slot->threads = 0;
    slot->busy = 0;
    slot->accepted = 0;
    slot->slow = 0;
    slot->pid = 0;
}

namespace {

const char* StateName(int32_t state) {
    switch (static_cast<WorkerState>(state)) {
        case WorkerState::kStarting:
            return "starting";
        case WorkerState::kReady:
            return "ready";
        case WorkerState::kDraining:
            return "draining";
        case WorkerState::kFree:
            break;
    }
    return "free";
}

}  // namespace

Json::Value Scoreboard::Status(int64_t now_ms) const {
    Json::Value out(Json::objectValue);
    Json::Value workers(Json::arrayValue);
    uint64_t accepted = accepted_of_exited.load();
    uint64_t slow = slow_of_exited.load();
    int64_t busy_total = 0;
    int64_t idle_total = 0;
    for (const WorkerSlot& slot : slots) {
        int32_t pid = slot.pid.load();
        if (pid == 0) continue;
        int32_t threads = slot.threads.load();
        int32_t busy = slot.busy.load();
        int32_t idle = threads > busy ? threads - busy : 0;
        Json::Value w(Json::objectValue);
        w["pid"] = pid;
        w["generation"] = slot.generation.load();
        w["state"] = StateName(slot.state.load());
        w["busy_threads"] = busy;
        w["idle_threads"] = idle;
        w["accepted_requests"] = Json::UInt64(slot.accepted.load());
        w["slow_requests"] = Json::UInt64(slot.slow.load());
        w["uptime_s"] = Json::Int64((now_ms - slot.started_ms.load()) / 1000);
        workers.append(w);
        accepted += slot.accepted.load();
        slow += slot.slow.load();
        busy_total += busy;
        idle_total += idle;
    }
    out["pool"] = "inkstone";
    out["master_pid"] = master_pid.load();
    out["uptime_s"] = Json::Int64((now_ms - started_ms.load()) / 1000);
    out["generation"] = generation.load();
    out["processes"] = workers.size();
    out["busy_threads"] = Json::Int64(busy_total);
    out["idle_threads"] = Json::Int64(idle_total);
    out["accepted_requests"] = Json::UInt64(accepted);
    out["slow_requests"] = Json::UInt64(slow);
    out["restarts"] = Json::UInt64(restarts.load());
    out["recycles"] = Json::UInt64(recycles.load());
    out["reloads"] = Json::UInt64(reloads.load());
    out["workers"] = workers;
    return out;
}

void Scoreboard::AppendMetrics(std::string_view family, std::string& out) const {
    const auto sample = [&out](std::string_view name, std::string_view labels, uint64_t value) {
        lib::base::metrics::AppendSample(out, name, labels, static_cast<double>(value));
    };
    uint64_t accepted = accepted_of_exited.load();
    uint64_t slow = slow_of_exited.load();
    uint64_t busy_total = 0;
    uint64_t idle_total = 0;
    uint64_t by_state[4] = {0, 0, 0, 0};
    for (const WorkerSlot& slot : slots) {
        if (slot.pid.load() == 0) continue;
        const int32_t threads = slot.threads.load();
        const int32_t busy = slot.busy.load();
        busy_total += static_cast<uint64_t>(busy);
        idle_total += static_cast<uint64_t>(threads > busy ? threads - busy : 0);
        accepted += slot.accepted.load();
        slow += slot.slow.load();
        const int32_t state = slot.state.load();
        if (state >= 0 && state < 4) ++by_state[state];
    }
    if (family == "inkstone_pool_threads") {
        sample(family, "state=\"busy\"", busy_total);
        sample(family, "state=\"idle\"", idle_total);
    } else if (family == "inkstone_pool_workers") {
        for (int32_t state : {1, 2, 3}) {
            sample(family, std::string("state=\"") + StateName(state) + "\"", by_state[state]);
        }
    } else if (family == "inkstone_pool_requests_accepted_total") {
        sample(family, "", accepted);
    } else if (family == "inkstone_pool_slow_requests_total") {
        sample(family, "", slow);
    } else if (family == "inkstone_pool_worker_restarts_total") {
        sample(family, "", restarts.load());
    } else if (family == "inkstone_pool_worker_recycles_total") {
        sample(family, "", recycles.load());
    } else if (family == "inkstone_pool_reloads_total") {
        sample(family, "", reloads.load());
    }
}

}  // namespace inkstone::fcgi
