#include "handlers/routes.h"

#include "handlers/auth.h"
#include "handlers/credit.h"
#include "handlers/generation.h"
#include "handlers/health.h"
#include "handlers/payment.h"
#include "handlers/testing_hooks.h"
#include "lib/billing/idempotency.h"
#include "lib/payments/payment_keys.h"
#include "lib/payments/notify.h"
#include "lib/billing/wallet.h"

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
    limits.stale_after = std::chrono::seconds(
        (config.qwen.total_timeout_ms + 999) / 1000 + config.generation.recovery_margin_s);
    return limits;
}

// Rows per statement of a purge or expiry pass: short transactions, few locks at a time.
constexpr int kJobBatch = 500;

}  // namespace

struct Api::Handlers {
    Handlers(const Deps& deps, const Api& api)
        : wallet(deps.db, deps.clock, WalletOptionsFor(deps.config)),
          models(lib::generation::ModelCatalog(deps.config)),
          generations(deps.db, deps.clock, wallet, LimitsFor(deps.config)),
          generation_deps{generations, deps.providers, models, deps.clock},
          ai_models(generation_deps),
          writing_tools(generation_deps),
          generate(generation_deps),
          history(generation_deps),
          image_generate(generation_deps),
          image_task(generation_deps),
          payment_providers(lib::payments::Providers::FromConfig(deps.config, deps.mock_payments)),
          notifies(payment_providers, wallet, deps.clock),
          health(deps.db),
          register_user(deps.db, deps.clock, deps.config.auth),
          login(deps.db, deps.clock, deps.config.auth),
          logout(deps.db, deps.clock),
          me(deps.db, deps.clock),
          balance(wallet, deps.clock, deps.config.credit),
          credit_prices(deps.db),
          transactions(wallet),
          recharge(deps.db, deps.clock, deps.config.payment, payment_providers),
          recharge_orders(deps.db, OrderKind::kRecharge, deps.clock, payment_providers),
          recharge_order(deps.db, OrderKind::kRecharge, deps.clock, payment_providers),
          membership_prices(deps.db),
          membership(deps.db, deps.clock, deps.config.payment, payment_providers),
          membership_orders(deps.db, OrderKind::kMembership, deps.clock, payment_providers),
          membership_order(deps.db, OrderKind::kMembership, deps.clock, payment_providers),
          alipay_notify(notifies),
          wechat_notify(notifies),
          mock_pay(deps.db, payment_providers, notifies, deps.clock),
          testing_hooks(deps.config.testing.hooks),
          test_charge(wallet),
          test_refund(wallet),
          test_run_jobs([&api] { return api.Jobs(); }) {}
    const lib::billing::Wallet wallet;
    const std::vector<lib::generation::ModelInfo> models;
    lib::generation::Generations generations;
    const GenerationDeps generation_deps;
    ModelsHandler ai_models;
    ToolsHandler writing_tools;
    GenerateHandler generate;
    HistoryHandler history;
    ImageGenerateHandler image_generate;
    ImageTaskHandler image_task;
    const lib::payments::Providers payment_providers;
    const lib::payments::NotifyProcessor notifies;
    HealthHandler health;
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
    bool testing_hooks;
    SleepHandler test_sleep;
    StreamHandler test_stream;
    TestChargeHandler test_charge;
    TestRefundHandler test_refund;
    RunJobsHandler test_run_jobs;
};

Api::Api(const Deps& deps) : deps_(deps), handlers_(std::make_unique<Handlers>(deps, *this)) {}
Api::~Api() = default;

