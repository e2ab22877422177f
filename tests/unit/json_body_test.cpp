#include "lib/http/json_body.h"

#include <gtest/gtest.h>

#include <string>

#include "lib/base/errors.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::http;
namespace {

// Returns the error ParseJsonObject throws, or fails the test.
ApiError ParseError(std::string_view body) {
    try {
        ParseJsonObject(body);
    } catch (const ApiError& error) {
        return error;
    }
    ADD_FAILURE() << "no error for: " << body;
    return ApiError(ErrorCode::kInternal, "none");
}

void ExpectInvalidJson(std::string_view body) {
    const ApiError error = ParseError(body);
    EXPECT_EQ(error.code, ErrorCode::kInvalidJson) << body;
    EXPECT_FALSE(error.detail.empty());
}

// Returns the validation error `read` throws on a JsonFields over `body`.
template <typename Read>
ApiError FieldError(std::string_view body, Read read) {
    const Json::Value object = ParseJsonObject(body);
    const JsonFields fields(object);
    try {
        read(fields);
    } catch (const ApiError& error) {
        return error;
    }
    ADD_FAILURE() << "no error for: " << body;
    return ApiError(ErrorCode::kInternal, "none");
}

std::string Nested(int depth) {
    std::string body;
    for (int i = 0; i < depth; ++i) body += "{\"a\":";
    body += "1";
    for (int i = 0; i < depth; ++i) body += "}";
    return body;
}

TEST(ParseJsonObjectTest, ParsesAnObject) {
    const Json::Value value = ParseJsonObject(R"({"name":"李雷","n":3,"tags":["a"],"ok":true})");
    EXPECT_EQ(value["name"].asString(), "李雷");
    EXPECT_EQ(value["n"].asInt(), 3);
    EXPECT_TRUE(ParseJsonObject(" \r\n\t{} \n").isObject());
}

TEST(ParseJsonObjectTest, RejectsEmptyAndNonObjectBodies) {
    ExpectInvalidJson("");
    ExpectInvalidJson("   \n");
    ExpectInvalidJson("[]");
    ExpectInvalidJson("[{\"a\":1}]");
    ExpectInvalidJson("\"text\"");
    ExpectInvalidJson("42");
    ExpectInvalidJson("null");
}

TEST(ParseJsonObjectTest, RejectsMalformedJson) {
    ExpectInvalidJson("{");
    ExpectInvalidJson("{\"a\":}");
    ExpectInvalidJson("{\"a\" 1}");
    ExpectInvalidJson("{'a':1}");
    ExpectInvalidJson("{a:1}");
    ExpectInvalidJson("{\"a\":1,}");
    ExpectInvalidJson("{\"a\":[1,]}");
    ExpectInvalidJson("{\"a\":NaN}");
    ExpectInvalidJson("{\"a\":Infinity}");
    ExpectInvalidJson("{\"a\":tru}");
    ExpectInvalidJson("{\"a\":\"\\x\"}");
    ExpectInvalidJson("{\"a\":\"unterminated}");
    ExpectInvalidJson("{\"a\":1} // comment");
    ExpectInvalidJson("/* c */ {\"a\":1}");
}

TEST(ParseJsonObjectTest, RejectsTrailingGarbage) {
    ExpectInvalidJson("{} x");
    ExpectInvalidJson("{}{}");
    ExpectInvalidJson("{\"a\":1}]");
    // jsoncpp stops reading at a NUL byte, so failIfExtra alone would accept this.
    ExpectInvalidJson(std::string("{\"a\":1}\0garbage", 15));
}

TEST(ParseJsonObjectTest, RejectsNumbersOutsideTheJsonGrammar) {
    // jsoncpp reads all of these, `-` even as 0.
    for (const char* body :
         {"{\"a\":-}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":+1}", "{\"a\":.5}", "{\"a\":1e}",
          "{\"a\":1e+}", "{\"a\":--1}", "{\"a\":-01}", "{\"a\":[1,-]}", "{\"a\":1e999}"}) {
        ExpectInvalidJson(body);
    }
    const Json::Value ok = ParseJsonObject(R"({"a":-0,"b":0.5,"c":-1.25e-3,"d":1E+2,"e":10})");
    EXPECT_EQ(ok["e"].asInt(), 10);
    EXPECT_DOUBLE_EQ(ok["c"].asDouble(), -0.00125);
}

TEST(ParseJsonObjectTest, RejectsRawControlCharactersInStrings) {
    ExpectInvalidJson("{\"a\":\"line\nbreak\"}");
    ExpectInvalidJson("{\"a\":\"tab\there\"}");
    ExpectInvalidJson(std::string("{\"a\":\"x\0y\"}", 11));
    EXPECT_EQ(ParseJsonObject(R"({"a":"tab\there"})")["a"].asString(), "tab\there");
}

TEST(ParseJsonObjectTest, LimitsNestingTo32Levels) {
    EXPECT_NO_THROW(ParseJsonObject(Nested(32)));
    EXPECT_EQ(ParseError(Nested(33)).code, ErrorCode::kInvalidJson);
    std::string arrays = "{\"a\":" + std::string(31, '[') + "1" + std::string(31, ']') + "}";
    EXPECT_NO_THROW(ParseJsonObject(arrays));
    arrays = "{\"a\":" + std::string(32, '[') + "1" + std::string(32, ']') + "}";
    ExpectInvalidJson(arrays);
    // Far too deep must fail fast, not overflow the stack.
    ExpectInvalidJson(std::string(100000, '['));
    ExpectInvalidJson("{\"a\":" + std::string(100000, '['));
}

TEST(ParseJsonObjectTest, BracketsInsideStringsDoNotCount) {
    const std::string body = "{\"a\":\"" + std::string(100, '{') + "\\\"" + "\"}";
    EXPECT_EQ(ParseJsonObject(body)["a"].asString(), std::string(100, '{') + "\"");
}

TEST(ParseJsonObjectTest, RejectsDuplicateKeys) {
    const ApiError error = ParseError(R"({"amount_fen":1,"amount_fen":100000})");
    EXPECT_EQ(error.code, ErrorCode::kInvalidJson);
    EXPECT_NE(error.detail.find("Duplicate key"), std::string::npos) << error.detail;
    EXPECT_EQ(error.detail.find('\n'), std::string::npos) << error.detail;
}

TEST(ParseJsonObjectTest, RejectsInvalidUtf8) {
    ExpectInvalidJson("{\"a\":\"\xC0\x80\"}");
    ExpectInvalidJson("{\"a\":\"\xED\xA0\x80\"}");
    ExpectInvalidJson("{\"a\":\"\xF4\x90\x80\x80\"}");
    ExpectInvalidJson("{\"a\":\"\xE4\xB8\"}");
    ExpectInvalidJson("{\"\xFF\":1}");
    ExpectInvalidJson(R"({"a":"\ud800"})");  // lone high surrogate escape
}

TEST(ParseJsonObjectTest, DecodesEscapes) {
    const Json::Value value = ParseJsonObject(R"({"a":"\u4e2d\ud83d\ude00\/"})");
    EXPECT_EQ(value["a"].asString(), "中\xF0\x9F\x98\x80/");
}

TEST(JsonFieldsTest, ReadsTypedFields) {
    const Json::Value object = ParseJsonObject(
        R"({"name":"写作助手","n":42,"big":9223372036854775807,"neg":-5,"ratio":0.5,)"
        R"("flag":false,"tags":["a","积分"],"nothing":null})");
    const JsonFields fields(object);
    EXPECT_EQ(fields.RequiredString("name", 1, 4), "写作助手");
    EXPECT_EQ(fields.OptionalString("name", 4, 4), "写作助手");
    EXPECT_EQ(fields.OptionalString("missing", 1, 4), std::nullopt);
    EXPECT_EQ(fields.OptionalString("nothing", 1, 4), std::nullopt);
    EXPECT_EQ(fields.RequiredInt("n", 0, 100), 42);
    EXPECT_EQ(fields.OptionalInt("big", 0, INT64_MAX), INT64_MAX);
    EXPECT_EQ(fields.OptionalInt("neg", -10, 10), -5);
    EXPECT_EQ(fields.OptionalInt("missing", 0, 1), std::nullopt);
    EXPECT_EQ(fields.OptionalNumber("ratio", 0, 1), 0.5);
    EXPECT_EQ(fields.OptionalNumber("n", 0, 100), 42.0);
    EXPECT_EQ(fields.OptionalBool("flag"), false);
    EXPECT_EQ(fields.OptionalBool("missing"), std::nullopt);
    EXPECT_EQ(fields.OptionalStringArray("tags", 2, 2), (std::vector<std::string>{"a", "积分"}));
    EXPECT_TRUE(fields.Has("name"));
    EXPECT_FALSE(fields.Has("nothing"));
    EXPECT_FALSE(fields.Has("missing"));
}

TEST(JsonFieldsTest, RequiredFieldsMustBePresentAndNotNull) {
    for (const char* body : {R"({})", R"({"username":null})"}) {
        const ApiError error =
            FieldError(body, [](const JsonFields& f) { f.RequiredString("username", 3, 32); });
        EXPECT_EQ(error.code, ErrorCode::kValidation);
        EXPECT_EQ(error.extra["field"].asString(), "username");
        EXPECT_EQ(error.detail, "is required");
    }
    const ApiError error = FieldError("{}", [](const JsonFields& f) { f.RequiredInt("n", 1, 2); });
    EXPECT_EQ(error.extra["field"].asString(), "n");
}

TEST(JsonFieldsTest, StringsAreCheckedForTypeLengthAndNul) {
    const auto read = [](const JsonFields& f) { f.RequiredString("username", 3, 32); };
    for (const char* body : {R"({"username":5})", R"({"username":true})", R"({"username":["abc"]})",
                             R"({"username":{"a":"b"}})", R"({"username":"ab"})",
                             R"({"username":"abcdefghijklmnopqrstuvwxyz0123456"})"}) {
        const ApiError error = FieldError(body, read);
        EXPECT_EQ(error.code, ErrorCode::kValidation) << body;
        EXPECT_EQ(error.extra["field"].asString(), "username") << body;
        EXPECT_EQ(error.detail, "must be a string of 3 to 32 characters") << body;
    }
    const ApiError nul = FieldError(R"({"username":"ab\u0000cd"})", read);
    EXPECT_EQ(nul.extra["field"].asString(), "username");
    EXPECT_EQ(nul.detail, "must not contain NUL characters");
}

TEST(JsonFieldsTest, StringLengthCountsCodePoints) {
    const Json::Value object = ParseJsonObject(R"({"s":"积分积分","e":"😀😀😀"})");
    const JsonFields fields(object);
    EXPECT_EQ(fields.RequiredString("s", 4, 4), "积分积分");
    EXPECT_EQ(fields.RequiredString("e", 1, 3), "😀😀😀");
    EXPECT_THROW(fields.RequiredString("s", 1, 3), ApiError);
}

TEST(JsonFieldsTest, DescribesStringRules) {
    const auto detail = [](size_t min, size_t max) {
        return FieldError(R"({"s":1})",
                          [&](const JsonFields& f) { f.OptionalString("s", min, max); })
            .detail;
    };
    EXPECT_EQ(detail(6, 6), "must be a string of exactly 6 characters");
    EXPECT_EQ(detail(0, 200), "must be a string of at most 200 characters");
    EXPECT_EQ(detail(1, 64), "must be a string of 1 to 64 characters");
}

TEST(JsonFieldsTest, IntsMustBeJsonIntegersInRange) {
    const auto read = [](const JsonFields& f) { f.RequiredInt("amount_fen", 1, 100000); };
    for (const char* body :
         {R"({"amount_fen":3.0})", R"({"amount_fen":"3"})", R"({"amount_fen":true})",
          R"({"amount_fen":0})", R"({"amount_fen":100001})", R"({"amount_fen":-1})",
          R"({"amount_fen":1e2})", R"({"amount_fen":18446744073709551615})",
          R"({"amount_fen":99999999999999999999999})", R"({"amount_fen":[1]})"}) {
        const ApiError error = FieldError(body, read);
        EXPECT_EQ(error.code, ErrorCode::kValidation) << body;
        EXPECT_EQ(error.extra["field"].asString(), "amount_fen") << body;
        EXPECT_EQ(error.detail, "must be an integer from 1 to 100000") << body;
    }
    const ApiError error = FieldError(R"({"n":9223372036854775808})", [](const JsonFields& f) {
        f.OptionalInt("n", INT64_MIN, INT64_MAX);
    });
    EXPECT_EQ(error.extra["field"].asString(), "n");
}

TEST(JsonFieldsTest, NumbersAndBoolsAreTyped) {
    const auto number = [](const JsonFields& f) { f.OptionalNumber("t", 0, 2); };
    for (const char* body : {R"({"t":"1"})", R"({"t":true})", R"({"t":2.5})", R"({"t":-0.1})"}) {
        const ApiError error = FieldError(body, number);
        EXPECT_EQ(error.extra["field"].asString(), "t") << body;
        EXPECT_EQ(error.detail, "must be a number from 0 to 2") << body;
    }
    const auto boolean = [](const JsonFields& f) { f.OptionalBool("stream"); };
    for (const char* body : {R"({"stream":1})", R"({"stream":"true"})", R"({"stream":0})"}) {
        const ApiError error = FieldError(body, boolean);
        EXPECT_EQ(error.extra["field"].asString(), "stream") << body;
        EXPECT_EQ(error.detail, "must be true or false") << body;
    }
}

TEST(JsonFieldsTest, StringArraysAreChecked) {
    const auto read = [](const JsonFields& f) { f.OptionalStringArray("tags", 3, 4); };
    for (const char* body :
         {R"({"tags":"a"})", R"({"tags":["a","b","c","d"]})", R"({"tags":{"a":"b"}})"}) {
        const ApiError error = FieldError(body, read);
        EXPECT_EQ(error.extra["field"].asString(), "tags") << body;
        EXPECT_EQ(error.detail, "must be an array of at most 3 strings of 1 to 4 characters");
    }
    const ApiError wrong_item = FieldError(R"({"tags":["ok",7]})", read);
    EXPECT_EQ(wrong_item.extra["field"].asString(), "tags");
    EXPECT_EQ(wrong_item.detail, "item 2 must be a string of 1 to 4 characters");
    EXPECT_EQ(FieldError(R"({"tags":[""]})", read).detail,
              "item 1 must be a string of 1 to 4 characters");
    EXPECT_EQ(FieldError(R"({"tags":["a\u0000"]})", read).detail,
              "must not contain NUL characters");
}

TEST(JsonFieldsTest, ToleratesNonObjects) {
    const Json::Value array(Json::arrayValue);
    const JsonFields fields(array);
    EXPECT_FALSE(fields.Has("a"));
    EXPECT_EQ(fields.OptionalInt("a", 0, 1), std::nullopt);
}

TEST(JsonFieldsTest, RejectsInvalidUtf8InValuesBuiltInCode) {
    Json::Value object(Json::objectValue);
    object["s"] = "\xC0\x80";
    const JsonFields fields(object);
    try {
        fields.RequiredString("s", 0, 10);
        ADD_FAILURE() << "accepted invalid UTF-8";
    } catch (const ApiError& error) {
        EXPECT_EQ(error.extra["field"].asString(), "s");
    }
}

}  // namespace
}  // namespace inkstone::lib
