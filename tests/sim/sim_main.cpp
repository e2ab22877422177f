// dashscope-sim: the DashScope simulator (README, "DashScope simulator") as a process. Serves on
// 127.0.0.1 until SIGTERM or SIGINT; prints one line when it is ready to accept connections.
#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "lib/base/config.h"
#include "lib/base/log.h"
#include "tests/sim/server.h"

namespace {

inkstone::sim::Server* g_server = nullptr;

void OnStopSignal(int) {
    if (g_server != nullptr) g_server->RequestStop();
}

struct Args {
    inkstone::sim::ServerOptions server;
    std::string log_file;  // "" = stderr
};

[[noreturn]] void Usage(const char* self, const std::string& problem) {
    std::FILE* out = problem.empty() ? stdout : stderr;
    if (!problem.empty()) std::fprintf(out, "%s: %s\n", self, problem.c_str());
    std::fprintf(out,
                 "usage: %s [--port N] [--api-key KEY] [--log FILE] [--task-ms N]\n"
                 "  --port N       listen on 127.0.0.1:N (default 8090; 0 = any free port)\n"
                 "  --api-key KEY  the one key accepted as `Authorization: Bearer KEY`\n"
                 "                 (default sk-inkstone-sim)\n"
                 "  --log FILE     one JSON line per request (default: stderr)\n"
                 "  --task-ms N    image task duration without a task_ms= directive (default "
                 "1000)\n",
                 self);
    std::exit(problem.empty() ? 0 : 2);
}

long ParseNumber(const char* self, const std::string& flag, const std::string& text, long min,
                 long max) {
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || value < min || value > max) {
        Usage(self, flag + " wants a number from " + std::to_string(min) + " to " +
                        std::to_string(max) + ", got '" + text + "'");
    }
    return value;
}

Args ParseArgs(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") Usage(argv[0], "");
        if (i + 1 >= argc) Usage(argv[0], flag + " needs a value");
        const std::string value = argv[++i];
        if (flag == "--port") {
            args.server.port = static_cast<int>(ParseNumber(argv[0], flag, value, 0, 65535));
        } else if (flag == "--api-key") {
            if (value.empty()) Usage(argv[0], "--api-key must not be empty");
            args.server.api_key = value;
        } else if (flag == "--log") {
            args.log_file = value;
        } else if (flag == "--task-ms") {
            args.server.default_task_ms = ParseNumber(argv[0], flag, value, 0, 86400000);
        } else {
            Usage(argv[0], "unknown option " + flag);
        }
    }
    return args;
}

// Thousands of streams need thousands of descriptors; the soft limit is often 1024.
void RaiseDescriptorLimit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        std::fprintf(stderr, "dashscope-sim: getrlimit: %s\n", std::strerror(errno));
        return;
    }
    if (limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        std::fprintf(stderr, "dashscope-sim: setrlimit: %s\n", std::strerror(errno));
    }
}

bool InstallSignalHandlers() {
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    for (int sig : {SIGINT, SIGTERM}) {
        if (sigaction(sig, &action, nullptr) != 0) return false;
    }
    // Writes to a vanished client must fail with EPIPE, not kill the simulator.
    return signal(SIGPIPE, SIG_IGN) != SIG_ERR;
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = ParseArgs(argc, argv);
    try {
        inkstone::lib::base::LogConfig log;
        log.file = args.log_file;
        inkstone::lib::base::LogInit(log);
        RaiseDescriptorLimit();
        inkstone::sim::Server server(args.server);
        g_server = &server;
        if (!InstallSignalHandlers()) {
            std::fprintf(stderr, "dashscope-sim: sigaction: %s\n", std::strerror(errno));
            return 1;
        }
        std::printf("dashscope-sim listening on http://127.0.0.1:%d\n", server.port());
        std::fflush(stdout);
        server.Run();
        g_server = nullptr;
        std::printf("dashscope-sim: stopped\n");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dashscope-sim: %s\n", e.what());
        return 1;
    }
}