// clang-format off
std::vector<lib::http::Route> Api::Routes() const {
    using lib::http::Auth;
    using lib::http::BodyKind;
    using lib::http::Method;
    const Handlers& h = *handlers_;
    std::vector<lib::http::Route> routes = {
        // method      path                                        handler               auth           body
        {Method::kGet,  "/api/v1/health",                           &h.health,            Auth::kPublic, BodyKind::kNone},
        {Method::kPost, "/api/v1/auth/register",                    &h.register_user,     Auth::kPublic, BodyKind::kJson},
        {Method::kPost, "/api/v1/auth/login",                       &h.login,             Auth::kPublic, BodyKind::kJson},
        {Method::kPost, "/api/v1/auth/logout",                      &h.logout,            Auth::kUser,   BodyKind::kAny},
        {Method::kGet,  "/api/v1/users/me",                         &h.me,                Auth::kUser,   BodyKind::kNone},
        {Method::kGet,  "/api/v1/credit/balance",                   &h.balance,           Auth::kUser,   BodyKind::kNone},
        {Method::kGet,  "/api/v1/credit/prices",                    &h.credit_prices,     Auth::kPublic, BodyKind::kNone},
        {Method::kGet,  "/api/v1/credit/transactions",              &h.transactions,      Auth::kUser,   BodyKind::kNone},
        {Method::kPost, "/api/v1/credit/recharge",                  &h.recharge,          Auth::kUser,   BodyKind::kJson},
        {Method::kGet,  "/api/v1/credit/recharge/orders",           &h.recharge_orders,   Auth::kUser,   BodyKind::kNone},
        {Method::kGet,  "/api/v1/credit/recharge/orders/{order_no}", &h.recharge_order,   Auth::kUser,   BodyKind::kNone},
        {Method::kGet,  "/api/v1/credit/membership/prices",         &h.membership_prices, Auth::kPublic, BodyKind::kNone},
        {Method::kPost, "/api/v1/credit/membership",                &h.membership,        Auth::kUser,   BodyKind::kJson},
        {Method::kGet,  "/api/v1/credit/membership/orders",         &h.membership_orders, Auth::kUser,   BodyKind::kNone},
        {Method::kGet,  "/api/v1/credit/membership/orders/{order_no}", &h.membership_order, Auth::kUser, BodyKind::kNone},
        {Method::kGet,  "/api/v1/ai/models",                        &h.ai_models,         Auth::kPublic, BodyKind::kNone},
        {Method::kGet,  "/api/v1/writing/tools",                    &h.writing_tools,     Auth::kPublic, BodyKind::kNone},
        {Method::kPost, "/api/v1/writing/generate",                 &h.generate,          Auth::kUser,   BodyKind::kJson},
        {Method::kGet,  "/api/v1/writing/history",                  &h.history,           Auth::kUser,   BodyKind::kNone},
        {Method::kPost, "/api/v1/image/generate",                   &h.image_generate,    Auth::kUser,   BodyKind::kJson},
        {Method::kGet,  "/api/v1/image/tasks/{task_id}",            &h.image_task,        Auth::kUser,   BodyKind::kNone},
        // The providers' notifies: public, verified by signature. WeChat Pay signs the raw body,
        // so it is taken as sent (kAny) and never re-serialised before verification.
        {Method::kPost, lib::payments::kAlipayNotifyPath,                     &h.alipay_notify,     Auth::kPublic, BodyKind::kForm},
        {Method::kPost, lib::payments::kWechatNotifyPath,                     &h.wechat_notify,     Auth::kPublic, BodyKind::kAny},
    };
    if (!h.payment_providers.live()) {
        routes.push_back(
        {Method::kPost, kMockPayPath,                               &h.mock_pay,          Auth::kUser,   BodyKind::kJson});
    }
    if (h.testing_hooks) {
        routes.insert(routes.end(), {
        {Method::kGet,  "/api/v1/_test/sleep",                      &h.test_sleep,        Auth::kPublic, BodyKind::kNone},
        {Method::kGet,  "/api/v1/_test/stream",                     &h.test_stream,       Auth::kPublic, BodyKind::kNone},
        {Method::kPost, "/api/v1/_test/credit/charge",              &h.test_charge,       Auth::kUser,   BodyKind::kJson},
        {Method::kPost, "/api/v1/_test/credit/refund",              &h.test_refund,       Auth::kUser,   BodyKind::kJson},
        {Method::kPost, "/api/v1/_test/run-jobs",                   &h.test_run_jobs,     Auth::kPublic, BodyKind::kAny},
        });
    }
    return routes;
}
// clang-format on

std::vector<lib::base::Job> Api::Jobs() const {
    lib::db::Pool& db = deps_.db;
    const lib::base::Clock& clock = deps_.clock;
    const lib::billing::Wallet& wallet = handlers_->wallet;
    const lib::payments::NotifyProcessor& notifies = handlers_->notifies;
    // Live: before an order expires its provider is asked whether it was paid after all. Mock
    // mode has nobody to ask.
    lib::billing::Reconciler reconcile;
    if (handlers_->payment_providers.live()) {
        reconcile = [&notifies](const lib::billing::OverdueOrder& order) {
            return notifies.Reconcile(order);
        };
    }
    std::vector<lib::base::Job> jobs = {
        {"auth.purge", std::chrono::minutes(10),
         [&db, &clock] {
             while (PurgeExpiredAuthRows(db, clock.Now()) > 0) {
             }
         }},
        {"payment.expire_orders", std::chrono::seconds(30),
         [&wallet, &clock, reconcile] {
             while (wallet.ExpireOrders(clock.Now(), kJobBatch, reconcile) >= kJobBatch) {
             }
         }},
        {"idempotency.purge", std::chrono::minutes(10),
         [&db, &clock] {
             while (lib::billing::PurgeExpiredIdempotencyKeys(db, clock.Now(), kJobBatch) >= kJobBatch) {
             }
         }},
    };
    for (lib::base::Job& job : GenerationJobs(handlers_->generation_deps)) jobs.push_back(std::move(job));
    return jobs;
}

}  // namespace inkstone::handlers
