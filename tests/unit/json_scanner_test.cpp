// The strict JSON scanner of lib/base/json.h on its own (the DashScope decoder's tests cover it
// through real frames).
#include <gtest/gtest.h>

#include <string>

#include "lib/base/json.h"

namespace inkstone::lib::base {
namespace {

/// Scans `text` as one value and says whether it is valid JSON.
bool Valid(const std::string& text) {
    JsonScanner s(text);
    return s.Skip(1) && s.AtEnd();
}

TEST(JsonScannerTest, AcceptsRfc8259AndRejectsWhatJsoncppLetsThrough) {
    for (const char* good : {"{}", "[]", "0", "-0.5e+3", "\"a\\u00e9\\ud83d\\ude00\"",
                             "{\"a\":[1,{\"b\":null}],\"c\":true}", " [ 1 , 2 ] "}) {
        EXPECT_TRUE(Valid(good)) << good;
    }
    for (const char* bad : {"", "-", "+1", "01", "1.", ".5", "{,}", "[1,]", "{\"a\"}", "nul",
                            "\"raw\ttab\"", "\"\\x\"", "[1] x", "{\"a\":1,}"}) {
        EXPECT_FALSE(Valid(bad)) << bad;
    }
    EXPECT_FALSE(Valid("\"\xC3\x28\""));      // invalid UTF-8
    EXPECT_FALSE(Valid("\"\xED\xA0\x80\""));  // an encoded surrogate
}

TEST(JsonScannerTest, ReadsOnlyTheFieldsAskedForAndDecodesEscapes) {
    JsonScanner s(R"({"skip":{"deep":[1,2,{"x":"y"}]},"text":"line\nnext \u00e9","n":42})");
    std::string text;
    int64_t n = 0;
    ASSERT_TRUE(s.Object(1, [&](std::string_view key) {
        if (key == "text") return s.String(&text);
        if (key == "n") return s.Integer(&n);
        return s.Skip(2);
    }));
    EXPECT_EQ(text, "line\nnext \xC3\xA9");
    EXPECT_EQ(n, 42);
}

TEST(JsonScannerTest, LoneSurrogatesBecomeTheReplacementCharacter) {
    JsonScanner s(R"("a\ud800b\udc00")");
    std::string out;
    ASSERT_TRUE(s.String(&out));
    EXPECT_EQ(out,
              "a\xEF\xBF\xBD"
              "b\xEF\xBF\xBD");
}

TEST(JsonScannerTest, NestingIsBounded) {
    EXPECT_TRUE(Valid(std::string(60, '[') + std::string(60, ']')));
    EXPECT_FALSE(Valid(std::string(100, '[') + std::string(100, ']')));
}

TEST(JsonTest, ToJsonIsCompactAndKeepsUtf8) {
    Json::Value v;
    v["b"] = "é";
    v["a"] = 1;
    EXPECT_EQ(ToJson(v), "{\"a\":1,\"b\":\"\xC3\xA9\"}");
}

}  // namespace
}  // namespace inkstone::lib::base
