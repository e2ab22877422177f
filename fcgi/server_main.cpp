// inkstone: the FastCGI pool. `inkstone [--config FILE] [--check-config]`.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "fcgi/application.h"
#include "fcgi/dispatcher.h"
#include "fcgi/pool.h"
#include "handlers/app.h"
#include "lib/base/config.h"
#include "lib/base/jobs.h"
#include "lib/base/log.h"
#include "lib/db/db.h"
#include "lib/payments/notify.h"
#include "lib/payments/payment_keys.h"

namespace {

using namespace inkstone;

/// One worker process's application: the composition root (handlers/app.h) behind the
/// dispatcher, and the worker's job thread. Built after fork.
class ServerApp final : public fcgi::Application {
  public:
    ServerApp(const lib::base::Config& config, const lib::payments::MockProvider& mock_payments)
        : app_(config, mock_payments),
          dispatcher_(app_.router(), &app_.authenticator()),
          jobs_(config.jobs.enabled ? app_.Jobs() : std::vector<lib::base::Job>{}) {}

    void ThreadStarted() override { lib::db::Pool::ThreadInit(); }
    void ThreadStopping() override { lib::db::Pool::ThreadEnd(); }
    lib::http::Response Serve(lib::http::Request& request, lib::http::StreamWriter& stream,
                              bool body_truncated) override {
        return dispatcher_.Dispatch(request, stream, body_truncated);
    }
    size_t MaxBodyBytes() const override { return dispatcher_.MaxBodyBytes(); }
    void StartBackground() override {
        jobs_.Start(lib::db::Pool::ThreadInit, lib::db::Pool::ThreadEnd);
    }
    void StopBackground() override { jobs_.Stop(); }
    void Draining(int threads_left) override { app_.Draining(threads_left); }

  private:
    handlers::App app_;
    fcgi::Dispatcher dispatcher_;
    lib::base::JobRunner jobs_;
};

int Usage() {
    std::fprintf(stderr, "usage: inkstone [--config FILE] [--check-config]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_file;
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--config" && i + 1 < argc) {
            config_file = argv[++i];
        } else if (arg == "--check-config") {
            check_only = true;
        } else {
            return Usage();
        }
    }
    if (config_file.empty() && access("inkstone.conf", R_OK) == 0) config_file = "inkstone.conf";

    // Startup, --check-config and every SIGHUP reload check the config's safety rules and the
    // payment keys once in the master, so an unsafe config or a missing key stops them with its
    // name before any worker forks (a reload keeps the running config).
    auto load = [config_file] {
        lib::base::Config config =
            lib::base::LoadConfig({config_file, ".env", lib::base::ProcessEnvironment()});
        lib::base::CheckServingConfig(config);
        if (config.payment.mode == "live") lib::payments::LoadPaymentKeys(config);
        return config;
    };
    lib::base::Config config;
    try {
        config = load();
    } catch (const lib::base::ConfigError& e) {
        std::fprintf(stderr, "inkstone: configuration error: %s\n", e.what());
        return 2;
    }
    if (check_only) {
        std::cout << config.Describe() << "# " << lib::base::DescribePaymentMode(config) << "\n";
        return 0;
    }
    lib::base::LogInit(config.log);
    // Made once here and inherited by every worker: an RSA key generation per worker would delay
    // each worker's start. Made even when payments are live, since a reload may mock them.
    const lib::payments::MockProvider mock_payments = lib::payments::NewMockProvider();
    return fcgi::RunPool(std::move(config), load, [&mock_payments](const lib::base::Config& c) {
        return std::make_unique<ServerApp>(c, mock_payments);
    });
}
