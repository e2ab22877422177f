#include "handlers/admin_catalog.h"

#include <charconv>
#include <string>

#include "lib/admin/audit.h"
#include "lib/base/errors.h"
#include "lib/http/json_body.h"

namespace inkstone::handlers {
namespace {

namespace admin = lib::admin;
namespace http = lib::http;
using lib::base::ApiError;
using lib::base::ErrorCode;

constexpr int64_t kMaxAmount = 1'000'000'000;
constexpr int64_t kMaxSortOrder = 1'000'000;
constexpr size_t kMaxPromptChars = 20'000;

admin::PackageFields PackageOf(const http::Request& request) {
    const http::JsonFields f(request.json);
    admin::PackageFields fields;
    fields.credits = f.OptionalInt("credits", 1, kMaxAmount);
    fields.bonus_credits = f.OptionalInt("bonus_credits", 0, kMaxAmount);
    fields.price_fen = f.OptionalInt("price_fen", 1, kMaxAmount);
    fields.active = f.OptionalBool("active");
    fields.sort_order = f.OptionalInt("sort_order", -kMaxSortOrder, kMaxSortOrder);
    return fields;
}

admin::PlanFields PlanOf(const http::Request& request) {
    const http::JsonFields f(request.json);
    admin::PlanFields fields;
    fields.plan = f.OptionalString("plan", 1, 32);
    fields.name = f.OptionalString("name", 1, 64);
    fields.months = f.OptionalInt("months", 1, 120);
    fields.price_fen = f.OptionalInt("price_fen", 1, kMaxAmount);
    fields.active = f.OptionalBool("active");
    fields.sort_order = f.OptionalInt("sort_order", -kMaxSortOrder, kMaxSortOrder);
    return fields;
}

admin::ToolFields ToolOf(const http::Request& request) {
    const http::JsonFields f(request.json);
    admin::ToolFields fields;
    fields.tool_type = f.OptionalString("tool_type", 1, 32);
    fields.name = f.OptionalString("name", 1, 64);
    fields.description = f.OptionalString("description", 0, 255);
    fields.system_prompt = f.OptionalString("system_prompt", 1, kMaxPromptChars);
    fields.user_template = f.OptionalString("user_template", 1, kMaxPromptChars);
    fields.active = f.OptionalBool("active");
    fields.sort_order = f.OptionalInt("sort_order", -kMaxSortOrder, kMaxSortOrder);
    return fields;
}

}  // namespace

AdminCatalogHandlers::AdminCatalogHandlers(lib::db::Pool& pool, const lib::base::Clock& clock,
                                           const std::vector<lib::generation::ModelInfo>& models)
    : catalog(pool, clock, models),
      packages([this](const http::Request&) { return AdminJson(200, catalog.ListPackages()); }),
      package_create([this](const http::Request& request) {
          const admin::PackageFields fields = PackageOf(request);
          const std::string reason = admin::ParseReason(request.json);
          return AdminJson(201, catalog.CreatePackage(admin::ActorOf(request), fields, reason));
      }),
      package_update([this](const http::Request& request) {
          const int64_t id = AdminPathId(request, "package");
          const admin::PackageFields fields = PackageOf(request);
          const std::string reason = admin::ParseReason(request.json);
          return AdminJson(200, catalog.UpdatePackage(admin::ActorOf(request), id, fields, reason));
      }),
      plans([this](const http::Request&) { return AdminJson(200, catalog.ListPlans()); }),
      plan_create([this](const http::Request& request) {
          const admin::PlanFields fields = PlanOf(request);
          const std::string reason = admin::ParseReason(request.json);
          return AdminJson(201, catalog.CreatePlan(admin::ActorOf(request), fields, reason));
      }),
      plan_update([this](const http::Request& request) {
          const int64_t id = AdminPathId(request, "plan");
          const admin::PlanFields fields = PlanOf(request);
          const std::string reason = admin::ParseReason(request.json);
          return AdminJson(200, catalog.UpdatePlan(admin::ActorOf(request), id, fields, reason));
      }),
      models([this](const http::Request&) { return AdminJson(200, catalog.ListModels()); }),
      model_update([this](const http::Request& request) {
          const int64_t credits =
              http::JsonFields(request.json).RequiredInt("credits", 0, 1'000'000);
          const std::string reason = admin::ParseReason(request.json);
          return AdminJson(200, catalog.SetModelPrice(admin::ActorOf(request),
                                                      request.PathParam("model"), credits, reason));
      }),
      tools([this](const http::Request&) { return AdminJson(200, catalog.ListTools()); }),
      tool_create([this](const http::Request& request) {
          const admin::ToolFields fields = ToolOf(request);
          const std::string reason = admin::ParseReason(request.json);
          return AdminJson(201, catalog.CreateTool(admin::ActorOf(request), fields, reason));
      }),
      tool_update([this](const http::Request& request) {
          const int64_t id = AdminPathId(request, "tool");
          const admin::ToolFields fields = ToolOf(request);
          const std::string reason = admin::ParseReason(request.json);
          return AdminJson(200, catalog.UpdateTool(admin::ActorOf(request), id, fields, reason));
      }),
      tool_preview([](const http::Request& request) {
          const http::JsonFields f(request.json);
          const std::string system_prompt = f.RequiredString("system_prompt", 0, kMaxPromptChars);
          const std::string user_template = f.RequiredString("user_template", 1, kMaxPromptChars);
          const std::string prompt = f.RequiredString("prompt", 0, kMaxPromptChars);
          return AdminJson(200, admin::PreviewTool(system_prompt, user_template, prompt));
      }) {}

}  // namespace inkstone::handlers
