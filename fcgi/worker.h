#pragma once
/// One worker process: `threads` request threads on FCGX_Accept_r, a main thread that waits
/// for signals. Runs in the child right after fork and never returns.
#include <csignal>

#include "fcgi/application.h"
#include "fcgi/scoreboard.h"
#include "lib/base/config.h"

namespace inkstone::fcgi {

/// Exit codes the master understands.
inline constexpr int kWorkerExitOk = 0;       ///< drained on request or retired
inline constexpr int kWorkerExitStartup = 3;  ///< the application could not be built

/// Master → worker: stop accepting and retire once the requests in flight end (after a
/// reload). Unlike SIGQUIT (shutdown), it waits out generations up to the upstream timeout.
inline constexpr int kSignalRetire = SIGWINCH;

[[noreturn]] void RunWorker(int listen_fd, const lib::base::Config& config, Scoreboard* board,
                            WorkerSlot* slot, const ApplicationFactory& factory);

}  // namespace inkstone::fcgi
