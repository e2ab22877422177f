#pragma once
/// The admin console's catalog routes (docs/admin-api.md, "Catalog"): packages, plans, model
/// prices and writing tools with the prompt preview. Thin: they read the whitelisted fields and
/// call lib::admin::Catalog. Every route is Auth::kAdmin (routes.cpp).
#include <vector>

#include "handlers/admin_users.h"
#include "lib/admin/catalog.h"

namespace inkstone::handlers {

struct AdminCatalogHandlers {
    AdminCatalogHandlers(lib::db::Pool& pool, const lib::base::Clock& clock,
                         const std::vector<lib::generation::ModelInfo>& models);
    // The handlers point at `catalog` in this object.
    AdminCatalogHandlers(const AdminCatalogHandlers&) = delete;
    AdminCatalogHandlers& operator=(const AdminCatalogHandlers&) = delete;

    const lib::admin::Catalog catalog;
    AdminHandler packages;
    AdminHandler package_create;
    AdminHandler package_update;
    AdminHandler plans;
    AdminHandler plan_create;
    AdminHandler plan_update;
    AdminHandler models;
    AdminHandler model_update;
    AdminHandler tools;
    AdminHandler tool_create;
    AdminHandler tool_update;
    AdminHandler tool_preview;
};

}  // namespace inkstone::handlers
