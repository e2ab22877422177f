// inkstone-bench: `make bench` (README, "Performance"). Starts a private stack (MariaDB, the
// DashScope simulator, the pool, nginx) like the integration tests, measures inkstone and
// its baselines in one run, and prints one table (also written as JSON).
//
//   inkstone-bench [--json PATH] [--seconds N] [--rounds N] [--connections N] [--streams N]
//                  [--keepalive N] [--no-keepalive-compare] [--no-micro] [--quick] [--strict]
//                  [--only balance|generate|streams]
//
// Every figure is a ratio to a baseline measured in the same run on the same machine: the
// machine is shared and noisy, absolute numbers are not comparable between runs. Exits 0 once
// the table is printed (missed targets are FAIL rows), 1 with --strict when a target is
// missed, 2 when the run itself failed (the stack's directory is then kept for its logs).
#include <json/reader.h>
#include <json/writer.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lib/accounts/auth.h"
#include "tests/bench/load.h"
#include "tests/bench/report.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/process.h"
#include "tests/harness/process_tree.h"
#include "tests/harness/stack.h"

namespace {

using namespace inkstone;
using bench::Number;
using bench::Row;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kSeedCredits = 100000000;  // never runs out: a 402 would skew the rates
constexpr int64_t kCost = 10;                // credit.cost_per_generation (the default)
constexpr const char* kBalancePath = "/api/v1/credit/balance";
constexpr const char* kCeilingPath = "/bench/ceiling";
constexpr const char* kGeneratePath = "/api/v1/writing/generate";

struct Options {
    std::string json_path = "build/bench.json";
    int seconds = 6;       ///< each measured run
    int rounds = 3;        ///< alternations of a scenario with its baseline
    int connections = 16;  ///< wrk connections = db-charge-bench threads
    /// wrk connections of the balance comparison (the floor, php-fpm and inkstone at each).
    std::vector<int> balance_connections = {16, 64};
    int workers = 2;        ///< pool processes
    int threads = 16;       ///< request threads per worker (request/response scenarios)
    int users = 2000;       ///< seeded users (spread scenarios use all of them)
    size_t streams = 2000;  ///< the last streaming step
    std::vector<size_t> stream_steps = {500, 1000, 2000};
    double ramp_per_second = 400;
    int keepalive = 0;  ///< `keepalive` when the experiment turns it on; 0 = half the threads
    bool compare_keepalive = true;  ///< also measure floor and balance with keepalive flipped
    bool micro = true;
    bool strict = false;  ///< exit 1 when a target is missed (for a regression gate)
    std::string only;     ///< "" = everything; else one of balance, generate, streams
    std::string command;
};

[[noreturn]] void Usage() {
    std::fprintf(stderr,
                 "usage: inkstone-bench [--json PATH] [--seconds N] [--rounds N] [--connections N] "
                 "[--streams N] [--keepalive N] [--no-keepalive-compare] [--no-micro]\n"
                 "                      [--quick] [--strict]\n"
                 "                      [--only balance|generate|streams]\n");
    std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
    Options o;
    for (int i = 0; i < argc; ++i) o.command += (i ? " " : "") + std::string(argv[i]);
    const auto value = [&](int& i) -> std::string {
        if (i + 1 >= argc) Usage();
        return argv[++i];
    };
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--json") {
            o.json_path = value(i);
        } else if (arg == "--seconds") {
            o.seconds = std::stoi(value(i));
        } else if (arg == "--rounds") {
            o.rounds = std::stoi(value(i));
        } else if (arg == "--connections") {
            o.connections = std::stoi(value(i));
            o.balance_connections = {o.connections};
        } else if (arg == "--streams") {
            o.streams = std::stoul(value(i));
        } else if (arg == "--keepalive") {
            o.keepalive = std::stoi(value(i));
        } else if (arg == "--only") {
            o.only = value(i);
            o.micro = false;
        } else if (arg == "--strict") {
            o.strict = true;
        } else if (arg == "--no-micro") {
            o.micro = false;
        } else if (arg == "--no-keepalive-compare") {
            o.compare_keepalive = false;
        } else if (arg == "--quick") {
            o.seconds = 3;
            o.rounds = 1;
            o.compare_keepalive = false;
        } else {
            Usage();
        }
    }
    if (o.seconds < 1 || o.rounds < 1 || o.connections < 1 || o.streams < 1) Usage();
    o.stream_steps.clear();
    for (size_t step : {o.streams / 4, o.streams / 2, o.streams}) {
        if (step > 0 && (o.stream_steps.empty() || step > o.stream_steps.back())) {
            o.stream_steps.push_back(step);
        }
    }
    return o;
}

std::string BinaryDir() { return INKSTONE_BINARY_DIR; }
std::string WrkScript(const std::string& name) {
    return std::string(INKSTONE_SOURCE_DIR) + "/tests/bench/wrk/" + name;
}

void Say(const std::string& text) {
    std::fprintf(stderr, "[bench] %s\n", text.c_str());
    std::fflush(stderr);
}

