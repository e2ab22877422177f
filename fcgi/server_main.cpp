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
#include "handlers/routes.h"
#include "lib/auth.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/jobs.h"
#include "lib/log.h"
#include "lib/payment_keys.h"
#include "lib/payments.h"
#include "lib/provider.h"

namespace {

using namespace inkstone;

/// Everything one worker process serves with, built after fork.
class ServerApp final : public fcgi::Application {
  public:
    ServerApp(const lib::Config& config, const lib::payments::MockProvider& mock_payments)
        : config_(config),
          db_(config_.db),
          providers_(config_),
          api_(handlers::Deps{config_, db_, clock_, providers_, mock_payments}),
          router_(api_.Routes()),
          authenticator_(db_, clock_),
          dispatcher_(router_, &authenticator_),
          jobs_(config_.jobs.enabled ? api_.Jobs() : std::vector<lib::Job>{}) {}

    void ThreadStarted() override { lib::db::Pool::ThreadInit(); }
    void ThreadStopping() override { lib::db::Pool::ThreadEnd(); }
    lib::Response Serve(lib::Request& request, lib::StreamWriter& stream,
                        bool body_truncated) override {
        return dispatcher_.Dispatch(request, stream, body_truncated);
    }
    size_t MaxBodyBytes() const override { return dispatcher_.MaxBodyBytes(); }
    void StartBackground() override {
        jobs_.Start(lib::db::Pool::ThreadInit, lib::db::Pool::ThreadEnd);
    }
    void StopBackground() override { jobs_.Stop(); }

  private:
    lib::Config config_;
    lib::SystemClock clock_;
    lib::db::Pool db_;
    lib::ProviderMap providers_;
    handlers::Api api_;
    lib::Router router_;
    lib::TokenAuthenticator authenticator_;
    fcgi::Dispatcher dispatcher_;
    lib::JobRunner jobs_;
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

    // Startup, --check-config and every SIGHUP reload check the payment keys once in the master,
    // so a missing or unreadable key stops them with its name before any worker forks.
    auto load = [config_file] {
        lib::Config config = lib::LoadConfig({config_file, ".env", lib::ProcessEnvironment()});
        if (config.payment.mode == "live") lib::LoadPaymentKeys(config);
        return config;
    };
    lib::Config config;
    try {
        config = load();
    } catch (const lib::ConfigError& e) {
        std::fprintf(stderr, "inkstone: configuration error: %s\n", e.what());
        return 2;
    }
    if (check_only) {
        std::cout << config.Describe();
        return 0;
    }
    lib::LogInit(config.log);
    // Made once here and inherited by every worker: an RSA key generation per worker would delay
    // each worker's start. Made even when payments are live, since a reload may mock them.
    const lib::payments::MockProvider mock_payments = lib::payments::NewMockProvider();
    return fcgi::RunPool(std::move(config), load, [&mock_payments](const lib::Config& c) {
        return std::make_unique<ServerApp>(c, mock_payments);
    });
}
