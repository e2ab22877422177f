#pragma once
/// The process manager, after nginx's master loop: the master binds the FastCGI socket, forks
/// `fcgi.workers` worker processes (each running `fcgi.threads` threads on FCGX_Accept_r) and
/// supervises them. Signals only set state that the loop acts on:
///   SIGTERM/SIGINT  fast exit: workers are told to exit now, SIGKILLed after 3 s;
///   SIGQUIT         graceful: stop accepting, finish in-flight requests, SIGKILL after
///                   `fcgi.graceful_timeout_s`;
///   SIGHUP          reload the config, start a new generation of workers, then drain the old
///                   one once the new one is ready (the socket never closes: nothing is refused);
///   SIGUSR1         reopen log files (master and workers).
/// A worker that dies unexpectedly is replaced (immediately the first time, then with
/// exponential backoff while it keeps dying young); a worker that reached `fcgi.max_requests`
/// retires gracefully and is replaced before it stops accepting.
/// Under systemd (Type=notify, packaging/inkstone.service) the master reports READY=1 once every
/// worker of the current generation accepts (at start, and after a reload: RELOADING=1 first)
/// and STOPPING=1 when a shutdown begins; without NOTIFY_SOCKET nothing is sent.
#include <functional>
#include <string>

#include "fcgi/application.h"
#include "lib/base/config.h"

namespace inkstone::fcgi {

/// Binds the listening socket: a unix socket path (a stale socket file is replaced; a live one
/// is an error) or `host:port` for TCP. Returns the fd or throws std::runtime_error.
int BindListener(const std::string& listen, int backlog);

/// Runs the master until shutdown; returns the process exit code. `reload` re-reads the
/// configuration on SIGHUP (a ConfigError keeps the running config).
int RunPool(lib::base::Config config, std::function<lib::base::Config()> reload,
            ApplicationFactory factory);

}  // namespace inkstone::fcgi
