#pragma once
/// The DashScope simulator's HTTP/1.1 server (README, "DashScope simulator").
///
/// Concurrency: one thread runs one level-triggered epoll loop with a timer heap; every
/// connection is a small state machine (reading a request, waiting to reply, streaming,
/// hanging). A stream sleeping between tokens costs a heap entry and a few hundred bytes, not a
/// thread, so thousands of slow streams fit in a few MB, and a client hanging up is seen at
/// once (EPOLLRDHUP) even mid-delay. Keep-alive, pipelined requests, `Expect: 100-continue`,
/// Content-Length and chunked request bodies are handled; streams go out chunked (HTTP/1.1) or
/// until close (HTTP/1.0). One JSON log line per request (lib/log.h) without credentials.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace inkstone::sim {

struct ServerOptions {
    int port = 8090;  ///< on 127.0.0.1; 0 = one the kernel picks (see Server::port())
    std::string api_key = "sk-inkstone-sim";  ///< the only key `Authorization: Bearer` accepts
    int backlog = 4096;
    std::chrono::milliseconds idle_timeout{120000};  ///< an idle keep-alive connection closes
    int64_t default_task_ms = 1000;                  ///< image task duration without task_ms=
};

class Server {
  public:
    /// Binds 127.0.0.1:port and listens. Throws std::system_error (port in use, ...).
    explicit Server(ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// The bound port.
    int port() const;
    /// Serves until RequestStop(), then closes every connection and returns. Call from one
    /// thread. Throws std::system_error when epoll itself fails.
    void Run();
    /// Makes Run() return soon. Async-signal-safe (one write(2) on an eventfd); any thread.
    void RequestStop();

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace inkstone::sim
