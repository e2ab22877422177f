#include "tests/harness/api_user.h"

#include <stdexcept>

namespace inkstone::testing {
namespace {

Json::Value Expect(const HttpResponse& response, long status, const char* what) {
    if (response.status != status) {
        throw std::runtime_error(std::string(what) + ": HTTP " + std::to_string(response.status) +
                                 " " + response.body + response.error);
    }
    return response.JsonBody();
}

}  // namespace

Json::Value JsonObject(std::initializer_list<std::pair<const char*, Json::Value>> fields) {
    Json::Value body(Json::objectValue);
    for (const auto& [name, value] : fields) body[name] = value;
    return body;
}

HttpHeaders ApiUser::Auth(HttpHeaders extra) const {
    extra["Authorization"] = "Bearer " + token;
    return extra;
}

ApiUser RegisterUser(const HttpClient& client, const std::string& username) {
    Json::Value body;
    body["username"] = username;
    body["password"] = "correct horse battery";
    const Json::Value reply = Expect(client.Post("/api/v1/auth/register", body), 201, "register");
    ApiUser user;
    user.id = reply["user"]["id"].asInt64();
    user.username = username;
    user.token = reply["access_token"].asString();
    return user;
}

std::string RechargeAndPay(const HttpClient& client, const ApiUser& user, Json::Value body) {
    if (!body.isMember("payment_method")) body["payment_method"] = "alipay";
    const Json::Value order =
        Expect(client.Post("/api/v1/credit/recharge", body, user.Auth()), 201, "recharge");
    Json::Value pay;
    pay["order_no"] = order["order_no"];
    Expect(client.Post("/api/v1/payment/mock/pay", pay, user.Auth()), 200, "mock pay");
    return order["order_no"].asString();
}

}  // namespace inkstone::testing