std::string Fixed(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

Row MakeRow(std::string scenario, std::optional<double> per_second = std::nullopt,
            std::optional<double> p50_ms = std::nullopt,
            std::optional<double> p99_ms = std::nullopt) {
    Row row;
    row.scenario = std::move(scenario);
    row.per_second = per_second;
    row.p50_ms = p50_ms;
    row.p99_ms = p99_ms;
    return row;
}

std::string Mib(int64_t bytes) {
    return Number(static_cast<double>(bytes) / 1048576.0, 0) + " MiB";
}

// ---- the machine ----

Json::Value Machine() {
    Json::Value m(Json::objectValue);
    m["nproc"] = static_cast<Json::Int>(sysconf(_SC_NPROCESSORS_ONLN));
    std::ifstream cpu("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpu, line)) {
        if (line.rfind("model name", 0) == 0) {
            m["cpu"] = line.substr(line.find(':') + 2);
            break;
        }
    }
    std::ifstream mem("/proc/meminfo");
    while (std::getline(mem, line)) {
        if (line.rfind("MemTotal:", 0) == 0) {
            m["memory_gib"] = std::atof(line.c_str() + 9) / 1048576.0;
            break;
        }
    }
    return m;
}

std::string Today() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

// ---- micro benchmarks ----

/// Runs the Google Benchmark binary (its console table goes to the terminal) and adds the key
/// figures to the report.
void RunMicro(const Options& o, bench::Report& report) {
    const std::string json = o.json_path + ".micro.json";
    const std::string command = BinaryDir() + "/tests/inkstone_micro_bench" +
                                " --benchmark_min_time=0.2 --benchmark_out_format=json" +
                                " --benchmark_out=" + json + " 1>&2";
    Say("micro benchmarks: " + command);
    if (std::system(command.c_str()) != 0) throw std::runtime_error("micro benchmarks failed");
    std::ifstream in(json);
    Json::Value root;
    Json::CharReaderBuilder builder;
    std::string errors;
    if (!Json::parseFromStream(builder, in, &root, &errors)) {
        throw std::runtime_error("cannot read " + json + ": " + errors);
    }
    std::map<std::string, Json::Value> by_name;
    for (const Json::Value& b : root["benchmarks"]) by_name[b["name"].asString()] = b;
    const auto ns = [&](const std::string& name) {
        const Json::Value& b = by_name.at(name);
        const std::string unit = b["time_unit"].asString();
        const double scale = unit == "ns" ? 1 : unit == "us" ? 1e3 : unit == "ms" ? 1e6 : 1e9;
        return b["real_time"].asDouble() * scale;
    };
    const auto mb_per_s = [&](const std::string& name) {
        return by_name.at(name)["bytes_per_second"].asDouble() / 1e6;
    };
    const auto has = [&](const std::string& name) { return by_name.count(name) != 0; };

    for (const auto& [name, label] :
         {std::pair<std::string, std::string>{"BM_DashScopeStreamDecode/16384",
                                              "micro: SSE parser, DashScope decode, 16 KiB reads"},
          {"BM_DashScopeStreamDecode/1024", "micro: SSE parser, DashScope decode, 1 KiB reads"},
          {"BM_DashScopeStreamDecode/64", "micro: SSE parser, DashScope decode, 64 B reads"}}) {
        if (!has(name)) continue;
        const double mbs = mb_per_s(name);
        Row row;
        row.scenario = label;
        row.ratio = Number(mbs, 0) + " MB/s";
        row.target = ">= 300 MB/s";
        row.pass = mbs >= 300;
        report.Add(row);
    }
    for (const auto& [name, label] :
         {std::pair<std::string, std::string>{"BM_RouterLiteral", "micro: router lookup, literal"},
          {"BM_RouterWithParameter", "micro: router lookup, with {param}"},
          {"BM_RouterNotFound", "micro: router lookup, not found"}}) {
        if (!has(name)) continue;
        const double value = ns(name);
        Row row;
        row.scenario = label;
        row.ratio = Number(value, 0) + " ns";
        row.target = "<= 200 ns";
        row.pass = value <= 200;
        report.Add(row);
    }
    for (const auto& [name, label] :
         {std::pair<std::string, std::string>{"BM_TokenCheck",
                                              "micro: token check (format + SHA-256)"},
          {"BM_TokenCheckMalformed", "micro: token check, malformed token"},
          {"BM_AddCalendarMonths", "micro: AddCalendarMonths"},
          {"BM_JsonParseGenerateBody", "micro: JSON parse, generate body"},
          {"BM_JsonEncodeBalance", "micro: JSON encode, balance body"},
          {"BM_SseEncodeDelta", "micro: SSE encode, one delta"}}) {
        if (!has(name)) continue;
        Row row;
        row.scenario = label;
        row.ratio = Number(ns(name), 0) + " ns";
        report.Add(row);
    }
}

// ---- users ----

struct Users {
    int64_t first_id = 0;
    std::vector<std::string> tokens;  ///< tokens[i] belongs to user first_id + i
    std::string all_file;             ///< every token, one per line
    std::string hot_file;             ///< the first user's token only
};

/// Users straight into the database (registering through the API would spend ~40 ms of
/// argon2id per user): each with a live token (its SHA-256 stored, as auth.cpp expects) and
/// kSeedCredits as one ADMIN_ADJUST ledger row, so every ledger invariant holds from the start.
Users SeedUsers(testing::MariaDb& db, int count, const std::string& dir) {
    Users users;
    const auto max_id = db.Query("SELECT COALESCE(MAX(id), 0) FROM inkstone.users");
    users.first_id = std::stoll(max_id.at(0).at(0)) + 1;
    const std::string now = "UTC_TIMESTAMP(6)";
    constexpr int kBatch = 500;
    for (int start = 0; start < count; start += kBatch) {
        std::string u =
            "INSERT INTO inkstone.users (id, username, password_hash, credits, "
            "ledger_seq, created_at, updated_at) VALUES ";
        std::string t =
            "INSERT INTO inkstone.auth_tokens (token_hash, user_id, created_at, "
            "expires_at) VALUES ";
        std::string l =
            "INSERT INTO inkstone.credit_transactions (user_id, seq, type, amount, "
            "balance_after, description, created_at) VALUES ";
        for (int i = start; i < std::min(count, start + kBatch); ++i) {
            const int64_t id = users.first_id + i;
            const std::string token = lib::accounts::GenerateToken();
            const std::string hash = *lib::accounts::TokenHashHex(token);
            users.tokens.push_back(token);
            const std::string sep = i == start ? "" : ",";
            // Nobody logs in as these users: the password hash is a placeholder no password
            // matches (VerifyPassword rejects a malformed hash).
            u += sep + "(" + std::to_string(id) + ",'bench" + std::to_string(id) +
                 "','!bench-no-login'," + std::to_string(kSeedCredits) + ",1," + now + "," + now +
                 ")";
            t += sep + "(UNHEX('" + hash + "')," + std::to_string(id) + "," + now + "," + now +
                 " + INTERVAL 1 DAY)";
            l += sep + "(" + std::to_string(id) + ",1,'ADMIN_ADJUST'," +
                 std::to_string(kSeedCredits) + "," + std::to_string(kSeedCredits) +
                 ",'bench seed'," + now + ")";
        }
        db.Exec(u);
        db.Exec(t);
        db.Exec(l);
    }
    users.all_file = dir + "/tokens-all.txt";
    users.hot_file = dir + "/tokens-hot.txt";
    std::string all;
    for (const std::string& token : users.tokens) all += token + "\n";
    testing::WriteFile(users.all_file, all);
    testing::WriteFile(users.hot_file, users.tokens.front() + "\n");
    return users;
}

// ---- phases ----

double Median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/// The runs of one scenario, alternated with its baseline's: the machine is shared, so a load
/// change hits both sides of a round alike, and the median round speaks for the scenario.
struct Series {
    std::vector<double> per_second, p50_ms, p99_ms;
    int64_t requests = 0;
    int64_t errors = 0;
    int64_t ok = 0;

    void Add(const bench::WrkResult& r) {
        Add(r.per_second(), r.p50_ms, r.p99_ms);
        requests += r.requests;
        errors += r.errors;
        ok += r.ok();
    }
    void Add(double rps, double p50, double p99) {
        per_second.push_back(rps);
        p50_ms.push_back(p50);
        p99_ms.push_back(p99);
    }
    Row ToRow(const std::string& scenario) const {
        Row row;
        row.scenario = scenario;
        row.per_second = Median(per_second);
        row.p50_ms = Median(p50_ms);
        row.p99_ms = Median(p99_ms);
        return row;
    }
};

/// Median over rounds of `a[i] / b[i]`.
double MedianRatio(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> ratios;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        if (b[i] > 0) ratios.push_back(a[i] / b[i]);
    }
    return Median(ratios);
}

std::string Rounds(const std::vector<double>& values, int decimals) {
    std::string out;
    for (double v : values) out += (out.empty() ? "" : " / ") + Fixed(v, decimals);
    return out;
}

struct Bench {
    Options o;
    testing::Stack* stack = nullptr;
    Users users;
    std::string dir;  ///< logs of this run
    bench::Report report;
    Json::Value settings{Json::objectValue};

    std::string Url(const std::string& path) const { return stack->base_url() + path; }

