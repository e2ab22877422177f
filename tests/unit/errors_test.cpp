#include "lib/base/errors.h"

#include <gtest/gtest.h>

#include "lib/http/message.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::http;
namespace {

TEST(Errors, TableMatchesSpec) {
    struct Row {
        ErrorCode code;
        int status;
        const char* machine;
    };
    for (Row row :
         {Row{ErrorCode::kBadRequest, 400, "BAD_REQUEST"},
          Row{ErrorCode::kInvalidJson, 400, "INVALID_JSON"},
          Row{ErrorCode::kUnauthorized, 401, "UNAUTHORIZED"},
          Row{ErrorCode::kInsufficientCredits, 402, "INSUFFICIENT_CREDITS"},
          Row{ErrorCode::kForbidden, 403, "FORBIDDEN"}, Row{ErrorCode::kNotFound, 404, "NOT_FOUND"},
          Row{ErrorCode::kMethodNotAllowed, 405, "METHOD_NOT_ALLOWED"},
          Row{ErrorCode::kConflict, 409, "CONFLICT"},
          Row{ErrorCode::kPayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"},
          Row{ErrorCode::kUnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE"},
          Row{ErrorCode::kValidation, 422, "VALIDATION_ERROR"},
          Row{ErrorCode::kContentRejected, 422, "CONTENT_REJECTED"},
          Row{ErrorCode::kRateLimited, 429, "RATE_LIMITED"},
          Row{ErrorCode::kUpstreamError, 502, "UPSTREAM_ERROR"},
          Row{ErrorCode::kUnavailable, 503, "UNAVAILABLE"},
          Row{ErrorCode::kUpstreamBusy, 503, "UPSTREAM_BUSY"},
          Row{ErrorCode::kUpstreamTimeout, 504, "UPSTREAM_TIMEOUT"}}) {
        EXPECT_EQ(HttpStatus(row.code), row.status) << row.machine;
        EXPECT_EQ(MachineCode(row.code), row.machine);
    }
}

TEST(Errors, BodyCarriesExtrasAndRetryAfter) {
    ApiError e = ApiError::Validation("username", "too short");
    Json::Value body = e.Body();
    EXPECT_EQ(body["code"], "VALIDATION_ERROR");
    EXPECT_EQ(body["field"], "username");
    EXPECT_EQ(body["detail"], "too short");

    ApiError limited(ErrorCode::kRateLimited, "slow down");
    limited.retry_after_s = 30;
    Response r = Response::Error(limited);
    EXPECT_EQ(r.status, 429);
    bool found = false;
    for (const auto& [k, v] : r.headers) found = found || (k == "Retry-After" && v == "30");
    EXPECT_TRUE(found);
}

TEST(Request, QueryParamsAreDecoded) {
    Request req;
    req.query = "page=2&type=RECHARGE&q=a%20b+c&empty=&flag";
    EXPECT_EQ(req.QueryParam("page"), "2");
    EXPECT_EQ(req.QueryParam("q"), "a b c");
    EXPECT_EQ(req.QueryParam("empty"), "");
    EXPECT_EQ(req.QueryParam("flag"), "");
    EXPECT_EQ(req.QueryParam("missing"), std::nullopt);
    req.query = "bad=%zz%&x=%4";
    EXPECT_TRUE(req.QueryParam("bad").has_value());
    EXPECT_TRUE(req.QueryParam("x").has_value());
}

}  // namespace
}  // namespace inkstone::lib
