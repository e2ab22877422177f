#pragma once
/// A registered user driven over HTTP, for integration tests that need an account with credits
/// or a membership (wallet, generation, ...). Thread-safe as HttpClient is.
#include <json/value.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "tests/harness/http_client.h"

namespace inkstone::testing {

/// A JSON object from name/value pairs: `JsonObject({{"price_id", 2}, {"payment_method",
/// "alipay"}})`.
Json::Value JsonObject(std::initializer_list<std::pair<const char*, Json::Value>> fields);

struct ApiUser {
    int64_t id = 0;
    std::string username;
    std::string token;

    /// `Authorization: Bearer <token>`, plus `extra`.
    HttpHeaders Auth(HttpHeaders extra = {}) const;
};

/// POST /auth/register with a fixed good password. Throws std::runtime_error (quoting the
/// response) unless it answers 201.
ApiUser RegisterUser(const HttpClient& client, const std::string& username);

/// POST /credit/recharge with `body` (payment_method defaults to alipay), then
/// POST /payment/mock/pay for the new order. Returns the order_no; throws std::runtime_error
/// (quoting the response) when either step fails.
std::string RechargeAndPay(const HttpClient& client, const ApiUser& user, Json::Value body);

}  // namespace inkstone::testing