    bench::WrkOptions Wrk(const std::string& name, const std::string& path,
                          const std::string& tokens_file, const std::string& method = "GET",
                          const std::string& body = "", int connections = 0) const {
        bench::WrkOptions w;
        w.url = Url(path);
        w.connections = connections > 0 ? connections : o.connections;
        w.duration = seconds(o.seconds);
        w.log_path = dir + "/wrk-" + name + ".log";
        if (tokens_file.empty()) {
            w.script = WrkScript("plain.lua");
        } else {
            w.script = WrkScript("auth.lua");
            w.script_args = {tokens_file, method, path};
            if (!body.empty()) w.script_args.push_back(body);
        }
        return w;
    }

    /// A short unmeasured run first (connections, caches, the pool's lazy DB connections),
    /// then the measured one.
    bench::WrkResult Measure(const bench::WrkOptions& w) {
        WarmUp(w);
        return MeasureOnly(w);
    }

    void WarmUp(const bench::WrkOptions& w) const {
        bench::WrkOptions warm = w;
        warm.duration = seconds(1);
        warm.log_path = w.log_path + ".warmup";
        bench::RunWrk(warm);
    }

    bench::WrkResult MeasureOnly(const bench::WrkOptions& w) {
        Say("measuring " + w.url + " for " + std::to_string(o.seconds) + " s, " +
            std::to_string(w.connections) + " connections");
        const bench::WrkResult r = bench::RunWrk(w);
        Say("  " + Number(r.per_second()) + " req/s, p50 " + Fixed(r.p50_ms, 2) + " ms, p99 " +
            Fixed(r.p99_ms, 2) + " ms, errors " + std::to_string(r.errors));
        return r;
    }

    int TotalThreads() const { return o.workers * o.threads; }

    testing::HttpResponse Balance(const std::string& token) const {
        return stack->client().Get(kBalancePath, {{"Authorization", "Bearer " + token}});
    }

    // A peer (the floor, php-fpm) on the pool's own socket, behind the very same nginx
    // location and upstream block (the pool is stopped meanwhile), so nginx cannot tell them
    // apart and the comparison measures only what the application does per request.
    bench::WrkResult Peer(const std::string& name, const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env, const std::string& label,
                          int connections) {
        testing::AppPool& pool = stack->pool();
        pool.Stop();
        const std::string socket = pool.listen();
        unlink(socket.c_str());
        testing::Process peer(argv, dir + "/" + name + ".log", env);
        WaitForUnixSocket(socket, peer);
        // The peer must answer exactly what inkstone answers, or it is not the same work.
        const testing::HttpResponse answer = Balance(users.tokens[1]);
        if (answer.status != 200 || answer.body != balance_body) {
            throw std::runtime_error(name + " answered " + std::to_string(answer.status) + " " +
                                     answer.body + ", inkstone " + balance_body);
        }
        const bench::WrkOptions w =
            Wrk(name + label, kBalancePath, users.all_file, "GET", "", connections);
        WarmUp(w);
        const double cpu = bench::MeasureTree(peer.pid()).cpu_seconds;
        const bench::WrkResult r = MeasureOnly(w);
        last_cpu_us_per_request = (bench::MeasureTree(peer.pid()).cpu_seconds - cpu) * 1e6 /
                                  std::max<int64_t>(1, r.requests);
        peer.Stop(milliseconds(3000));
        unlink(socket.c_str());
        pool.Start();
        return r;
    }

    bench::WrkResult Floor(const std::string& label, int connections = 0) {
        const lib::base::DbConfig db = stack->db().AppConfig();
        return Peer("minimal-responder",
                    {BinaryDir() + "/tests/minimal-responder", "--socket", stack->pool().listen(),
                     "--threads", std::to_string(TotalThreads()), "--db-host", db.host, "--db-port",
                     std::to_string(db.port), "--db-user", db.user, "--db-name", db.name, "--cost",
                     std::to_string(kCost)},
                    {{"BENCH_DB_PASSWORD", db.password}}, "floor" + label, connections);
    }

    // The LAMP incumbent: tests/bench/php/balance.php on php-fpm with `pm = static` and as many
    // children as the pool has threads, each with a persistent PDO connection.
    std::string php_fpm;  ///< the php-fpm binary, "" when not installed (no php rows then)

    bench::WrkResult Php(const std::string& label, int connections) {
        const lib::base::DbConfig db = stack->db().AppConfig();
        const std::string conf = dir + "/php-fpm.conf";
        std::string text =
            "[global]\nerror_log = " + dir +
            "/php-fpm-errors.log\ndaemonize = no\n\n[bench]\nlisten = " + stack->pool().listen() +
            "\nlisten.mode = 0666\nlisten.backlog = 1024\npm = static\n"
            "pm.max_children = " +
            std::to_string(TotalThreads()) +
            "\npm.max_requests = 0\nclear_env = yes\n"
            // Quoted: `;` starts a comment in php-fpm's ini syntax.
            "env[BENCH_DB_DSN] = \"mysql:host=" +
            db.host + ";port=" + std::to_string(db.port) + ";dbname=" + db.name +
            ";charset=utf8mb4\"\nenv[BENCH_DB_USER] = \"" + db.user +
            "\"\nenv[BENCH_DB_PASSWORD] = \"" + db.password +
            "\"\nenv[BENCH_COST] = " + std::to_string(kCost) + "\n";
        std::vector<std::string> argv = {php_fpm, "--nodaemonize", "--fpm-config", conf};
        if (geteuid() == 0) {
            text += "user = root\ngroup = root\n";
            argv.push_back("--allow-to-run-as-root");
        }
        testing::WriteFile(conf, text);
        return Peer("php-fpm", argv, {}, "php" + label, connections);
    }

    static void WaitForUnixSocket(const std::string& path, testing::Process& owner) {
        const auto deadline = Clock::now() + seconds(20);
        for (;;) {
            if (!owner.running()) throw std::runtime_error("a peer on " + path + " exited");
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
            const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            const bool ok =
                fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
            if (fd >= 0) close(fd);
            if (ok) return;
            if (Clock::now() > deadline) throw std::runtime_error("no socket at " + path);
            std::this_thread::sleep_for(milliseconds(20));
        }
    }

    std::string balance_body;

    void RequestResponse() {
        // The exact bytes inkstone answers, for nginx's ceiling location and the peers' check.
        const testing::HttpResponse first = Balance(users.tokens[1]);
        if (first.status != 200) throw std::runtime_error("balance: HTTP " + first.body);
        balance_body = first.body;

        const bench::WrkResult ceiling = Measure(Wrk("ceiling", kCeilingPath, ""));
        Row c = MakeRow("ceiling: nginx return 200 (same body)", ceiling.per_second(),
                        ceiling.p50_ms, ceiling.p99_ms);
        c.detail = std::to_string(o.connections) + " connections; errors " +
                   std::to_string(ceiling.errors);
        report.Add(c);
        for (const int connections : o.balance_connections) {
            BalanceAt(connections, ceiling);
        }
    }

