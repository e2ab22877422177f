// `make run`: the whole system in the foreground from a persistent var/ directory, built from
// the same harness classes the integration tests use. Without a QWEN_API_KEY (environment or
// .env) the DashScope simulator stands in for DashScope. Ctrl-C or SIGTERM stops nginx, the
// pool (draining), the simulator and MariaDB, in that order, and exits 0 with nothing left
// running; a component dying on its own stops the rest and exits 1.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <thread>

#include "lib/base/config.h"
#include "tests/harness/process.h"
#include "tests/harness/stack.h"

namespace {

volatile sig_atomic_t g_stop_signal = 0;

void OnStopSignal(int sig) { g_stop_signal = sig; }

struct Args {
    std::string source_dir = ".";
    std::string build_dir = "build/release";
    std::string var_dir = "var";
    int port = 8080;
    int sim_port = 8090;
};

// An empty `problem` is --help: usage on stdout, exit 0.
[[noreturn]] void Usage(const char* self, const std::string& problem) {
    std::FILE* out = problem.empty() ? stdout : stderr;
    if (!problem.empty()) std::fprintf(out, "%s: %s\n", self, problem.c_str());
    std::fprintf(out,
                 "usage: %s [--source-dir DIR] [--build-dir DIR] [--var-dir DIR] [--port N] "
                 "[--sim-port N]\n",
                 self);
    std::exit(problem.empty() ? 0 : 2);
}

int ParsePort(const char* self, const std::string& flag, const std::string& text) {
    char* end = nullptr;
    const long value = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || value < 1 || value > 65535) {
        Usage(self, flag + " wants a port number, got '" + text + "'");
    }
    return static_cast<int>(value);
}

Args ParseArgs(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") Usage(argv[0], "");
        if (i + 1 >= argc) Usage(argv[0], flag + " needs a value");
        const std::string value = argv[++i];
        if (flag == "--source-dir") {
            args.source_dir = value;
        } else if (flag == "--build-dir") {
            args.build_dir = value;
        } else if (flag == "--var-dir") {
            args.var_dir = value;
        } else if (flag == "--port") {
            args.port = ParsePort(argv[0], flag, value);
        } else if (flag == "--sim-port") {
            args.sim_port = ParsePort(argv[0], flag, value);
        } else {
            Usage(argv[0], "unknown option " + flag);
        }
    }
    return args;
}

