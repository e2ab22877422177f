#include "tests/harness/process_tree.h"

#include <dirent.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

namespace inkstone::testing {
namespace {

struct StatLine {
    pid_t ppid = 0;
    char state = '?';
};

// /proc/PID/stat is "pid (comm) state ppid ..."; comm may itself contain ") ", so parse from
// the last ')'.
bool ReadStat(pid_t pid, StatLine* out) {
    const std::string text = ReadFile("/proc/" + std::to_string(pid) + "/stat");
    const size_t close = text.rfind(')');
    if (close == std::string::npos || close + 4 > text.size()) return false;
    out->state = text[close + 2];
    out->ppid = static_cast<pid_t>(std::strtol(text.c_str() + close + 4, nullptr, 10));
    return true;
}

std::map<pid_t, std::vector<pid_t>> ChildrenByParent() {
    std::map<pid_t, std::vector<pid_t>> children;
    std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/proc"), closedir);
    if (!dir) return children;
    while (dirent* entry = readdir(dir.get())) {
        char* end = nullptr;
        const long pid = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
        StatLine stat;
        if (!ReadStat(static_cast<pid_t>(pid), &stat) || stat.state == 'Z') continue;
        children[stat.ppid].push_back(static_cast<pid_t>(pid));
    }
    return children;
}

void WaitGone(const std::set<pid_t>& pids, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (pid_t pid : pids) {
        while (Alive(pid) && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
}

void KillAll(const std::set<pid_t>& pids) {
    for (pid_t pid : pids) {
        if (pid > 1 && Alive(pid)) kill(pid, SIGKILL);
    }
}

void Remember(pid_t master, std::set<pid_t>* seen) {
    for (pid_t pid : Descendants(master)) seen->insert(pid);
}

}  // namespace

std::vector<pid_t> Descendants(pid_t pid) {
    std::vector<pid_t> out;
    if (pid <= 0) return out;
    const auto children = ChildrenByParent();
    std::vector<pid_t> frontier{pid};
    while (!frontier.empty()) {
        const pid_t parent = frontier.back();
        frontier.pop_back();
        const auto it = children.find(parent);
        if (it == children.end()) continue;
        for (pid_t child : it->second) {
            out.push_back(child);
            frontier.push_back(child);
        }
    }
    return out;
}

bool Alive(pid_t pid) {
    if (pid <= 0) return false;
    if (kill(pid, 0) != 0 && errno == ESRCH) return false;
    StatLine stat;
    return ReadStat(pid, &stat) && stat.state != 'Z';
}

bool StopTree(Process& process, int first_signal, std::chrono::milliseconds grace) {
    if (!process.running()) return true;
    std::set<pid_t> seen;
    Remember(process.pid(), &seen);
    process.Signal(first_signal);

    const auto deadline = std::chrono::steady_clock::now() + grace;
    bool clean = false;
    for (;;) {
        const pid_t master = process.pid();
        Remember(master, &seen);
        if (process.Wait(std::chrono::milliseconds(50))) {
            clean = true;
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) break;
    }
    if (!clean) {
        Remember(process.pid(), &seen);
        process.Signal(SIGTERM);
        if (!process.Wait(std::chrono::milliseconds(2000))) KillTree(process);
    }
    // A master that exited (cleanly or not) may still leave workers behind.
    KillAll(seen);
    WaitGone(seen, std::chrono::milliseconds(5000));
    return clean;
}

void KillTree(Process& process) {
    if (!process.running()) return;
    // Frozen, the master cannot fork a worker we would miss; once dead, its workers are
    // reparented and no longer findable as its descendants.
    process.Signal(SIGSTOP);
    std::set<pid_t> seen;
    Remember(process.pid(), &seen);
    process.Signal(SIGKILL);
    KillAll(seen);
    process.Stop(std::chrono::milliseconds(0));
    WaitGone(seen, std::chrono::milliseconds(5000));
}

std::string TailFile(const std::string& path, size_t lines) {
    const std::string text = ReadFile(path);
    size_t start = text.size();
    // Skip a trailing newline so it does not count as an empty last line.
    if (start > 0 && text[start - 1] == '\n') --start;
    for (size_t seen = 0; start > 0; --start) {
        if (text[start - 1] == '\n' && ++seen == lines) break;
    }
    return text.substr(start);
}

}  // namespace inkstone::testing
