#include "tests/harness/stack.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "tests/harness/process.h"
#include "tests/harness/process_tree.h"

namespace inkstone::testing {
namespace {

// Config keys a test set itself win. The environment copies matter: inkstone reads the
// environment after inkstone.conf, so an exported QWEN_API_KEY would otherwise send the
// tests' generations to the real DashScope.
void PointAtSimulator(const Simulator& sim, AppPoolOptions* pool) {
    const std::pair<const char*, std::string> keys[] = {
        {"qwen.base_url", sim.base_url()},
        {"qwen.api_key", sim.api_key()},
    };
    for (const auto& [key, value] : keys) {
        if (pool->config.count(key) != 0) continue;
        pool->config[key] = value;
        std::string env_name = key;
        for (char& c : env_name) {
            c = c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        pool->env.emplace(env_name, value);
    }
}

// Idle kept connections hold pool threads: nginx's workers (one per core, `worker_processes
// auto`) together keep at most half of them, so the other half always takes new connections;
// a pool too small for one per nginx worker gets none (0: no keepalive).
int UpstreamKeepalive(const StackOptions& options) {
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const int nginx_workers = cores > 0 ? static_cast<int>(cores) : 1;
    const int pool_workers = options.workers > 0 ? options.workers : nginx_workers;
    const int threads = pool_workers * options.threads;
    return std::min(threads / (2 * nginx_workers), 32);
}

}  // namespace

Stack::Stack(StackOptions options) : options_(std::move(options)) {
    if (options_.dir.empty()) {
        dir_ = MakeTempDir("inkstone-stack-");
        temp_dir_ = true;
        return;
    }
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(options_.dir, ec);
    if (ec) throw std::system_error(ec, "absolute path of " + options_.dir);
    dir_ = absolute.lexically_normal().string();
    if (!dir_.empty() && dir_.back() == '/') dir_.pop_back();
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw std::system_error(ec, "mkdir " + dir_);
}

Stack::~Stack() {
    try {
        Stop();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "[stack] stop failed: %s\n", e.what());
        keep_dir_ = true;
    }
    if (!temp_dir_) return;
    bool failed = keep_dir_;
    if (!failed && options_.failed) failed = options_.failed();
    if (failed) {
        std::fprintf(stderr, "[stack] kept %s for inspection; logs:\n%s", dir_.c_str(),
                     LogLocations().c_str());
        return;
    }
    RemoveTree(dir_);
}

void Stack::Start() {
    try {
        if (!db_) db_ = std::make_unique<MariaDb>(dir_ + "/mariadb", options_.db_port);
        db_->Start();

        if (options_.with_simulator) {
            if (!sim_) {
                SimulatorOptions sim;
                sim.dir = dir_ + "/sim";
                sim.port = options_.sim_port;
                sim.binary_dir = options_.binary_dir;
                sim_ = std::make_unique<Simulator>(std::move(sim));
            }
            sim_->Start();
        }

        if (!pool_) {
            AppPoolOptions pool;
            pool.dir = dir_;
            pool.db = db_->AppConfig();
            pool.workers = options_.workers;
            pool.threads = options_.threads;
            pool.max_requests = options_.max_requests;
            pool.graceful_timeout_s = options_.graceful_timeout_s;
            pool.config = options_.config;
            pool.env = options_.env;
            if (sim_) PointAtSimulator(*sim_, &pool);
            pool.working_dir = options_.working_dir;
            pool.binary_dir = options_.binary_dir;
            pool.sql_dir = options_.source_dir + "/sql";
            pool_ = std::make_unique<AppPool>(std::move(pool));
        }
        pool_->RunMigrations();
        if (options_.with_pool) pool_->Start();

        if (options_.with_nginx) {
            if (!nginx_) {
                NginxOptions nginx;
                nginx.prefix = dir_ + "/nginx";
                nginx.port = options_.port;
                nginx.pool_address = pool_->nginx_address();
                nginx.status_path = pool_->status_path();
                nginx.template_dir = options_.source_dir + "/nginx";
                nginx.web_root = options_.web_root.empty() ? options_.source_dir + "/web/dist"
                                                           : options_.web_root;
                nginx.local_conf = options_.nginx_local_conf;
                if (!options_.auth_rate.empty()) nginx.auth_rate = options_.auth_rate;
                if (options_.auth_burst > 0) nginx.auth_burst = options_.auth_burst;
                nginx.upstream_keepalive = options_.upstream_keepalive >= 0
                                               ? options_.upstream_keepalive
                                               : UpstreamKeepalive(options_);
                nginx_ = std::make_unique<Nginx>(std::move(nginx));
            }
            nginx_->Start();
        }
    } catch (...) {
        keep_dir_ = true;
        try {
            Stop(std::chrono::seconds(2));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "[stack] stop after a failed start failed: %s\n", e.what());
        }
        throw;
    }
}

void Stack::Stop(std::chrono::milliseconds pool_grace) {
    if (nginx_) nginx_->Stop();
    if (pool_) pool_->Stop(pool_grace);
    if (sim_) sim_->Stop();
    if (db_) db_->Stop();
}

std::string Stack::DeadComponent() {
    if (db_ && !db_->running()) return "mariadb";
    if (options_.with_simulator && sim_ && !sim_->running()) return "dashscope-sim";
    if (options_.with_pool && pool_ && !pool_->running()) return "inkstone";
    if (options_.with_nginx && nginx_ && !nginx_->running()) return "nginx";
    return "";
}

std::string Stack::LogTail(const std::string& component, size_t lines) const {
    if (component == "mariadb" && db_) {
        return "--- " + db_->error_log() + "\n" + TailFile(db_->error_log(), lines);
    }
    if (component == "dashscope-sim" && sim_) return sim_->LogTail(lines);
    if (component == "inkstone" && pool_) return pool_->LogTail(lines);
    if (component == "nginx" && nginx_) return nginx_->LogTail(lines);
    return "";
}

std::string Stack::LogLocations() const {
    std::string out;
    if (db_) out += "  mariadb:  " + db_->error_log() + "\n";
    if (sim_) out += "  sim:      " + sim_->log_path() + ", " + sim_->stdout_log() + "\n";
    if (pool_) {
        out += "  inkstone: " + pool_->log_path() + "\n";
        out += "  migrate:  " + dir_ + "/logs/migrate.log\n";
    }
    if (nginx_) {
        out += "  nginx:    " + nginx_->error_log() + ", " + nginx_->access_log() + ", " +
               nginx_->stderr_log() + "\n";
    }
    return out;
}

int Stack::port() const {
    if (!nginx_) throw std::logic_error("Stack::port: nginx is not part of this stack yet");
    return nginx_->port();
}

int Stack::sim_port() const {
    if (!sim_) throw std::logic_error("Stack::sim_port: the simulator is not part of this stack");
    return sim_->port();
}

SimulatorStats Stack::SimStats() const {
    if (!sim_) throw std::logic_error("Stack::SimStats: the simulator is not part of this stack");
    return sim_->Stats();
}

Simulator& Stack::simulator() {
    if (!sim_) throw std::logic_error("Stack::simulator: call Start() with the simulator first");
    return *sim_;
}

MariaDb& Stack::db() {
    if (!db_) throw std::logic_error("Stack::db: call Start() first");
    return *db_;
}

AppPool& Stack::pool() {
    if (!pool_) throw std::logic_error("Stack::pool: call Start() first");
    return *pool_;
}

Nginx& Stack::nginx() {
    if (!nginx_) throw std::logic_error("Stack::nginx: call Start() first");
    return *nginx_;
}

}  // namespace inkstone::testing