std::string Absolute(const std::string& path) {
    std::string out = std::filesystem::absolute(path).lexically_normal().string();
    // "./" normalises to "/abs/dir/"; keep paths printable and joinable with "/".
    if (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

void InstallSignalHandlers() {
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        if (sigaction(sig, &action, nullptr) != 0) {
            std::perror("sigaction");
            std::exit(1);
        }
    }
    // A closed terminal must not kill the driver halfway through a log line.
    signal(SIGPIPE, SIG_IGN);
}

// The key and base URL the pool will see: its own reading of .env and the environment (the
// generated inkstone.conf sets neither unless the simulator is used).
inkstone::lib::base::QwenConfig UpstreamConfig(const Args& args) {
    inkstone::lib::base::ConfigSources sources;
    sources.dotenv_path = Absolute(args.source_dir) + "/.env";
    sources.env = inkstone::lib::base::ProcessEnvironment();
    return inkstone::lib::base::LoadConfig(sources).qwen;
}

void PrintBanner(inkstone::testing::Stack& stack, const Args& args,
                 const inkstone::lib::base::QwenConfig& upstream, bool simulated) {
    const std::string url = stack.base_url();
    const std::string dashscope =
        simulated ? "simulator at http://127.0.0.1:" + std::to_string(stack.sim_port()) +
                        "  (counters: /_sim/stats)"
                  : upstream.base_url + "  (QWEN_API_KEY set)";
    std::printf(
        "\ninkstone is running (Ctrl-C stops everything)\n"
        "  Web app:      %s/\n"
        "  API:          %s/api/v1/\n"
        "  health:       %s/api/v1/health\n"
        "  status page:  %s%s   (loopback only)\n"
        "  DashScope:    %s\n"
        "  MariaDB:      127.0.0.1:%d, socket %s (data kept in %s)\n"
        "  config:       %s (generated; .env in %s overrides it)\n"
        "logs:\n%s\n",
        url.c_str(), url.c_str(), url.c_str(), url.c_str(), stack.pool().status_path().c_str(),
        dashscope.c_str(), stack.db().port(), stack.db().socket().c_str(), stack.db().dir().c_str(),
        stack.pool().config_path().c_str(), Absolute(args.source_dir).c_str(),
        stack.LogLocations().c_str());
    std::fflush(stdout);
}

int Run(const Args& args) {
    if (inkstone::testing::WaitForPort(args.port, std::chrono::milliseconds(0))) {
        std::fprintf(stderr,
                     "inkstone: 127.0.0.1:%d is already in use; stop what listens there or pick "
                     "another port (make run PORT=...)\n",
                     args.port);
        return 1;
    }

    inkstone::lib::base::QwenConfig upstream;
    try {
        upstream = UpstreamConfig(args);
    } catch (const inkstone::lib::base::ConfigError& e) {
        std::fprintf(stderr, "inkstone: %s\n", e.what());
        return 1;
    }
    const bool simulated = upstream.api_key.empty();
    if (simulated && inkstone::testing::WaitForPort(args.sim_port, std::chrono::milliseconds(0))) {
        std::fprintf(stderr,
                     "inkstone: 127.0.0.1:%d (the DashScope simulator's port) is already in use; "
                     "stop what listens there or pick another port (make run SIM_PORT=...)\n",
                     args.sim_port);
        return 1;
    }

    inkstone::testing::StackOptions options;
    options.with_simulator = simulated;
    options.sim_port = args.sim_port;
    options.dir = Absolute(args.var_dir);
    options.port = args.port;
    options.workers = 0;  // one per core, the pool's own default
    options.threads = 32;
    options.graceful_timeout_s = 10;
    options.working_dir = Absolute(args.source_dir);  // where the pool reads .env
    options.source_dir = Absolute(args.source_dir);
    options.binary_dir = Absolute(args.build_dir);
    // A development stack on 127.0.0.1: orders are paid with the mock route (payment.mode has
    // no default; `.env` may still say live).
    options.config["payment.mode"] = "mock";
    // nginx's login / registration limit as production renders it (nginx/*.conf.in).
    options.auth_rate = "10r/s";
    options.auth_burst = 20;

    inkstone::testing::Stack stack(options);
    if (simulated) {
        std::printf("no QWEN_API_KEY: using the DashScope simulator at http://127.0.0.1:%d\n",
                    args.sim_port);
    } else {
        std::printf("QWEN_API_KEY is set: using DashScope at %s\n", upstream.base_url.c_str());
    }
    std::printf("inkstone: starting MariaDB, migrations, %sthe pool and nginx under %s ...\n",
                simulated ? "the simulator, " : "", stack.dir().c_str());
    std::fflush(stdout);
    try {
        stack.Start();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "inkstone: failed to start:\n%s\n", e.what());
        return 1;
    }
    PrintBanner(stack, args, upstream, simulated);

    while (g_stop_signal == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const std::string dead = stack.DeadComponent();
        if (dead.empty() || g_stop_signal != 0) continue;
        std::fprintf(stderr, "\ninkstone: %s exited unexpectedly; its last log lines:\n%s\n",
                     dead.c_str(), stack.LogTail(dead).c_str());
        std::fprintf(stderr, "inkstone: stopping the rest\n");
        stack.Stop(std::chrono::seconds(5));
        return 1;
    }

    std::printf("\ninkstone: %s, stopping nginx, the pool, %sMariaDB ...\n",
                strsignal(g_stop_signal), simulated ? "the simulator and " : "");
    std::fflush(stdout);
    stack.Stop(std::chrono::seconds(5));
    std::printf("inkstone: stopped\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = ParseArgs(argc, argv);
    InstallSignalHandlers();
    try {
        return Run(args);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "inkstone: %s\n", e.what());
        return 1;
    }
}
