#include "lib/admin/catalog.h"

#include <map>
#include <utility>

#include "lib/base/errors.h"

namespace inkstone::lib::admin {
namespace {

using base::ApiError;
using base::ErrorCode;

constexpr char kBumpVersionSql[] = "UPDATE catalog_version SET version = version + 1 WHERE id = 1";

constexpr char kListPackagesSql[] =
    "SELECT id, credits, bonus_credits, price_fen, active, sort_order FROM credit_prices "
    "ORDER BY sort_order, id";
constexpr char kSelectPackageSql[] =
    "SELECT id, credits, bonus_credits, price_fen, active, sort_order FROM credit_prices "
    "WHERE id = ? FOR UPDATE";
constexpr char kInsertPackageSql[] =
    "INSERT INTO credit_prices (credits, bonus_credits, price_fen, active, sort_order) "
    "VALUES (?, ?, ?, ?, ?)";
constexpr char kUpdatePackageSql[] =
    "UPDATE credit_prices SET credits = ?, bonus_credits = ?, price_fen = ?, active = ?, "
    "sort_order = ? WHERE id = ?";

constexpr char kListPlansSql[] =
    "SELECT id, plan, name, months, price_fen, active, sort_order FROM membership_prices "
    "ORDER BY sort_order, id";
constexpr char kSelectPlanSql[] =
    "SELECT id, plan, name, months, price_fen, active, sort_order FROM membership_prices "
    "WHERE id = ? FOR UPDATE";
constexpr char kInsertPlanSql[] =
    "INSERT INTO membership_prices (plan, name, months, price_fen, active, sort_order) "
    "VALUES (?, ?, ?, ?, ?, ?)";
constexpr char kUpdatePlanSql[] =
    "UPDATE membership_prices SET plan = ?, name = ?, months = ?, price_fen = ?, active = ?, "
    "sort_order = ? WHERE id = ?";

constexpr char kListModelPricesSql[] = "SELECT model, credits FROM model_prices";
constexpr char kSelectModelPriceSql[] =
    "SELECT credits FROM model_prices WHERE model = ? FOR UPDATE";
constexpr char kUpsertModelPriceSql[] =
    "INSERT INTO model_prices (model, credits, updated_at) VALUES (?, ?, ?) "
    "ON DUPLICATE KEY UPDATE credits = VALUES(credits), updated_at = VALUES(updated_at)";

constexpr char kListToolsSql[] =
    "SELECT id, tool_type, name, description, system_prompt, user_template, active, sort_order "
    "FROM writing_tools ORDER BY sort_order, id";
constexpr char kSelectToolSql[] =
    "SELECT id, tool_type, name, description, system_prompt, user_template, active, sort_order "
    "FROM writing_tools WHERE id = ? FOR UPDATE";
constexpr char kInsertToolSql[] =
    "INSERT INTO writing_tools (tool_type, name, description, system_prompt, user_template, "
    "active, sort_order) VALUES (?, ?, ?, ?, ?, ?, ?)";
constexpr char kUpdateToolSql[] =
    "UPDATE writing_tools SET tool_type = ?, name = ?, description = ?, system_prompt = ?, "
    "user_template = ?, active = ?, sort_order = ? WHERE id = ?";

Json::Value PackageRow(const db::Rows& row) {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64{row.Int("id")};
    json["credits"] = Json::Int64{row.Int("credits")};
    json["bonus_credits"] = Json::Int64{row.Int("bonus_credits")};
    json["price_fen"] = Json::Int64{row.Int("price_fen")};
    json["active"] = row.Bool("active");
    json["sort_order"] = Json::Int64{row.Int("sort_order")};
    return json;
}

Json::Value PlanRow(const db::Rows& row) {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64{row.Int("id")};
    json["plan"] = row.String("plan");
    json["name"] = row.String("name");
    json["months"] = Json::Int64{row.Int("months")};
    json["price_fen"] = Json::Int64{row.Int("price_fen")};
    json["active"] = row.Bool("active");
    json["sort_order"] = Json::Int64{row.Int("sort_order")};
    return json;
}

Json::Value ToolRow(const db::Rows& row) {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64{row.Int("id")};
    json["tool_type"] = row.String("tool_type");
    json["name"] = row.String("name");
    json["description"] = row.String("description");
    json["system_prompt"] = row.String("system_prompt");
    json["user_template"] = row.String("user_template");
    json["active"] = row.Bool("active");
    json["sort_order"] = Json::Int64{row.Int("sort_order")};
    return json;
}

Json::Value ListOf(db::Pool& pool, const char* sql, Json::Value (*render)(const db::Rows&)) {
    return db::WithLease(pool, [&](db::Lease& lease) {
        Json::Value items(Json::arrayValue);
        db::Rows rows = lease.Query(sql);
        while (rows.Next()) items.append(render(rows));
        Json::Value body(Json::objectValue);
        body["items"] = std::move(items);
        return body;
    });
}

/// The row `id` (locked) as rendered, or 404.
Json::Value LockedRow(db::Transaction& tx, const char* sql, int64_t id,
                      Json::Value (*render)(const db::Rows&), const char* what) {
    db::Rows rows = tx.Query(sql, id);
    if (!rows.Next()) throw ApiError(ErrorCode::kNotFound, std::string(what) + " not found");
    return render(rows);
}

/// Records the write and bumps catalog_version: the last two statements of every catalog write.
void Finish(db::Transaction& tx, const Actor& actor, AuditEntry entry, base::TimePoint now) {
    tx.Execute(kBumpVersionSql);
    RecordAudit(tx, actor, entry, now);
}

template <class T>
T Required(const std::optional<T>& value, const char* field) {
    if (!value) throw ApiError::Validation(field, std::string(field) + " is required");
    return *value;
}

/// A clash on a UNIQUE key (plan, tool_type) is the caller's 409, not a 500.
template <class F>
auto UniqueOr409(const char* what, F&& fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const db::DbError& e) {
        if (e.kind != db::ErrorKind::kDuplicate) throw;
        throw ApiError(ErrorCode::kConflict, std::string(what) + " already exists");
    }
}

bool IsSlug(const std::string& text) {
    if (text.empty() || text.size() > 32) return false;
    for (char c : text) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

}  // namespace

void CheckUserTemplate(const std::string& user_template) {
    if (user_template.find("{prompt}") == std::string::npos) {
        throw ApiError::Validation("user_template", "user_template must contain {prompt}");
    }
}

Json::Value PreviewTool(const std::string& system_prompt, const std::string& user_template,
                        const std::string& prompt) {
    CheckUserTemplate(user_template);
    generation::WritingTool tool;
    tool.system_prompt = system_prompt;
    tool.user_template = user_template;
    Json::Value messages(Json::arrayValue);
    Json::Value system(Json::objectValue);
    system["role"] = "system";
    system["content"] = system_prompt;
    messages.append(std::move(system));
    Json::Value user(Json::objectValue);
    user["role"] = "user";
    user["content"] = tool.Render(prompt);
    messages.append(std::move(user));
    Json::Value body(Json::objectValue);
    body["messages"] = std::move(messages);
    return body;
}

// ---- Packages ----

Json::Value Catalog::ListPackages() const { return ListOf(pool_, kListPackagesSql, PackageRow); }

Json::Value Catalog::CreatePackage(const Actor& actor, const PackageFields& f,
                                   const std::string& reason) const {
    const int64_t credits = Required(f.credits, "credits");
    const int64_t price_fen = Required(f.price_fen, "price_fen");
    return db::RetryOnAborted(pool_, "admin.catalog.package", [&](db::Transaction& tx) {
        const int64_t id = tx.Insert(kInsertPackageSql, credits, f.bonus_credits.value_or(0),
                                     price_fen, f.active.value_or(true), f.sort_order.value_or(0));
        Json::Value row = LockedRow(tx, kSelectPackageSql, id, PackageRow, "package");
        Finish(tx, actor,
               AuditEntry{"catalog.package.create", "package", std::to_string(id), Json::Value(),
                          row, reason},
               clock_.Now());
        return row;
    });
}

Json::Value Catalog::UpdatePackage(const Actor& actor, int64_t id, const PackageFields& f,
                                   const std::string& reason) const {
    return db::RetryOnAborted(pool_, "admin.catalog.package", [&](db::Transaction& tx) {
        const Json::Value before = LockedRow(tx, kSelectPackageSql, id, PackageRow, "package");
        tx.Execute(kUpdatePackageSql, f.credits.value_or(before["credits"].asInt64()),
                   f.bonus_credits.value_or(before["bonus_credits"].asInt64()),
                   f.price_fen.value_or(before["price_fen"].asInt64()),
                   f.active.value_or(before["active"].asBool()),
                   f.sort_order.value_or(before["sort_order"].asInt64()), id);
        Json::Value after = LockedRow(tx, kSelectPackageSql, id, PackageRow, "package");
        Finish(tx, actor,
               AuditEntry{"catalog.package.update", "package", std::to_string(id), before, after,
                          reason},
               clock_.Now());
        return after;
    });
}

// ---- Plans ----

Json::Value Catalog::ListPlans() const { return ListOf(pool_, kListPlansSql, PlanRow); }

Json::Value Catalog::CreatePlan(const Actor& actor, const PlanFields& f,
                                const std::string& reason) const {
    const std::string plan = Required(f.plan, "plan");
    if (!IsSlug(plan)) throw ApiError::Validation("plan", "plan must be 1-32 of [a-z0-9_-]");
    const std::string name = Required(f.name, "name");
    const int64_t months = Required(f.months, "months");
    const int64_t price_fen = Required(f.price_fen, "price_fen");
    return UniqueOr409("plan", [&] {
        return db::RetryOnAborted(pool_, "admin.catalog.plan", [&](db::Transaction& tx) {
            const int64_t id = tx.Insert(kInsertPlanSql, plan, name, months, price_fen,
                                         f.active.value_or(true), f.sort_order.value_or(0));
            Json::Value row = LockedRow(tx, kSelectPlanSql, id, PlanRow, "plan");
            Finish(tx, actor,
                   AuditEntry{"catalog.plan.create", "plan", std::to_string(id), Json::Value(), row,
                              reason},
                   clock_.Now());
            return row;
        });
    });
}

Json::Value Catalog::UpdatePlan(const Actor& actor, int64_t id, const PlanFields& f,
                                const std::string& reason) const {
    if (f.plan && !IsSlug(*f.plan)) {
        throw ApiError::Validation("plan", "plan must be 1-32 of [a-z0-9_-]");
    }
    return UniqueOr409("plan", [&] {
        return db::RetryOnAborted(pool_, "admin.catalog.plan", [&](db::Transaction& tx) {
            const Json::Value before = LockedRow(tx, kSelectPlanSql, id, PlanRow, "plan");
            tx.Execute(kUpdatePlanSql, f.plan.value_or(before["plan"].asString()),
                       f.name.value_or(before["name"].asString()),
                       f.months.value_or(before["months"].asInt64()),
                       f.price_fen.value_or(before["price_fen"].asInt64()),
                       f.active.value_or(before["active"].asBool()),
                       f.sort_order.value_or(before["sort_order"].asInt64()), id);
            Json::Value after = LockedRow(tx, kSelectPlanSql, id, PlanRow, "plan");
            Finish(tx, actor,
                   AuditEntry{"catalog.plan.update", "plan", std::to_string(id), before, after,
                              reason},
                   clock_.Now());
            return after;
        });
    });
}

// ---- Model prices ----

Json::Value Catalog::ListModels() const {
    return db::WithLease(pool_, [&](db::Lease& lease) {
        std::map<std::string, int64_t> prices;
        db::Rows rows = lease.Query(kListModelPricesSql);
        while (rows.Next()) prices[rows.String("model")] = rows.Int("credits");
        Json::Value items(Json::arrayValue);
        for (const generation::ModelInfo& model : models_) {
            Json::Value item(Json::objectValue);
            item["model"] = model.model;
            item["kind"] = std::string(ToSql(model.kind));
            const auto found = prices.find(model.model);
            item["credits"] = Json::Int64{found == prices.end() ? model.credits : found->second};
            item["source"] = found == prices.end() ? "config" : "table";
            items.append(std::move(item));
        }
        Json::Value body(Json::objectValue);
        body["items"] = std::move(items);
        return body;
    });
}

Json::Value Catalog::SetModelPrice(const Actor& actor, const std::string& model, int64_t credits,
                                   const std::string& reason) const {
    const generation::ModelInfo* info = generation::FindModel(models_, model);
    if (info == nullptr) throw ApiError(ErrorCode::kNotFound, "unknown model " + model);
    return db::RetryOnAborted(pool_, "admin.catalog.model", [&](db::Transaction& tx) {
        const base::TimePoint now = clock_.Now();
        Json::Value before(Json::objectValue);
        {
            db::Rows rows = tx.Query(kSelectModelPriceSql, model);
            const bool has_row = rows.Next();
            before["credits"] = Json::Int64{has_row ? rows.Int("credits") : info->credits};
            before["source"] = has_row ? "table" : "config";
        }
        tx.Execute(kUpsertModelPriceSql, model, credits, now);
        Json::Value after(Json::objectValue);
        after["model"] = model;
        after["kind"] = std::string(ToSql(info->kind));
        after["credits"] = Json::Int64{credits};
        after["source"] = "table";
        Finish(tx, actor, AuditEntry{"catalog.model.update", "model", model, before, after, reason},
               now);
        return after;
    });
}

// ---- Writing tools ----

Json::Value Catalog::ListTools() const { return ListOf(pool_, kListToolsSql, ToolRow); }

Json::Value Catalog::CreateTool(const Actor& actor, const ToolFields& f,
                                const std::string& reason) const {
    const std::string tool_type = Required(f.tool_type, "tool_type");
    if (!IsSlug(tool_type)) {
        throw ApiError::Validation("tool_type", "tool_type must be 1-32 of [a-z0-9_-]");
    }
    const std::string name = Required(f.name, "name");
    const std::string system_prompt = Required(f.system_prompt, "system_prompt");
    const std::string user_template = Required(f.user_template, "user_template");
    CheckUserTemplate(user_template);
    return UniqueOr409("tool_type", [&] {
        return db::RetryOnAborted(pool_, "admin.catalog.tool", [&](db::Transaction& tx) {
            const int64_t id = tx.Insert(kInsertToolSql, tool_type, name,
                                         f.description.value_or(""), system_prompt, user_template,
                                         f.active.value_or(true), f.sort_order.value_or(0));
            Json::Value row = LockedRow(tx, kSelectToolSql, id, ToolRow, "tool");
            Finish(tx, actor,
                   AuditEntry{"catalog.tool.create", "tool", std::to_string(id), Json::Value(), row,
                              reason},
                   clock_.Now());
            return row;
        });
    });
}

Json::Value Catalog::UpdateTool(const Actor& actor, int64_t id, const ToolFields& f,
                                const std::string& reason) const {
    if (f.tool_type && !IsSlug(*f.tool_type)) {
        throw ApiError::Validation("tool_type", "tool_type must be 1-32 of [a-z0-9_-]");
    }
    if (f.user_template) CheckUserTemplate(*f.user_template);
    return UniqueOr409("tool_type", [&] {
        return db::RetryOnAborted(pool_, "admin.catalog.tool", [&](db::Transaction& tx) {
            const Json::Value before = LockedRow(tx, kSelectToolSql, id, ToolRow, "tool");
            tx.Execute(kUpdateToolSql, f.tool_type.value_or(before["tool_type"].asString()),
                       f.name.value_or(before["name"].asString()),
                       f.description.value_or(before["description"].asString()),
                       f.system_prompt.value_or(before["system_prompt"].asString()),
                       f.user_template.value_or(before["user_template"].asString()),
                       f.active.value_or(before["active"].asBool()),
                       f.sort_order.value_or(before["sort_order"].asInt64()), id);
            Json::Value after = LockedRow(tx, kSelectToolSql, id, ToolRow, "tool");
            Finish(tx, actor,
                   AuditEntry{"catalog.tool.update", "tool", std::to_string(id), before, after,
                              reason},
                   clock_.Now());
            return after;
        });
    });
}

}  // namespace inkstone::lib::admin