    /// Floor, php-fpm and inkstone alternated in each round at `connections` wrk connections.
    void BalanceAt(int connections, const bench::WrkResult& ceiling) {
        Series floor, php, balance;
        std::vector<double> floor_cpu, php_cpu, pool_cpu;
        int64_t floor_statements = 0, php_statements = 0, statements = 0;
        const std::string at = ", " + std::to_string(connections) + " connections";
        const std::string tag = "-c" + std::to_string(connections);
        for (int round = 1; round <= o.rounds; ++round) {
            const std::string suffix = tag + "-" + std::to_string(round);
            int64_t questions = Questions();
            const bench::WrkResult f = Floor(suffix, connections);
            // The peer's counter includes its warm-up and the body check: per request it is
            // an upper bound, close enough to tell 1 from 2.
            floor_statements += Questions() - questions;
            floor.Add(f);
            floor_cpu.push_back(last_cpu_us_per_request);
            if (!php_fpm.empty()) {
                questions = Questions();
                const bench::WrkResult p = Php(suffix, connections);
                php_statements += Questions() - questions;
                php.Add(p);
                php_cpu.push_back(last_cpu_us_per_request);
            }
            const bench::WrkOptions w =
                Wrk("balance" + suffix, kBalancePath, users.all_file, "GET", "", connections);
            WarmUp(w);
            questions = Questions();
            const double cpu = bench::MeasureTree(stack->pool().pid()).cpu_seconds;
            const bench::WrkResult r = MeasureOnly(w);
            pool_cpu.push_back((bench::MeasureTree(stack->pool().pid()).cpu_seconds - cpu) * 1e6 /
                               std::max<int64_t>(1, r.requests));
            balance.Add(r);
            statements += Questions() - questions;
        }
        // The peers' counters also cover their warm-up run: per request over both.
        const auto warm = [&](const Series& s) {
            return s.requests + static_cast<int64_t>(s.requests / std::max(1, o.seconds));
        };

        const std::string threads = std::to_string(o.workers) + "x" + std::to_string(o.threads);
        Row f = floor.ToRow("floor: minimal libfcgi responder" + at);
        f.ratio = Fixed(*f.per_second / ceiling.per_second(), 2) + "x ceiling";
        f.detail = "C, libfcgi + MariaDB C API, " + std::to_string(TotalThreads()) +
                   " threads, same token check and single SELECT, on the pool's socket behind "
                   "the same nginx location; req/s by round " +
                   Rounds(floor.per_second, 0) + ", p99 ms by round " + Rounds(floor.p99_ms, 1) +
                   "; CPU per request " + Fixed(Median(floor_cpu), 0) + " us; ~" +
                   PerRequest(floor_statements, warm(floor)) +
                   " DB statements per request; errors " + std::to_string(floor.errors);
        report.Add(f);
        if (!php_fpm.empty()) {
            Row p = php.ToRow("php-fpm + PDO" + at);
            p.ratio = Fixed(MedianRatio(php.per_second, floor.per_second), 2) + "x floor req/s";
            p.detail = "PHP 8.2 (OPcache), pm = static, " + std::to_string(TotalThreads()) +
                       " children, persistent PDO connections, same token check, SELECT and "
                       "body (tests/bench/php/balance.php), on the pool's socket behind the same "
                       "nginx location; req/s by round " +
                       Rounds(php.per_second, 0) + ", p99 ms by round " + Rounds(php.p99_ms, 1) +
                       "; CPU per request " + Fixed(Median(php_cpu), 0) + " us; ~" +
                       PerRequest(php_statements, warm(php)) +
                       " DB statements per request; errors " + std::to_string(php.errors);
            report.Add(p);
        }
        Row b = balance.ToRow("GET /credit/balance" + at);
        const double rps_ratio = MedianRatio(balance.per_second, floor.per_second);
        const double p99_ratio = MedianRatio(balance.p99_ms, floor.p99_ms);
        const double php_ratio =
            php_fpm.empty() ? 0 : MedianRatio(balance.per_second, php.per_second);
        b.ratio =
            (php_fpm.empty() ? std::string("(no php-fpm) ") : Fixed(php_ratio, 2) + "x php-fpm, ") +
            Fixed(rps_ratio, 2) + "x floor req/s, p99 " + Fixed(p99_ratio, 2) + "x floor";
        b.target = ">= 2.0x php, >= 0.85x floor, p99 <= 1.5x";
        b.pass = (php_fpm.empty() || php_ratio >= 2.0) && rps_ratio >= 0.85 && p99_ratio <= 1.5 &&
                 balance.errors == 0;
        b.detail = "CPU per request: pool " + Fixed(Median(pool_cpu), 0) + " us; " +
                   std::to_string(o.users) + " users, pool " + threads + " threads; " +
                   PerRequest(statements, balance.requests) +
                   " DB statements per request; req/s by round " + Rounds(balance.per_second, 0) +
                   ", p99 ms by round " + Rounds(balance.p99_ms, 1) + "; ratio to floor by round " +
                   Rounds(RatiosOf(balance.per_second, floor.per_second), 2) +
                   (php_fpm.empty() ? std::string()
                                    : "; ratio to php-fpm by round " +
                                          Rounds(RatiosOf(balance.per_second, php.per_second), 2)) +
                   "; errors " + std::to_string(balance.errors);
        report.Add(b);
        Row q = MakeRow("GET /credit/balance: DB statements per request" + at);
        q.ratio = PerRequest(statements, balance.requests);
        q.target = "1";
        q.pass = balance.requests > 0 && statements <= balance.requests * 11 / 10;
        q.detail = "MariaDB Questions over the measured runs / requests answered";
        report.Add(q);
        if (connections == o.balance_connections.front()) {
            floor_as_rendered = f.per_second;
            balance_as_rendered = b.per_second;
        }
    }

    static std::vector<double> RatiosOf(const std::vector<double>& a,
                                        const std::vector<double>& b) {
        std::vector<double> out;
        for (size_t i = 0; i < a.size() && i < b.size(); ++i) out.push_back(a[i] / b[i]);
        return out;
    }

    struct Accounting {
        int64_t succeeded = 0;
        int64_t net_charged = 0;  ///< credits taken by generations, refunds deducted
    };

    Accounting Account() {
        Accounting a;
        // One statement, so one read view: with two, a generation that finished between them
        // counted as charged but not yet as succeeded (a hot-user run showed 4 such).
        // Generations that ended only: a request wrk gave up on at the end of a run may still
        // start after the pool went quiet (a reader that leaves does not stop it), and would
        // count as charged here before it counts as succeeded.
        const auto row =
            stack->db()
                .Query(
                    "SELECT (SELECT COUNT(*) FROM inkstone.generations WHERE status = "
                    "'SUCCEEDED'), (SELECT COALESCE(SUM(t.amount), 0) FROM "
                    "inkstone.credit_transactions t LEFT JOIN inkstone.credit_transactions c "
                    "ON c.id = t.refund_of JOIN inkstone.generations g ON g.id = "
                    "COALESCE(t.related_generation_id, c.related_generation_id) "
                    "WHERE g.status <> 'RUNNING')")
                .at(0);
        a.succeeded = std::stoll(row.at(0));
        a.net_charged = -std::stoll(row.at(1));
        return a;
    }

    /// Every generation's outcome, counted: "SUCCEEDED/completed/charged 12, ...".
    std::string Outcomes() {
        std::string out;
        for (const auto& row : stack->db().Query(
                 "SELECT status, COALESCE(end_reason, '-'), IF(refund_id IS NULL, 'charged', "
                 "'refunded'), COUNT(*) FROM inkstone.generations GROUP BY 1, 2, 3")) {
            if (!out.empty()) out += ", ";
            out += row.at(0) + "/" + row.at(1) + "/" + row.at(2) + " " + row.at(3);
        }
        return out;
    }

