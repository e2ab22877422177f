#include "handlers/account_views.h"

#include <string>

namespace inkstone::handlers {

Json::Value UserToJson(const lib::accounts::User& user, lib::base::TimePoint now) {
    Json::Value json(Json::objectValue);
    json["id"] = Json::Int64{user.id};
    json["username"] = user.username;
    json["email"] = user.email ? Json::Value(*user.email) : Json::Value(Json::nullValue);
    json["role"] = std::string(ToSql(user.role));
    json["credits"] = Json::Int64{user.credits};
    json["is_member"] = user.member_expired_at.has_value() && *user.member_expired_at > now;
    json["member_expired_at"] = user.member_expired_at
                                    ? Json::Value(lib::base::FormatRfc3339(*user.member_expired_at))
                                    : Json::Value(Json::nullValue);
    json["created_at"] = lib::base::FormatRfc3339(user.created_at);
    return json;
}

lib::http::Response SessionResponse(int status, const lib::accounts::Session& session) {
    Json::Value body(Json::objectValue);
    body["user"] = UserToJson(session.user, session.issued_at);
    body["access_token"] = session.access_token;
    body["token_type"] = "bearer";
    body["expires_in"] = Json::Int64{session.expires_in_s};
    lib::http::Response response = lib::http::Response::Json(status, body);
    // RFC 6749 §5.1: responses carrying a token must not be cached.
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

lib::http::Response UserResponse(const lib::accounts::User& user, lib::base::TimePoint now) {
    lib::http::Response response = lib::http::Response::Json(200, UserToJson(user, now));
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
}

}  // namespace inkstone::handlers
