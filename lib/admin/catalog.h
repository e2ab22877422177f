#pragma once
/// The admin console's catalog (docs/admin-api.md, "Catalog"): recharge packages
/// (credit_prices), membership plans (membership_prices), per-model credit costs (model_prices
/// over the config's seed) and writing tools. Every write records its audit row and bumps
/// catalog_version in its transaction. Workers compare that version, read with each request's
/// token (http::Principal::catalog_version), with the one their cached tools and model prices
/// were loaded at, so a change applies to the next generation on every worker and host; the
/// public price lists and the order endpoints read these tables on every request anyway.
/// Orders already created keep the price they were created with (they copy it).
/// Thread-safe (no state). Errors: ApiError 404 / 409 / 422, db::DbError.
#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/admin/audit.h"
#include "lib/base/clock.h"
#include "lib/db/db.h"
#include "lib/generation/generations.h"

namespace inkstone::lib::admin {

/// A package or plan write: absent fields keep their value on update (and take the default on
/// create: bonus 0, active true, sort_order 0; credits, price_fen, plan, name and months are
/// required on create).
struct PackageFields {
    std::optional<int64_t> credits;
    std::optional<int64_t> bonus_credits;
    std::optional<int64_t> price_fen;
    std::optional<bool> active;
    std::optional<int64_t> sort_order;
};
struct PlanFields {
    std::optional<std::string> plan;
    std::optional<std::string> name;
    std::optional<int64_t> months;
    std::optional<int64_t> price_fen;
    std::optional<bool> active;
    std::optional<int64_t> sort_order;
};
struct ToolFields {
    std::optional<std::string> tool_type;
    std::optional<std::string> name;
    std::optional<std::string> description;
    std::optional<std::string> system_prompt;
    std::optional<std::string> user_template;  ///< must contain `{prompt}` (422)
    std::optional<bool> active;
    std::optional<int64_t> sort_order;
};

class Catalog {
  public:
    /// `models` is the config's model catalog (the seed prices).
    Catalog(db::Pool& pool, const base::Clock& clock,
            const std::vector<generation::ModelInfo>& models)
        : pool_(pool), clock_(clock), models_(models) {}

    Json::Value ListPackages() const;
    Json::Value CreatePackage(const Actor& actor, const PackageFields& fields,
                              const std::string& reason) const;
    Json::Value UpdatePackage(const Actor& actor, int64_t id, const PackageFields& fields,
                              const std::string& reason) const;

    Json::Value ListPlans() const;
    Json::Value CreatePlan(const Actor& actor, const PlanFields& fields,
                           const std::string& reason) const;
    Json::Value UpdatePlan(const Actor& actor, int64_t id, const PlanFields& fields,
                           const std::string& reason) const;

    /// `{"items": [{"model", "kind", "credits", "source": "table"|"config"}]}`.
    Json::Value ListModels() const;
    /// Sets the model's price (a model_prices row); 404 for a model the config does not know.
    Json::Value SetModelPrice(const Actor& actor, const std::string& model, int64_t credits,
                              const std::string& reason) const;

    Json::Value ListTools() const;
    Json::Value CreateTool(const Actor& actor, const ToolFields& fields,
                           const std::string& reason) const;
    Json::Value UpdateTool(const Actor& actor, int64_t id, const ToolFields& fields,
                           const std::string& reason) const;

  private:
    db::Pool& pool_;
    const base::Clock& clock_;
    const std::vector<generation::ModelInfo>& models_;
};

/// The messages a generation sends for this tool and prompt (POST /admin/catalog/tools/preview):
/// `{"messages": [{"role": "system", "content"}, {"role": "user", "content"}]}`. 422 on
/// `user_template` without `{prompt}`.
Json::Value PreviewTool(const std::string& system_prompt, const std::string& user_template,
                        const std::string& prompt);

/// 422 on `user_template` unless it contains `{prompt}`.
void CheckUserTemplate(const std::string& user_template);

}  // namespace inkstone::lib::admin