    /// Statements the server has received so far (the MariaDB `Questions` counter): the
    /// delta over a run, per request, counts the round trips a request costs.
    int64_t Questions() { return stack->db().GlobalStatus("Questions"); }

    static std::string PerRequest(int64_t statements, int64_t requests, int decimals = 1) {
        return Fixed(requests > 0 ? static_cast<double>(statements) / requests : 0, decimals);
    }

    /// Waits (up to 15 s) until the pool is idle (no request thread busy but the one answering
    /// the status page: requests wrk gave up on may still wait for a hot user's row lock,
    /// before their generation exists) and no generation runs; returns the DB statements it
    /// sent (the status page sends none).
    int Settle() {
        const auto deadline = Clock::now() + seconds(15);
        int queries = 0;
        while (Clock::now() < deadline) {
            const testing::HttpResponse status = stack->client().Get(stack->pool().status_path());
            if (status.status == 200 && status.JsonBody()["busy_threads"].asInt() <= 1) {
                ++queries;
                const auto rows = stack->db().Query(
                    "SELECT COUNT(*) FROM inkstone.generations WHERE status = 'RUNNING'");
                if (rows.at(0).at(0) == "0") break;
            }
            std::this_thread::sleep_for(milliseconds(100));
        }
        return queries;
    }

    /// Connections the server has accepted so far (MariaDB's `Connections` counter).
    int64_t ServerConnections() { return stack->db().GlobalStatus("Connections"); }

    /// What one of the bench's own queries costs in `Questions`: the harness connects anew for
    /// each (Connector/C++ sends its session setup first), so more than the query itself.
    int64_t StatementsPerBenchQuery() {
        const int64_t first = Questions();
        return Questions() - first;
    }

    /// Statements per second the idle stack runs on its own (background jobs), over 3 s.
    double IdleStatementsPerSecond() {
        const int64_t cost = StatementsPerBenchQuery();
        const int64_t before = Questions();
        std::this_thread::sleep_for(seconds(3));
        return static_cast<double>(Questions() - before - cost) / 3.0;
    }

    /// The newest generation's id (ids are one AUTO_INCREMENT on one server): the difference
    /// over a run is the generations started in it, answered by wrk in time or not.
    int64_t LastGenerationId() {
        return std::stoll(
            stack->db().Query("SELECT COALESCE(MAX(id), 0) FROM inkstone.generations").at(0).at(0));
    }

    /// The ledger invariants over the whole database; "" when they hold.
    std::string LedgerViolations() {
        const testing::LedgerReport ledger = testing::CheckLedger(stack->db());
        if (ledger.violations.empty()) return "";
        std::string out = std::to_string(ledger.violations.size()) + " ledger violations, e.g. " +
                          ledger.violations.front();
        return out;
    }

    void Generate() {
        const std::string body =
            R"({"tool_type":"article","prompt":"写一段关于秋天的文字","stream":false})";
        bench::DbChargeOptions d;
        const lib::base::DbConfig db = stack->db().AppConfig();
        d.binary = BinaryDir() + "/tests/db-charge-bench";
        d.host = db.host;
        d.port = db.port;
        d.user = db.user;
        d.password = db.password;
        d.name = db.name;
        d.threads = o.connections;
        d.duration = seconds(o.seconds);

        for (const bool hot : {false, true}) {
            const std::string which = hot ? "hot user" : "spread";
            d.first_user = users.first_id;
            d.users = hot ? 1 : static_cast<int64_t>(users.tokens.size());
            const bench::WrkOptions w =
                Wrk(std::string("generate-") + (hot ? "hot" : "spread"), kGeneratePath,
                    hot ? users.hot_file : users.all_file, "POST", body);
            WarmUp(w);
            Settle();
            const Accounting before = Account();
            Series raw, gen;
            int64_t statements = 0, started = 0, aborted = 0, insufficient = 0;
            // The pool's background jobs (cancel checks, recovery, expiry, ...) query on their
            // own clocks: their rate while idle is taken off the runs below, pro rata.
            const double background_per_s = IdleStatementsPerSecond();
            const int64_t per_query = StatementsPerBenchQuery();
            double background = 0;
            int64_t new_connections = 0;  ///< DB connections the pool opened in the runs
            for (int round = 1; round <= o.rounds; ++round) {
                d.log_path = dir + "/db-charge-" + (hot ? "hot-" : "spread-") +
                             std::to_string(round) + ".log";
                Say("db-charge-bench, " + which + ", " + std::to_string(d.threads) + " threads");
                const bench::DbChargeResult r = bench::RunDbCharge(d);
                Say("  " + Number(r.per_second) + " tx/s, p50 " + Fixed(r.p50_ms, 2) + " ms, p99 " +
                    Fixed(r.p99_ms, 2) + " ms, deadlocks/timeouts " + std::to_string(r.aborted));
                raw.Add(r.per_second, r.p50_ms, r.p99_ms);
                aborted += r.aborted;
                insufficient += r.insufficient;
                // Every generation started in the run and every statement it cost, to its
                // finish: the run's answers cut off by wrk's deadline finish during Settle.
                // The bench's own statements in between (the two id reads, Settle's polls and
                // the closing SHOW STATUS) are taken off; the pool's background jobs stay in.
                const int64_t connections = ServerConnections();
                const int64_t questions = Questions();
                const auto run_start = Clock::now();
                const int64_t first_id = LastGenerationId();
                gen.Add(MeasureOnly(w));
                const int settle_queries = Settle();
                started += LastGenerationId() - first_id;
                statements += Questions() - questions - per_query * (settle_queries + 3);
                background += background_per_s *
                              std::chrono::duration<double>(Clock::now() - run_start).count();
                new_connections += ServerConnections() - connections;
            }
            Settle();
            const Accounting after = Account();
            const int64_t succeeded = after.succeeded - before.succeeded;
            const int64_t charged = after.net_charged - before.net_charged;
            const std::string violations = LedgerViolations();
            const bool accounts = charged == succeeded * kCost;
            // wrk counts only answers that arrived before its deadline; the few cut off then
            // may still have succeeded server-side.
            const bool answered =
                gen.ok <= succeeded && succeeded <= gen.ok + o.connections * o.rounds;

            Row r = raw.ToRow("db: charge transaction, " + which);
            r.detail =
                std::to_string(d.threads) +
                " connections, C client, SELECT FOR UPDATE+UPDATE+INSERT+COMMIT; tx/s by round " +
                Rounds(raw.per_second, 0) + "; aborted " + std::to_string(aborted) +
                ", insufficient " + std::to_string(insufficient);
            report.Add(r);

            Row g = gen.ToRow("POST /writing/generate, " + which);
            const double ratio = MedianRatio(gen.per_second, raw.per_second);
            g.ratio = Fixed(ratio, 2) + "x db charge tx/s";
            if (hot) {
                g.target = "no lost/double updates";
                g.pass = violations.empty() && accounts && answered && gen.errors == 0;
            } else {
                g.target = ">= 0.35x db tx/s";
                g.pass =
                    ratio >= 0.35 && violations.empty() && accounts && answered && gen.errors == 0;
            }
            g.detail =
                "simulator at zero latency (20 tokens); " + PerRequest(statements, started) +
                " DB statements per generation; ratio by round " +
                Rounds(RatiosOf(gen.per_second, raw.per_second), 2) + "; errors " +
                std::to_string(gen.errors) + "; " + std::to_string(succeeded) + " succeeded (" +
                std::to_string(gen.ok) + " answered to wrk in time" +
                (answered ? "" : ": NOT within the cut-off bound") + "), " +
                std::to_string(charged) + " credits charged (" +
                (accounts ? "= succeeded x " + std::to_string(kCost)
                          : "MISMATCH; by status, end reason, charge standing: " + Outcomes()) +
                "); ledger invariants " + (violations.empty() ? "hold" : violations);
            report.Add(g);
            Row q = MakeRow("POST /writing/generate, " + which + ": DB statements per request");
            const int64_t request_path = statements - std::llround(background);
            q.ratio = PerRequest(request_path, started, 2) + " (" +
                      PerRequest(statements, started, 2) + " with the background jobs')";
            // 9 per generation exactly (Generation.NonStreamGenerationIsNineStatements counts
            // one); over a run a few more come from DB connections the pool opens meanwhile
            // (each connection's session setup) and a statement retried on a fresh connection.
            q.target = "<= 9 (+0.05 setup)";
            q.pass = started > 0 && request_path <= started * 9.05;
            q.detail =
                "MariaDB Questions from the start of each measured run until its last "
                "generation finished, less the bench's own queries, / generations started "
                "(" +
                std::to_string(started) + "); the background jobs' share (" +
                Fixed(background_per_s, 1) +
                " statements/s, measured idle just before) taken off first; the pool "
                "opened " +
                std::to_string(new_connections) +
                " DB connections in the runs (a connection's session setup is a few "
                "statements)";
            report.Add(q);
        }
    }

