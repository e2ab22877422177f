#include "handlers/app.h"

#include <algorithm>
#include <utility>

#include "handlers/routes.h"
#include "lib/admin/codes.h"
#include "lib/billing/idempotency.h"
#include "lib/payments/payment_keys.h"

namespace inkstone::handlers {
namespace {

using lib::billing::OrderKind;

lib::billing::WalletOptions WalletOptionsFor(const lib::base::Config& config) {
    lib::billing::WalletOptions options;
    if (config.testing.hooks) options.hold_locks_ms = config.testing.settle_delay_ms;
    return options;
}

lib::generation::GenerationLimits LimitsFor(const lib::base::Config& config) {
    lib::generation::GenerationLimits limits;
    limits.per_minute = config.generation.per_minute;
    limits.in_flight = config.generation.in_flight;
    // A text generation's heartbeat is written at least every few seconds, so one this old has
    // no live worker (the bound also absorbs clock skew between hosts).
    limits.heartbeat_stale = std::chrono::seconds(config.generation.heartbeat_stale_s);
    // An image submission is one upstream call: the longest it can take plus a margin.
    limits.image_submit_stale = std::chrono::seconds((config.qwen.total_timeout_ms + 999) / 1000 +
                                                     config.generation.recovery_margin_s);
    return limits;
}

// Text generations one worker runs at once: the configured cap, or three quarters of the
// threads, so that balance checks, logins and payment notifies always find a thread.
int GenerationCap(const lib::base::Config& config) {
    if (config.generation.max_per_worker > 0) return config.generation.max_per_worker;
    return std::max(1, config.fcgi.threads - std::max(1, config.fcgi.threads / 4));
}

// The heartbeat keeps well inside the bound recovery waits for (three beats per bound).
std::chrono::milliseconds HeartbeatEvery(const lib::base::Config& config) {
    return std::min<std::chrono::milliseconds>(
        lib::generation::kHeartbeatEvery,
        std::chrono::seconds(config.generation.heartbeat_stale_s) / 3);
}

lib::generation::LiveTiming LiveTimingFor(const lib::base::Config& config) {
    lib::generation::LiveTiming timing;
    timing.heartbeat_every = HeartbeatEvery(config);
    return timing;
}

lib::generation::ProgressTiming TimingFor(const lib::base::Config& config) {
    lib::generation::ProgressTiming timing;
    timing.finish_retry_for = HeartbeatEvery(config) * 2;
    return timing;
}

// Every batch job's bounds per run: short transactions, few locks at a time, and a run that
// never holds the job thread for long whatever the backlog (the next run takes the rest).
constexpr int64_t kJobBatch = 500;
constexpr lib::base::BatchBudget kJobBudget{20, std::chrono::seconds(10)};
// Reconciliation waits on the payment providers: it runs on a lane of its own, so a slow
// provider never delays generation recovery or image polling, and it stops asking once its
// budget per run is spent (the next run, 30 s later, goes on where it stopped).
constexpr char kPaymentsLane[] = "payments";
constexpr std::chrono::seconds kReconcileBudget{10};

}  // namespace

HandlerSet::HandlerSet(const lib::base::Config& config, lib::db::Pool& db,
                       lib::db::HealthProbe& probe, const lib::base::Clock& clock,
                       const lib::ai::ProviderMap& providers,
                       const lib::payments::MockProvider& mock_payments,
                       std::function<std::vector<lib::base::Job>()> jobs)
    : wallet(db, clock, WalletOptionsFor(config)),
      models(lib::generation::ModelCatalog(config)),
      generations(db, clock, wallet, LimitsFor(config)),
      live_generations(
          GenerationCap(config), LiveTimingFor(config),
          [this](const std::vector<lib::generation::ProgressFlush>& flushes) {
              return generations.SaveProgress(flushes);
          },
          [this] { return generations.CancelsRequested(); }),
      generation_deps{generations,
                      providers,
                      models,
                      live_generations,
                      clock,
                      TimingFor(config),
                      std::clamp(config.generation.heartbeat_stale_s / 3, 1, 30),
                      std::chrono::milliseconds(config.qwen.total_timeout_ms + 30000)},
      ai_models(generation_deps),
      writing_tools(generation_deps),
      generate(generation_deps),
      history(generation_deps),
      generation(generation_deps),
      generation_stream(generation_deps),
      generation_cancel(generation_deps),
      image_generate(generation_deps),
      image_task(generation_deps),
      payment_providers(lib::payments::Providers::FromConfig(config, mock_payments)),
      notifies(payment_providers, wallet, clock, &db),
      orders(db, clock, std::chrono::seconds(config.payment.order_ttl_s),
             lib::payments::RegistrationHook(payment_providers), config.payment.max_pending_orders),
      health(probe),
      accounts(db, clock, config.auth),
      register_user(accounts),
      login(accounts),
      logout(accounts),
      me(clock),
      balance(clock, config.credit),
      credit_prices(db),
      transactions(wallet),
      recharge(orders, payment_providers),
      recharge_orders(db, OrderKind::kRecharge, clock, payment_providers),
      recharge_order(db, OrderKind::kRecharge, clock, payment_providers),
      membership_prices(db),
      membership(orders, payment_providers),
      membership_orders(db, OrderKind::kMembership, clock, payment_providers),
      membership_order(db, OrderKind::kMembership, clock, payment_providers),
      alipay_notify(notifies),
      wechat_notify(notifies),
      mock_pay(db, payment_providers, notifies),
      admin_users(db, clock),
      admin_catalog(db, clock, models),
      admin_orders(db, clock, notifies),
      admin_codes(db, clock, config.redeem),
      testing_hooks(config.testing.hooks),
      test_charge(wallet),
      test_refund(wallet),
      test_run_jobs(std::move(jobs)) {}

App::App(const lib::base::Config& config, const lib::payments::MockProvider& mock_payments)
    : config_(config),
      db_(config_.db),
      health_probe_(db_),
      providers_(config_),
      handlers_(config_, db_, health_probe_, clock_, providers_, mock_payments,
                [this] { return Jobs(); }),
      router_(Routes(handlers_)),
      authenticator_(handlers_.accounts) {}

std::vector<lib::base::Job> App::Jobs() {
    lib::db::Pool& db = db_;
    const lib::base::Clock& clock = clock_;
    const lib::billing::Wallet& wallet = handlers_.wallet;
    const lib::payments::NotifyProcessor& notifies = handlers_.notifies;
    // Live: before an order expires its provider is asked whether it was paid after all. Mock
    // mode has nobody to ask.
    lib::billing::Reconciler reconcile;
    if (handlers_.payment_providers.live()) {
        reconcile = [&notifies](const lib::billing::OverdueOrder& order) {
            return notifies.Reconcile(order);
        };
    }
    std::vector<lib::base::Job> jobs = {
        {"auth.purge", std::chrono::minutes(10),
         [&db, &clock] {
             lib::base::RunBatches(kJobBudget, kJobBatch, [&] {
                 return lib::accounts::PurgeExpiredAuthRows(db, clock.Now(), std::chrono::hours(24),
                                                            static_cast<int>(kJobBatch));
             });
         }},
        {"payment.expire_orders", std::chrono::seconds(30),
         [&wallet, &clock, reconcile] {
             const auto ask_until = std::chrono::steady_clock::now() + kReconcileBudget;
             lib::base::RunBatches(kJobBudget, kJobBatch, [&] {
                 return static_cast<int64_t>(wallet.ExpireOrders(
                     clock.Now(), static_cast<int>(kJobBatch), reconcile, ask_until));
             });
         },
         kPaymentsLane},
        // Refunds the provider has not settled yet (WeChat Pay's PROCESSING, no answer, a
        // transient refusal): asked about again, at most once a minute each.
        {"payment.refunds", std::chrono::seconds(60),
         [&notifies] {
             const auto ask_until = std::chrono::steady_clock::now() + kReconcileBudget;
             lib::base::RunBatches(kJobBudget, kJobBatch, [&] {
                 return notifies.FollowUpRefunds(static_cast<int>(kJobBatch), ask_until);
             });
         },
         kPaymentsLane},
        {"idempotency.purge", std::chrono::minutes(10),
         [&db, &clock] {
             lib::base::RunBatches(kJobBudget, kJobBatch, [&] {
                 return static_cast<int64_t>(lib::billing::PurgeExpiredIdempotencyKeys(
                     db, clock.Now(), static_cast<int>(kJobBatch)));
             });
         }},
        {"redeem.purge_failures", std::chrono::minutes(10),
         [&db, &clock, window = std::chrono::seconds(config_.redeem.failure_window_s)] {
             lib::base::RunBatches(kJobBudget, kJobBatch, [&] {
                 return lib::admin::PurgeRedeemFailures(db, clock.Now(), window,
                                                        static_cast<int>(kJobBatch));
             });
         }},
    };
    for (lib::base::Job& job : GenerationJobs(handlers_.generation_deps)) {
        jobs.push_back(std::move(job));
    }
    return jobs;
}

}  // namespace inkstone::handlers
