#pragma once
/// Whole process trees, for servers whose master forks workers (nginx, the inkstone pool):
/// SIGKILL on a master does not reach its workers, and orphaned nginx workers keep serving on
/// the listening port, so a hard stop has to collect and kill the descendants itself.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace inkstone::testing {

/// Living descendants of `pid` (from /proc), parents before their children. Zombies are
/// skipped. Empty when `pid` is not running.
std::vector<pid_t> Descendants(pid_t pid);

/// True while `pid` exists and is not a zombie (orphans are reparented to a PID 1 that may
/// never reap them, so a zombie counts as gone).
bool Alive(pid_t pid);

/// Asks `process` to stop with `first_signal` and waits up to `grace`; then SIGTERM and a
/// short wait; then SIGKILL to the master and to every descendant seen along the way, and
/// waits until all of them are gone. No-op when not running. Returns true if the process
/// exited within `grace` after `first_signal` (a clean stop).
bool StopTree(Process& process, int first_signal, std::chrono::milliseconds grace);

/// SIGKILL to the master and all its descendants at once (a crash); waits until all are gone.
void KillTree(Process& process);

/// The last `lines` lines of the file at `path` ("" when it does not exist), for failure
/// messages that point at a server's log.
std::string TailFile(const std::string& path, size_t lines);

}  // namespace inkstone::testing