    /// What one streamed generation costs the database: 20 concurrent streams of 10 deltas,
    /// 200 ms apart (2 s each), each from its own user, and the statements they took between
    /// them (start, the first delta's flush, the flushes about once a second with the
    /// heartbeat, the finish; the boards' stop polls while they run).
    void StatementsPerStream() {
        constexpr int kStreams = 20;
        const std::string body =
            R"({"tool_type":"article","prompt":"[[sim:tokens=10,delay_ms=200]] )"
            R"(每条十个字","stream":true})";
        Settle();
        const int64_t questions = Questions();
        std::vector<std::thread> threads;
        std::atomic<int> done{0};
        for (int i = 0; i < kStreams; ++i) {
            threads.emplace_back([&, i] {
                const testing::HttpResponse r =
                    stack->client(seconds(30))
                        .Request("POST", kGeneratePath, body,
                                 {{"Authorization",
                                   "Bearer " + users.tokens[static_cast<size_t>(i) + 2]},
                                  {"Content-Type", "application/json"}});
                if (r.status == 200 && r.body.find("event: done") != std::string::npos) ++done;
            });
        }
        for (std::thread& t : threads) t.join();
        const int64_t statements = Questions() - questions;
        Row r = MakeRow("POST /writing/generate, stream: DB statements per generation");
        r.ratio = PerRequest(statements, kStreams) + " statements";
        r.target = "measured (start + flushes + finish)";
        r.pass = done.load() == kStreams;
        r.detail = std::to_string(kStreams) + " concurrent streams of 10 deltas over 2 s; " +
                   std::to_string(done.load()) + " ended with done";
        report.Add(r);
        Say("  " + r.ratio + " per streamed generation (" + r.detail + ")");
    }

    void Streams() {
        testing::AppPool& pool = stack->pool();
        // One request thread per stream plus room for the concurrent balance load.
        const int threads = static_cast<int>((o.streams + 2 * static_cast<size_t>(o.connections)) /
                                             static_cast<size_t>(o.workers)) +
                            1;
        settings["stream_threads_per_worker"] = threads;
        Say("restarting the pool with " + std::to_string(o.workers) + "x" +
            std::to_string(threads) + " threads for the streams");
        pool.Stop();
        pool.SetConfig("fcgi.threads", std::to_string(threads));
        pool.SetConfig("generation.max_per_worker", std::to_string(threads));
        pool.Start();
        // Warm the new workers' DB connections before the streams take the threads.
        Measure(Wrk("balance-warm-streams", kBalancePath, users.all_file));
        StatementsPerStream();

        // Long enough to outlast every step; the client hangs up at the end.
        const int64_t tokens =
            static_cast<int64_t>(std::ceil(static_cast<double>(o.streams) / o.ramp_per_second) +
                                 o.stream_steps.size() * (o.seconds + 8) + 30);
        const std::string body = R"({"tool_type":"article","prompt":"[[sim:tokens=)" +
                                 std::to_string(tokens) +
                                 R"(,delay_ms=1000,stamp=1]] 写一段关于秋天的文字","stream":true})";
        settings["stream_request"] = body;
        bench::StreamClient client(stack->port(), users.tokens, body);
        const pid_t master = pool.pid();
        bench::TreeMemory peak;
        const auto sample = [&] {
            const bench::TreeMemory m = bench::MeasureTree(master);
            if (m.rss_bytes > peak.rss_bytes) peak = m;
        };

        for (const size_t step : o.stream_steps) {
            Say("opening streams up to " + std::to_string(step));
            client.RampTo(step, o.ramp_per_second, sample);
            client.RunFor(seconds(2), sample);  // the last opened reach their first deltas
            client.TakeWindow();
            peak = {};
            const double cpu_before = bench::MeasureTree(master).cpu_seconds;
            client.RunFor(seconds(3), sample);
            bench::StreamWindow quiet = client.TakeWindow();
            // The pool's CPU while it only relays the streams (a delta a second each), i.e.
            // what the open streams cost it, the 100 ms cancel polling included.
            const double pool_cpu =
                (bench::MeasureTree(master).cpu_seconds - cpu_before) / quiet.seconds;

            // The balance load while the streams are open.
            bench::WrkRun wrk(
                Wrk("balance-streams-" + std::to_string(step), kBalancePath, users.all_file));
            client.RunWhile([&] { return wrk.running(); }, sample);
            const bench::WrkResult balance = wrk.Finish();
            bench::StreamWindow loaded = client.TakeWindow();

            const size_t open = client.open();
            const double quiet_p50 = bench::PercentileMs(quiet.lag_us, 50);
            const double quiet_p99 = bench::PercentileMs(quiet.lag_us, 99);
            const double loaded_p50 = bench::PercentileMs(loaded.lag_us, 50);
            const double loaded_p99 = bench::PercentileMs(loaded.lag_us, 99);
            Say("  " + std::to_string(open) + " open, errors " + std::to_string(client.errors()) +
                ", event lag p50 " + Fixed(quiet_p50, 2) + " ms p99 " + Fixed(quiet_p99, 2) +
                " ms (under balance load " + Fixed(loaded_p50, 2) + "/" + Fixed(loaded_p99, 2) +
                "), pool RSS " + Mib(peak.rss_bytes) + ", balance p99 " + Fixed(balance.p99_ms, 2) +
                " ms");

            const bool last = step == o.stream_steps.back();
            Row e =
                MakeRow(std::to_string(step) + " streams: per-event added latency",
                        static_cast<double>(quiet.events) / quiet.seconds, quiet_p50, quiet_p99);
            e.ratio = "under balance load: p50 " + Fixed(loaded_p50, 2) + " ms, p99 " +
                      Fixed(loaded_p99, 2) + " ms";
            e.target = "p50 <= 2 ms, p99 <= 20 ms";
            e.pass = quiet_p50 <= 2 && quiet_p99 <= 20;
            e.detail = "req/s = delta events/s; pool CPU " + Fixed(pool_cpu * 100, 0) +
                       "% of one core meanwhile; " + std::to_string(open) + " open, " +
                       std::to_string(client.errors()) + " stream errors so far" +
                       (client.error_samples().empty()
                            ? std::string()
                            : " (first: " + client.error_samples().front() + ")");
            report.Add(e);

            Row m = MakeRow(std::to_string(step) + " streams: errors and pool memory");
            m.ratio = std::to_string(client.errors()) + " errors, RSS " + Mib(peak.rss_bytes) +
                      " (PSS " + Mib(peak.pss_bytes) + ")";
            m.target = "0 errors, RSS <= 1 GiB";
            m.pass = client.errors() == 0 && open == step && peak.rss_bytes <= (int64_t{1} << 30);
            m.detail = std::to_string(peak.processes) + " pool processes (master + workers), " +
                       std::to_string(threads) + " threads per worker";
            report.Add(m);

            Row b = MakeRow(std::to_string(step) + " streams: GET /credit/balance meanwhile",
                            balance.per_second(), balance.p50_ms, balance.p99_ms);
            b.target = "p99 <= 50 ms";
            b.pass = balance.p99_ms <= 50 && balance.errors == 0;
            b.detail = std::to_string(o.connections) + " connections; errors " +
                       std::to_string(balance.errors);
            report.Add(b);
            if (!last && client.errors() > 0) break;
        }

        Say("closing the streams");
        client.CloseAll();
        // A reader that leaves does not stop a generation (README, "Who pays"): the owner's stop
        // does. The bench stops them all at once through the flag the cancel route sets; every
        // worker's board picks it up within its poll interval.
        // (The boards' own writes lock some of these rows meanwhile: a deadlock is retried.)
        for (int attempt = 1;; ++attempt) {
            try {
                stack->db().Exec(
                    "UPDATE inkstone.generations SET cancel_requested_at = UTC_TIMESTAMP(6) "
                    "WHERE status = 'RUNNING' AND cancel_requested_at IS NULL");
                break;
            } catch (const std::exception& e) {
                if (attempt == 10) throw;
                Say(std::string("  stopping the streams: ") + e.what() + ", again");
                std::this_thread::sleep_for(milliseconds(200));
            }
        }
        const auto deadline = Clock::now() + seconds(20);
        while (Clock::now() < deadline && stack->SimStats().active_streams > 0) {
            std::this_thread::sleep_for(milliseconds(100));
        }
        Settle();
        const testing::SimulatorStats sim = stack->SimStats();
        settings["sim_peak_active_streams"] = static_cast<Json::Int64>(sim.peak_active_streams);
        const std::string violations = LedgerViolations();
        Row l = MakeRow("after the streams: ledger");
        l.ratio = "sim peak " + std::to_string(sim.peak_active_streams) + " streams, " +
                  std::to_string(sim.active_streams) + " still open";
        l.target = "invariants hold, upstream closed";
        l.pass = violations.empty() && sim.active_streams == 0;
        l.detail = violations.empty() ? "every ledger invariant holds" : violations;
        report.Add(l);

        pool.Stop();
        pool.SetConfig("fcgi.threads", std::to_string(o.threads));
        pool.Start();
    }

    // Floor and balance once more with nginx's upstream keepalive flipped (off when the
    // rendered config has it, else `keepalive N`), for the README's choice: the rendered
    // snippets are edited in place and nginx reloaded, then restored.
    void FlippedKeepalive(int rendered, int experiment) {
        testing::Nginx& nginx = stack->nginx();
        const std::string upstream = nginx.prefix() + "/conf/inkstone-upstream.conf";
        const std::string locations = nginx.prefix() + "/conf/inkstone-locations.conf";
        const std::string upstream_text = testing::ReadFile(upstream);
        const std::string locations_text = testing::ReadFile(locations);
        const bool turn_on = rendered == 0;
        std::string u;
        std::istringstream lines(upstream_text);
        for (std::string line; std::getline(lines, line);) {
            const bool directive = line.rfind("    keepalive ", 0) == 0;
            if (!directive) u += line + "\n";
            if (turn_on && line.rfind("    server ", 0) == 0) {
                u += "    keepalive " + std::to_string(experiment) + ";\n";
            }
        }
        const std::string from = turn_on ? "fastcgi_keep_conn off;" : "fastcgi_keep_conn on;";
        const std::string to = turn_on ? "fastcgi_keep_conn on;" : "fastcgi_keep_conn off;";
        std::string l = locations_text;
        // Only the API location's; the status page keeps its own `off`.
        if (const size_t at = l.find(from); at != std::string::npos) l.replace(at, from.size(), to);
        testing::WriteFile(upstream, u);
        testing::WriteFile(locations, l);
        nginx.Reload();
        std::this_thread::sleep_for(seconds(2));
        const std::string tag = turn_on ? "-keepalive" : "-no-keepalive";
        const bench::WrkResult floor = Floor(tag);
        const bench::WrkResult balance =
            Measure(Wrk("balance" + tag, kBalancePath, users.all_file));
        testing::WriteFile(upstream, upstream_text);
        testing::WriteFile(locations, locations_text);
        nginx.Reload();
        std::this_thread::sleep_for(seconds(2));

        const std::string label = turn_on ? ", upstream keepalive " + std::to_string(experiment)
                                          : ", no upstream keepalive";
        const std::string other =
            turn_on ? "x as rendered (none)"
                    : "x as rendered (keepalive " + std::to_string(rendered) + ")";
        Row f = MakeRow("floor" + label, floor.per_second(), floor.p50_ms, floor.p99_ms);
        f.ratio = Fixed(floor.per_second() / *floor_as_rendered, 2) + other;
        f.detail = "one round; errors " + std::to_string(floor.errors);
        report.Add(f);
        Row b = MakeRow("GET /credit/balance" + label, balance.per_second(), balance.p50_ms,
                        balance.p99_ms);
        b.ratio = Fixed(balance.per_second() / floor.per_second(), 2) + "x floor req/s, p99 " +
                  Fixed(balance.p99_ms / floor.p99_ms, 2) + "x; " +
                  Fixed(balance.per_second() / *balance_as_rendered, 2) + other;
        b.detail = "one round, for the keepalive choice (README); errors " +
                   std::to_string(balance.errors);
        report.Add(b);
    }

    double last_cpu_us_per_request = 0;  ///< the floor's, of its last measured run
    std::optional<double> floor_as_rendered;
    std::optional<double> balance_as_rendered;
};

