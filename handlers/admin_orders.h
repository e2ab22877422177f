#pragma once
/// The admin console's orders (docs/admin-api.md, "Orders"; README, "Refunds"): search, the
/// detail, reconcile now and refunds, each a thin handler around one lib/admin/orders service.
/// Every route is Auth::kAdmin (routes.cpp).
#include "handlers/admin_users.h"
#include "lib/base/clock.h"
#include "lib/db/db.h"
#include "lib/payments/notify.h"

namespace inkstone::handlers {

/// GET /admin/orders, GET /admin/orders/{order_no}, POST /admin/orders/{order_no}/reconcile,
/// POST /admin/orders/{order_no}/refund.
struct AdminOrderHandlers {
    AdminOrderHandlers(lib::db::Pool& pool, const lib::base::Clock& clock,
                       const lib::payments::NotifyProcessor& notifies);

    AdminHandler orders;
    AdminHandler order;
    AdminHandler order_reconcile;
    AdminHandler order_refund;
};

}  // namespace inkstone::handlers
