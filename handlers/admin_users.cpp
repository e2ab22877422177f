#include "handlers/admin_users.h"

#include <charconv>
#include <optional>
#include <string>
#include <utility>

#include "handlers/credit_views.h"
#include "lib/admin/audit.h"
#include "lib/admin/dashboard.h"
#include "lib/admin/users.h"
#include "lib/base/errors.h"
#include "lib/base/json.h"
#include "lib/http/json_body.h"
#include "lib/http/paging.h"

namespace inkstone::handlers {
namespace {

namespace admin = lib::admin;
namespace http = lib::http;
using lib::base::ApiError;
using lib::base::ErrorCode;

}  // namespace

http::Response AdminJson(int status, const Json::Value& body) {
    http::Response response = http::Response::Json(status, body);
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

int64_t AdminPathId(const http::Request& request, const char* what) {
    const std::string text = request.PathParam("id");
    int64_t id = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || id <= 0) {
        throw ApiError(ErrorCode::kNotFound, std::string(what) + " not found");
    }
    return id;
}

AdminUserHandlers::AdminUserHandlers(lib::db::Pool& pool, const lib::base::Clock& clock)
    : users([&pool, &clock](const http::Request& request) {
          const std::string q = request.QueryParam("q").value_or("");
          if (q.size() > 254) throw ApiError::Validation("q", "at most 254 characters");
          return AdminJson(
              200, admin::SearchUsers(pool, q, http::ParsePageRequest(request), clock.Now()));
      }),
      user([&pool, &clock](const http::Request& request) {
          const admin::UserDetail detail =
              admin::GetUserDetail(pool, clock, AdminPathId(request, "user"));
          Json::Value body(Json::objectValue);
          body["user"] = detail.user;
          Json::Value ledger(Json::arrayValue);
          for (const auto& entry : detail.ledger) ledger.append(LedgerEntryToJson(entry));
          body["ledger"] = std::move(ledger);
          body["orders"] = detail.orders;
          body["generations"] = detail.generations;
          body["membership_grants"] = detail.membership_grants;
          return AdminJson(200, body);
      }),
      user_credits([&pool, &clock](const http::Request& request) {
          const int64_t user_id = AdminPathId(request, "user");
          const http::JsonFields fields(request.json);
          const int64_t amount = fields.RequiredInt("amount", -1'000'000'000, 1'000'000'000);
          const std::string reason = admin::ParseReason(request.json);
          const admin::Adjustment result =
              admin::AdjustCredits(pool, clock, admin::ActorOf(request), user_id, amount, reason);
          Json::Value body(Json::objectValue);
          body["balance"] = Json::Int64{result.balance};
          body["transaction"] = LedgerEntryToJson(result.transaction);
          return AdminJson(200, body);
      }),
      user_membership([&pool, &clock](const http::Request& request) {
          const int64_t user_id = AdminPathId(request, "user");
          const http::JsonFields fields(request.json);
          admin::MembershipGrant grant;
          grant.days =
              static_cast<int>(fields.OptionalInt("days", 1, admin::kMaxGrantDays).value_or(0));
          grant.months =
              static_cast<int>(fields.OptionalInt("months", 1, admin::kMaxGrantMonths).value_or(0));
          const std::string reason = admin::ParseReason(request.json);
          const admin::GrantResult result =
              admin::GrantMembership(pool, clock, admin::ActorOf(request), user_id, grant, reason);
          Json::Value body(Json::objectValue);
          body["member_expired_at"] = lib::base::TimeOrNull(result.member_expired_at);
          body["grant"] = result.grant;
          return AdminJson(200, body);
      }),
      user_disable([&pool, &clock](const http::Request& request) {
          const int64_t user_id = AdminPathId(request, "user");
          const std::string reason = admin::ParseReason(request.json);
          Json::Value body(Json::objectValue);
          body["user"] =
              admin::SetDisabled(pool, clock, admin::ActorOf(request), user_id, true, reason);
          return AdminJson(200, body);
      }),
      user_enable([&pool, &clock](const http::Request& request) {
          const int64_t user_id = AdminPathId(request, "user");
          const std::string reason = admin::ParseReason(request.json);
          Json::Value body(Json::objectValue);
          body["user"] =
              admin::SetDisabled(pool, clock, admin::ActorOf(request), user_id, false, reason);
          return AdminJson(200, body);
      }),
      audit([&pool](const http::Request& request) {
          return AdminJson(200, admin::ListAudit(pool, admin::ParseAuditFilter(request),
                                                 http::ParsePageRequest(request)));
      }),
      dashboard([&pool, &clock](const http::Request&) {
          return AdminJson(200, admin::Dashboard(pool, clock.Now()));
      }) {}

}  // namespace inkstone::handlers
