#pragma once
/// Child processes for the test harness and `make run`: started with their own stdout/stderr
/// log file, killed with SIGKILL when this process dies (PR_SET_PDEATHSIG), never left behind.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace inkstone::testing {

class Process {
  public:
    Process() = default;
    /// Starts argv[0] (searched in PATH when it has no '/'), stdout+stderr appended to `log_path`
    /// ("" = inherit). `env` entries are added to / override this process's environment.
    Process(std::vector<std::string> argv, std::string log_path,
            std::map<std::string, std::string> env = {});
    ~Process();  ///< Stop() if still running.
    Process(Process&&) noexcept;
    Process& operator=(Process&&) noexcept;

    pid_t pid() const { return pid_; }
    bool running();
    /// Sends `sig`; no-op if not running.
    void Signal(int sig);
    /// Waits up to `timeout` for exit; returns true if it exited (reaped). Exit status in status().
    bool Wait(std::chrono::milliseconds timeout);
    /// SIGTERM, wait up to `grace`, then SIGKILL and reap.
    void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
    int status() const { return status_; }

  private:
    pid_t pid_ = -1;
    int status_ = 0;
};

/// A free TCP port on 127.0.0.1 (bind to 0, read it back, close).
int FreePort();
/// Polls until `host:port` accepts a TCP connection or `timeout` passes.
bool WaitForPort(int port, std::chrono::milliseconds timeout);
/// Creates a fresh directory under $TMPDIR (or /tmp), mode 0755 so nginx/mariadb workers can enter.
std::string MakeTempDir(const std::string& prefix);
/// rm -rf
void RemoveTree(const std::string& path);
/// Reads a whole file ("" if missing).
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

}  // namespace inkstone::testing
