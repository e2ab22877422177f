// The routing table: one row per endpoint, nothing else (handlers/app.cpp builds what the rows
// point at).
#include "handlers/routes.h"

#include "handlers/app.h"
#include "lib/payments/payment_keys.h"

namespace inkstone::handlers {

// clang-format off
std::vector<lib::http::Route> Routes(const HandlerSet& h) {
    using lib::http::Auth;
    using lib::http::BodyKind;
    using lib::http::Method;
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
        {Method::kGet,  "/api/v1/writing/generations/{id}",         &h.generation,        Auth::kUser,   BodyKind::kNone},
        {Method::kGet,  "/api/v1/writing/generations/{id}/stream",  &h.generation_stream, Auth::kUser,   BodyKind::kNone},
        {Method::kPost, "/api/v1/writing/generations/{id}/cancel",  &h.generation_cancel, Auth::kUser,   BodyKind::kAny},
        {Method::kPost, "/api/v1/image/generate",                   &h.image_generate,    Auth::kUser,   BodyKind::kJson},
        {Method::kGet,  "/api/v1/image/tasks/{task_id}",            &h.image_task,        Auth::kUser,   BodyKind::kNone},
        // The providers' notifies: public, verified by signature. WeChat Pay signs the raw body,
        // so it is taken as sent (kAny) and never re-serialised before verification.
        {Method::kPost, lib::payments::kAlipayNotifyPath,                     &h.alipay_notify,     Auth::kPublic, BodyKind::kForm},
        {Method::kPost, lib::payments::kWechatNotifyPath,                     &h.wechat_notify,     Auth::kPublic, BodyKind::kAny},
        // admin console: users, dashboard, catalog, audit
        {Method::kGet,  "/api/v1/admin/users",                      &h.admin_users.users, Auth::kAdmin, BodyKind::kNone},
        {Method::kGet,  "/api/v1/admin/users/{id}",                 &h.admin_users.user,  Auth::kAdmin, BodyKind::kNone},
        {Method::kPost, "/api/v1/admin/users/{id}/credits",         &h.admin_users.user_credits,    Auth::kAdmin, BodyKind::kJson},
        {Method::kPost, "/api/v1/admin/users/{id}/membership",      &h.admin_users.user_membership, Auth::kAdmin, BodyKind::kJson},
        {Method::kPost, "/api/v1/admin/users/{id}/disable",         &h.admin_users.user_disable,    Auth::kAdmin, BodyKind::kJson},
        {Method::kPost, "/api/v1/admin/users/{id}/enable",          &h.admin_users.user_enable,     Auth::kAdmin, BodyKind::kJson},
        {Method::kGet,  "/api/v1/admin/dashboard",                  &h.admin_users.dashboard, Auth::kAdmin, BodyKind::kNone},
        {Method::kGet,  "/api/v1/admin/catalog/packages",           &h.admin_catalog.packages,       Auth::kAdmin, BodyKind::kNone},
        {Method::kPost, "/api/v1/admin/catalog/packages",           &h.admin_catalog.package_create, Auth::kAdmin, BodyKind::kJson},
        {Method::kPut,  "/api/v1/admin/catalog/packages/{id}",      &h.admin_catalog.package_update, Auth::kAdmin, BodyKind::kJson},
        {Method::kGet,  "/api/v1/admin/catalog/plans",              &h.admin_catalog.plans,          Auth::kAdmin, BodyKind::kNone},
        {Method::kPost, "/api/v1/admin/catalog/plans",              &h.admin_catalog.plan_create,    Auth::kAdmin, BodyKind::kJson},
        {Method::kPut,  "/api/v1/admin/catalog/plans/{id}",         &h.admin_catalog.plan_update,    Auth::kAdmin, BodyKind::kJson},
        {Method::kGet,  "/api/v1/admin/catalog/models",             &h.admin_catalog.models,         Auth::kAdmin, BodyKind::kNone},
        {Method::kPut,  "/api/v1/admin/catalog/models/{model}",     &h.admin_catalog.model_update,   Auth::kAdmin, BodyKind::kJson},
        {Method::kGet,  "/api/v1/admin/catalog/tools",              &h.admin_catalog.tools,          Auth::kAdmin, BodyKind::kNone},
        {Method::kPost, "/api/v1/admin/catalog/tools",              &h.admin_catalog.tool_create,    Auth::kAdmin, BodyKind::kJson},
        {Method::kPost, "/api/v1/admin/catalog/tools/preview",      &h.admin_catalog.tool_preview,   Auth::kAdmin, BodyKind::kJson},
        {Method::kPut,  "/api/v1/admin/catalog/tools/{id}",         &h.admin_catalog.tool_update,    Auth::kAdmin, BodyKind::kJson},
        {Method::kGet,  "/api/v1/admin/orders",                     &h.admin_orders.orders,          Auth::kAdmin, BodyKind::kNone},
        {Method::kGet,  "/api/v1/admin/orders/{order_no}",          &h.admin_orders.order,           Auth::kAdmin, BodyKind::kNone},
        {Method::kPost, "/api/v1/admin/orders/{order_no}/reconcile", &h.admin_orders.order_reconcile, Auth::kAdmin, BodyKind::kJson},
        {Method::kPost, "/api/v1/admin/orders/{order_no}/refund",   &h.admin_orders.order_refund,    Auth::kAdmin, BodyKind::kJson},
        {Method::kGet,  "/api/v1/admin/audit",                      &h.admin_users.audit, Auth::kAdmin, BodyKind::kNone},
        // admin console: redemption codes
        {Method::kPost, "/api/v1/admin/codes/batches",              &h.admin_codes.create,        Auth::kAdmin, BodyKind::kJson},
        {Method::kGet,  "/api/v1/admin/codes/batches",              &h.admin_codes.batches,       Auth::kAdmin, BodyKind::kNone},
        {Method::kGet,  "/api/v1/admin/codes/batches/{id}",         &h.admin_codes.batch,         Auth::kAdmin, BodyKind::kNone},
        {Method::kGet,  "/api/v1/admin/codes/batches/{id}/export",  &h.admin_codes.batch_export,  Auth::kAdmin, BodyKind::kNone},
        {Method::kPost, "/api/v1/admin/codes/batches/{id}/disable", &h.admin_codes.batch_disable, Auth::kAdmin, BodyKind::kJson},
        {Method::kPost, "/api/v1/credit/redeem",                    &h.admin_codes.redeem,        Auth::kUser,  BodyKind::kJson},
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

}  // namespace inkstone::handlers
