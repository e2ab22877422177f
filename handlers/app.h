#pragma once
/// The composition root: the one place that builds the application a worker serves with, in
/// dependency order: the database pool, the AI providers, the services of lib/, every handler,
/// the routing table (routes.cpp), the authenticator and the background jobs. Built once per
/// worker process, after fork; every object lives as long as the App.
#include <memory>
#include <vector>

#include "handlers/admin_catalog.h"
#include "handlers/admin_codes.h"
#include "handlers/admin_orders.h"
#include "handlers/admin_users.h"
#include "handlers/auth.h"
#include "handlers/credit.h"
#include "handlers/generation.h"
#include "handlers/health.h"
#include "handlers/payment.h"
#include "handlers/testing_hooks.h"
#include "lib/accounts/accounts.h"
#include "lib/ai/provider.h"
#include "lib/base/clock.h"
#include "lib/base/config.h"
#include "lib/base/jobs.h"
#include "lib/billing/order_service.h"
#include "lib/billing/wallet.h"
#include "lib/db/db.h"
#include "lib/db/health_probe.h"
#include "lib/generation/generations.h"
#include "lib/http/router.h"
#include "lib/payments/notify.h"

namespace inkstone::handlers {

/// Every service and handler instance. routes.cpp reads it to build the table.
struct HandlerSet {
    HandlerSet(const lib::base::Config& config, lib::db::Pool& db, lib::db::HealthProbe& probe,
               const lib::base::Clock& clock, const lib::ai::ProviderMap& providers,
               const lib::payments::MockProvider& mock_payments,
               std::function<std::vector<lib::base::Job>()> jobs);

    const lib::billing::Wallet wallet;
    const std::vector<lib::generation::ModelInfo> models;
    lib::generation::Generations generations;
    lib::generation::LiveBoard live_generations;
    const GenerationDeps generation_deps;
    ModelsHandler ai_models;
    ToolsHandler writing_tools;
    GenerateHandler generate;
    HistoryHandler history;
    GenerationHandler generation;
    GenerationStreamHandler generation_stream;
    CancelGenerationHandler generation_cancel;
    ImageGenerateHandler image_generate;
    ImageTaskHandler image_task;
    const lib::payments::Providers payment_providers;
    const lib::payments::NotifyProcessor notifies;
    const lib::billing::OrderService orders;
    HealthHandler health;
    const lib::accounts::Accounts accounts;
    RegisterHandler register_user;
    LoginHandler login;
    LogoutHandler logout;
    MeHandler me;
    BalanceHandler balance;
    CreditPricesHandler credit_prices;
    TransactionsHandler transactions;
    RechargeHandler recharge;
    OrderListHandler recharge_orders;
    OrderDetailHandler recharge_order;
    MembershipPricesHandler membership_prices;
    MembershipHandler membership;
    OrderListHandler membership_orders;
    OrderDetailHandler membership_order;
    AlipayNotifyHandler alipay_notify;
    WechatNotifyHandler wechat_notify;
    MockPayHandler mock_pay;
    AdminUserHandlers admin_users;
    AdminCatalogHandlers admin_catalog;
    AdminOrderHandlers admin_orders;
    AdminCodeHandlers admin_codes;
    bool testing_hooks;
    SleepHandler test_sleep;
    StreamHandler test_stream;
    TestChargeHandler test_charge;
    TestRefundHandler test_refund;
    RunJobsHandler test_run_jobs;
};

class App final {
  public:
    /// `mock_payments` is mock mode's provider key, made once by the master and inherited by
    /// every worker (lib::payments::NewMockProvider). Must outlive the App.
    App(const lib::base::Config& config, const lib::payments::MockProvider& mock_payments);
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    const lib::http::Router& router() const { return router_; }
    const lib::http::Authenticator& authenticator() const { return authenticator_; }
    /// The background jobs every worker runs (each safe on every host at once).
    std::vector<lib::base::Job> Jobs();
    /// The worker is draining with `threads_left` request threads: the DB pool keeps at most
    /// one idle connection for each.
    void Draining(int threads_left) { db_.LimitIdle(threads_left); }

  private:
    const lib::base::Config config_;
    const lib::base::SystemClock clock_;
    lib::db::Pool db_;
    lib::db::HealthProbe health_probe_;
    const lib::ai::ProviderMap providers_;
    const HandlerSet handlers_;
    const lib::http::Router router_;
    const lib::accounts::TokenAuthenticator authenticator_;
};

}  // namespace inkstone::handlers
