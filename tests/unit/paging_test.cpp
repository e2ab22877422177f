// List paging (lib/paging.h) and the pure half of Idempotency-Key (lib/idempotency.h).
#include "lib/http/paging.h"

#include <gtest/gtest.h>

#include "lib/base/errors.h"
#include "lib/billing/idempotency.h"
#include "lib/http/json_body.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::http;
using namespace inkstone::lib::db;
using namespace inkstone::lib::billing;
namespace {

Request WithQuery(std::string query) {
    Request request;
    request.query = std::move(query);
    return request;
}

std::string FieldOf422(const Request& request) {
    try {
        ParsePageRequest(request);
    } catch (const ApiError& e) {
        EXPECT_EQ(e.code, ErrorCode::kValidation);
        return e.extra["field"].asString();
    }
    return "";
}

TEST(Paging, DefaultsAndExplicitValues) {
    PageRequest page = ParsePageRequest(WithQuery(""));
    EXPECT_EQ(page.page, 1);
    EXPECT_EQ(page.page_size, 20);
    EXPECT_EQ(page.offset(), 0);
    page = ParsePageRequest(WithQuery("page=3&page_size=100&type=CONSUME"));
    EXPECT_EQ(page.page, 3);
    EXPECT_EQ(page.page_size, 100);
    EXPECT_EQ(page.limit(), 100);
    EXPECT_EQ(page.offset(), 200);
    EXPECT_EQ(ParsePageRequest(WithQuery("page=1000000&page_size=1")).offset(), 999999);
}

TEST(Paging, AnythingElseIs422NamingTheField) {
    for (const char* query :
         {"page_size=101", "page_size=0", "page_size=-1", "page_size=", "page_size=1e2",
          "page_size=+5", "page_size=%2010", "page_size=99999999999999999999"}) {
        EXPECT_EQ(FieldOf422(WithQuery(query)), "page_size") << query;
    }
    for (const char* query :
         {"page=0", "page=1000001", "page=abc", "page=1.0", "page=", "page=1%00"}) {
        EXPECT_EQ(FieldOf422(WithQuery(query)), "page") << query;
    }
}

TEST(Paging, PageJsonShape) {
    Json::Value items(Json::arrayValue);
    items.append(1);
    const Json::Value body = PageJson(items, 41, PageRequest{3, 20});
    EXPECT_EQ(body["items"].size(), 1u);
    EXPECT_EQ(body["total"], 41);
    EXPECT_EQ(body["page"], 3);
    EXPECT_EQ(body["page_size"], 20);
    EXPECT_TRUE(PageJson(Json::Value(), 0, PageRequest{})["items"].isArray());
}

TEST(IdempotencyKey, AbsentIsNulloptAndBadIs422) {
    Request request;
    EXPECT_FALSE(billing::IdempotencyKeyOf(request));
    request.headers["idempotency-key"] = "order-1 for ¥10";  // non-ASCII
    EXPECT_THROW(billing::IdempotencyKeyOf(request), ApiError);
    for (const std::string& bad : {std::string(), std::string(129, 'k'), std::string("a\tb"),
                                   std::string("a\x7f"), std::string("nul\0x", 5)}) {
        request.headers["idempotency-key"] = bad;
        try {
            billing::IdempotencyKeyOf(request);
            ADD_FAILURE() << "accepted " << bad;
        } catch (const ApiError& e) {
            EXPECT_EQ(e.code, ErrorCode::kValidation);
            EXPECT_EQ(e.extra["field"], "Idempotency-Key");
        }
    }
    for (const std::string& good : {std::string("k"), std::string(128, 'k'),
                                    std::string("8e0f1c2a-3b4d-4e5f-9a6b-7c8d9e0f1a2b"),
                                    std::string("with spaces and ~!@#$%^&*()")}) {
        request.headers["idempotency-key"] = good;
        EXPECT_EQ(billing::IdempotencyKeyOf(request), good);
    }
}

TEST(IdempotencyKey, FingerprintIgnoresKeyOrderAndSpacingButNotValues) {
    const Json::Value a = ParseJsonObject(R"({"price_id": 2, "payment_method": "alipay"})");
    const Json::Value b = ParseJsonObject(R"({"payment_method":"alipay","price_id":2})");
    const Json::Value c = ParseJsonObject(R"({"payment_method":"wechat","price_id":2})");
    const std::string fa = billing::IdempotencyFingerprint("POST /x", a);
    EXPECT_EQ(fa.size(), 64u);
    EXPECT_EQ(fa, billing::IdempotencyFingerprint("POST /x", b));
    EXPECT_NE(fa, billing::IdempotencyFingerprint("POST /x", c));
    EXPECT_NE(fa, billing::IdempotencyFingerprint("POST /y", a));
}

}  // namespace
}  // namespace inkstone::lib
