#include "handlers/app.h"

#include <utility>

#include "handlers/routes.h"
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
    // The longest a live worker can keep a generation RUNNING, plus a margin for clock skew
    // between hosts: after that its worker is gone and recovery may refund it.
    limits.stale_after = std::chrono::seconds((config.qwen.total_timeout_ms + 999) / 1000 +
                                              config.generation.recovery_margin_s);
    return limits;
}

// Every batch job's bounds per run: short transactions, few locks at a time, and a run that
// never holds the job thread for long whatever the backlog (the next run takes the rest).
constexpr int64_t kJobBatch = 500;
constexpr lib::base::BatchBudget kJobBudget{20, std::chrono::seconds(10)};

}  // namespace

HandlerSet::HandlerSet(const lib::base::Config& config, lib::db::Pool& db,
                       const lib::base::Clock& clock, const lib::ai::ProviderMap& providers,
                       const lib::payments::MockProvider& mock_payments,
                       std::function<std::vector<lib::base::Job>()> jobs)
    : wallet(db, clock, WalletOptionsFor(config)),
      models(lib::generation::ModelCatalog(config)),
      generations(db, clock, wallet, LimitsFor(config)),
      generation_deps{generations, providers, models},
      ai_models(generation_deps),
      writing_tools(generation_deps),
      generate(generation_deps),
      history(generation_deps),
      image_generate(generation_deps),
      image_task(generation_deps),
      payment_providers(lib::payments::Providers::FromConfig(config, mock_payments)),
      notifies(payment_providers, wallet, clock),
      orders(db, clock, std::chrono::seconds(config.payment.order_ttl_s),
             lib::payments::RegistrationHook(payment_providers)),
      health(db),
      accounts(db, clock, config.auth),
      register_user(accounts),
      login(accounts),
      logout(accounts),
      me(accounts, clock),
      balance(wallet, clock, config.credit),
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
      testing_hooks(config.testing.hooks),
      test_charge(wallet),
      test_refund(wallet),
      test_run_jobs(std::move(jobs)) {}

App::App(const lib::base::Config& config, const lib::payments::MockProvider& mock_payments)
    : config_(config),
      db_(config_.db),
      providers_(config_),
      handlers_(config_, db_, clock_, providers_, mock_payments, [this] { return Jobs(); }),
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
             lib::base::RunBatches(kJobBudget, kJobBatch, [&] {
                 return static_cast<int64_t>(
                     wallet.ExpireOrders(clock.Now(), static_cast<int>(kJobBatch), reconcile));
             });
         }},
        {"idempotency.purge", std::chrono::minutes(10),
         [&db, &clock] {
             lib::base::RunBatches(kJobBudget, kJobBatch, [&] {
                 return static_cast<int64_t>(lib::billing::PurgeExpiredIdempotencyKeys(
                     db, clock.Now(), static_cast<int>(kJobBatch)));
             });
         }},
    };
    for (lib::base::Job& job : GenerationJobs(handlers_.generation_deps)) {
        jobs.push_back(std::move(job));
    }
    return jobs;
}

}  // namespace inkstone::handlers