std::string PhpFpmBinary() {
    for (const char* path : {"/usr/sbin/php-fpm8.2", "/usr/sbin/php-fpm"}) {
        if (access(path, X_OK) == 0) return path;
    }
    return "";
}

/// Adds `fastcgi_param SCRIPT_FILENAME <script>` to the API location of the rendered
/// inkstone-locations.conf and reloads nginx.
void PassScriptFilename(testing::Nginx& nginx, const std::string& script) {
    const std::string path = nginx.prefix() + "/conf/inkstone-locations.conf";
    std::string text = testing::ReadFile(path);
    const std::string anchor = "    fastcgi_pass inkstone_pool;\n";
    const size_t at = text.find(anchor);
    if (at == std::string::npos) throw std::runtime_error("no fastcgi_pass in " + path);
    text.insert(at + anchor.size(), "    fastcgi_param SCRIPT_FILENAME " + script + ";\n");
    testing::WriteFile(path, text);
    nginx.Reload();
    std::this_thread::sleep_for(seconds(1));
}

std::string CeilingLocation(const std::string& body) {
    // nginx's own answer with inkstone's body: the most anything behind nginx can do here.
    std::string escaped;
    for (char c : body) {
        if (c == '\'' || c == '\\') escaped += '\\';
        escaped += c;
    }
    return std::string("location = ") + kCeilingPath +
           " {\n"
           "    types {}\n"
           "    default_type application/json;\n"
           "    add_header Cache-Control no-store;\n"
           "    return 200 '" +
           escaped +
           "';\n"
           "}\n";
}

