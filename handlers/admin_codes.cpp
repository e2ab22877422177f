#include "handlers/admin_codes.h"

#include <charconv>
#include <optional>
#include <string>
#include <utility>

#include "lib/accounts/auth.h"
#include "lib/admin/audit.h"
#include "lib/base/errors.h"
#include "lib/http/json_body.h"
#include "lib/http/paging.h"

namespace inkstone::handlers {
namespace {

namespace admin = lib::admin;
namespace http = lib::http;
using lib::base::ApiError;
using lib::base::ErrorCode;

/// What a user may type into the redeem box: long enough for a code with generous spacing.
constexpr size_t kMaxCodeInputChars = 100;

}  // namespace

AdminCodeHandlers::AdminCodeHandlers(lib::db::Pool& pool, const lib::base::Clock& clock,
                                     const lib::base::RedeemConfig& config)
    : create([&pool, &clock](const http::Request& request) {
          const admin::NewBatch batch = admin::ParseNewBatch(request.json);
          const std::string reason = admin::ParseReason(request.json);
          const admin::CreatedBatch created =
              admin::CreateBatch(pool, clock, admin::ActorOf(request), batch, reason);
          Json::Value body(Json::objectValue);
          body["batch"] = created.batch;
          Json::Value codes(Json::arrayValue);
          for (const std::string& code : created.codes) codes.append(code);
          body["codes"] = std::move(codes);
          return AdminJson(201, body);
      }),
      batches([&pool](const http::Request& request) {
          return AdminJson(200, admin::ListBatches(pool, http::ParsePageRequest(request)));
      }),
      batch([&pool](const http::Request& request) {
          const int64_t id = AdminPathId(request, "batch");
          return AdminJson(200, admin::GetBatch(pool, id, http::ParsePageRequest(request)));
      }),
      batch_export([&pool](const http::Request& request) {
          const int64_t id = AdminPathId(request, "batch");
          http::Response response =
              http::Response::Text(200, "text/csv; charset=utf-8", admin::ExportCsv(pool, id));
          response.headers.emplace_back(
              "Content-Disposition",
              "attachment; filename=\"inkstone-codes-" + std::to_string(id) + ".csv\"");
          response.headers.emplace_back("Cache-Control", "no-store");
          return response;
      }),
      batch_disable([&pool, &clock](const http::Request& request) {
          const int64_t id = AdminPathId(request, "batch");
          const std::string reason = admin::ParseReason(request.json);
          return AdminJson(200,
                           admin::DisableBatch(pool, clock, admin::ActorOf(request), id, reason));
      }),
      redeem([&pool, &clock,
              limits = admin::RedeemLimits::FromConfig(config)](const http::Request& request) {
          const http::JsonFields fields(request.json);
          const std::string code = fields.RequiredString("code", 1, kMaxCodeInputChars);
          const admin::RedeemResult result =
              admin::Redeem(pool, clock, limits, request.principal->user_id,
                            lib::accounts::ThrottleClientKey(request.remote_addr), code);
          Json::Value body(Json::objectValue);
          body["credits_added"] = Json::Int64{result.credits_added};
          body["days_added"] = result.days_added;
          body["balance"] = Json::Int64{result.balance};
          body["member_expired_at"] =
              result.member_expired_at
                  ? Json::Value(lib::base::FormatRfc3339(*result.member_expired_at))
                  : Json::Value(Json::nullValue);
          return AdminJson(200, body);
      }) {}

}  // namespace inkstone::handlers
