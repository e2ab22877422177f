#pragma once
/// What a worker process runs. The application is built inside each worker after fork (so DB
/// connections are never shared across processes) and lives until the worker exits.
#include <cstddef>
#include <functional>
#include <memory>

#include "lib/base/config.h"
#include "lib/http/message.h"

namespace inkstone::fcgi {

class Application {
  public:
    virtual ~Application() = default;
    /// Called on each request thread before its first request / before it exits.
    virtual void ThreadStarted() {}
    virtual void ThreadStopping() {}
    /// Starts / stops the worker's background jobs (once the threads accept / when draining).
    virtual void StartBackground() {}
    virtual void StopBackground() {}
    /// The worker drains: called when it starts to, and again each time one of its request
    /// threads ends, with the request threads still running (those serving a connection nginx
    /// kept, or a request in flight). The application may free what they no longer need.
    virtual void Draining(int /*threads_left*/) {}
    /// Serves one request. Must not throw: every failure is a response. `body_truncated`
    /// means the body was longer than MaxBodyBytes() and only that much was kept.
    virtual lib::http::Response Serve(lib::http::Request& request, lib::http::StreamWriter& stream,
                                      bool body_truncated) = 0;
    /// The largest body any route accepts; the adapter reads at most this + 1 bytes.
    virtual size_t MaxBodyBytes() const = 0;
};

/// Builds the application in a freshly forked worker. May throw (the worker then exits 1 and
/// the master restarts it with backoff).
using ApplicationFactory = std::function<std::unique_ptr<Application>(const lib::base::Config&)>;

}  // namespace inkstone::fcgi