int Run(const Options& options) {
    const auto started = Clock::now();
    Bench b;
    b.o = options;
    Json::Value header(Json::objectValue);
    header["date"] = Today();
    header["command"] = options.command;
    header["machine"] = Machine();

    if (options.micro) RunMicro(options, b.report);

    // The ceiling's body is the balance body of a seeded user, known before nginx starts:
    // kSeedCredits, not a member, the default cost. The run checks it against inkstone's.
    const std::string expected_body = "{\"cost_per_generation\":" + std::to_string(kCost) +
                                      ",\"credits\":" + std::to_string(kSeedCredits) +
                                      ",\"is_member\":false,\"member_expired_at\":null}";
    testing::StackOptions so;
    so.workers = options.workers;
    so.threads = options.threads;
    so.max_requests = 0;  // no worker recycling in the middle of a measurement
    so.config = {
        // The fair-use limits would turn nearly every benchmark generation into a 429 (20 a
        // minute, 3 at once per user); the work measured is the charge path, not the refusal.
        {"generation.per_minute", "1000000"},
        {"generation.in_flight", "100000"},
        // Every thread may generate: the per-worker cap keeps threads for other routes in
        // production; here it would refuse part of the load the scenario measures.
        {"generation.max_per_worker", std::to_string(options.threads)},
        {"credit.cost_per_generation", std::to_string(kCost)},
        // A connection per request thread, as the floor has (with the default 8, a worker's 16
        // threads also wait for connections: another 5 us of CPU per balance request).
        {"db.pool_size", std::to_string(options.threads)},
    };
    so.nginx_local_conf = {{"bench.conf", CeilingLocation(expected_body)}};
    testing::Stack stack(so);
    b.stack = &stack;
    b.dir = stack.dir() + "/bench";
    std::error_code ec;
    std::filesystem::create_directories(b.dir, ec);
    Say("starting the stack in " + stack.dir());
    stack.Start();
    b.users = SeedUsers(stack.db(), options.users, b.dir);
    Say("seeded " + std::to_string(options.users) + " users");
    b.php_fpm = PhpFpmBinary();
    if (b.php_fpm.empty()) {
        Say("php-fpm not found (apt-get install php8.2-fpm php8.2-mysql): no php-fpm rows");
    } else {
        // php-fpm runs the file nginx names; inkstone and the floor ignore the parameter, so
        // all three are measured through one and the same location.
        PassScriptFilename(stack.nginx(),
                           std::string(INKSTONE_SOURCE_DIR) + "/tests/bench/php/balance.php");
    }

    b.settings["workers"] = options.workers;
    b.settings["threads_per_worker"] = options.threads;
    b.settings["connections"] = options.connections;
    b.settings["wrk_threads"] = 1;
    b.settings["seconds_per_run"] = options.seconds;
    b.settings["users"] = options.users;
    {
        // As rendered: half the pool's threads over nginx's workers (0 = none).
        b.settings["upstream_keepalive"] = 0;
        std::istringstream lines(
            testing::ReadFile(stack.nginx().prefix() + "/conf/inkstone-upstream.conf"));
        for (std::string line; std::getline(lines, line);) {
            const size_t at = line.find("keepalive ");
            if (at != std::string::npos && line.find('#') == std::string::npos) {
                b.settings["upstream_keepalive"] = std::atoi(line.c_str() + at + 10);
            }
        }
    }

    const auto wanted = [&](const char* phase) {
        return options.only.empty() || options.only == phase;
    };
    try {
        if (wanted("balance")) {
            b.RequestResponse();
            if (b.balance_body != expected_body) {
                throw std::runtime_error("the balance body changed shape: " + b.balance_body);
            }
            if (options.compare_keepalive) {
                // Idle kept connections hold pool threads: at most half of them in all.
                const long cores = sysconf(_SC_NPROCESSORS_ONLN);
                const int keepalive =
                    options.keepalive > 0
                        ? options.keepalive
                        : std::max(1, options.workers * options.threads /
                                          (2 * static_cast<int>(cores > 0 ? cores : 1)));
                b.FlippedKeepalive(b.settings["upstream_keepalive"].asInt(), keepalive);
            }
        }
        if (wanted("generate")) b.Generate();
        if (wanted("streams")) b.Streams();
    } catch (...) {
        stack.KeepDir();  // the logs of every component and load generator stay for a look
        throw;
    }

    const double minutes = std::chrono::duration<double>(Clock::now() - started).count() / 60.0;
    header["minutes"] = minutes;
    header["settings"] = b.settings;
    const Json::Value json = b.report.ToJson(header);
    Json::StreamWriterBuilder writer;
    writer["indentation"] = "  ";
    testing::WriteFile(options.json_path, Json::writeString(writer, json) + "\n");

    std::printf("\ninkstone benchmark, %s, %s (%s cores, %.0f GiB), %.1f min\n",
                header["date"].asCString(), header["machine"]["cpu"].asCString(),
                header["machine"]["nproc"].asString().c_str(),
                header["machine"]["memory_gib"].asDouble(), minutes);
    std::printf(
        "load: wrk 1 thread x %d connections, %d rounds of %d s per scenario; pool %dx%d "
        "threads; nginx upstream keepalive %d (0 = none); %d users\n\n",
        options.connections, options.rounds, options.seconds, options.workers, options.threads,
        b.settings["upstream_keepalive"].asInt(), options.users);
    std::printf("%s", b.report.Text().c_str());
    std::printf("\nJSON: %s\n", options.json_path.c_str());
    return options.strict && !b.report.AllPassed() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = ParseOptions(argc, argv);
    // The stream client holds one socket per stream: thousands, past the usual soft limit.
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) std::perror("inkstone-bench: setrlimit");
    }
    try {
        return Run(options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "inkstone-bench: %s\n", e.what());
        return 2;
    }
}
