#include <gtest/gtest.h>

#include <string>

#include "tests/sim/directives.h"

namespace inkstone::sim {
namespace {

TEST(SimDirectives, DefaultsWithoutABlock) {
    const ParsedPrompt p = ParseDirectives("  写一篇关于秋天的散文 \n");
    EXPECT_EQ(p.error, "");
    EXPECT_EQ(p.text, "写一篇关于秋天的散文");
    EXPECT_EQ(p.directives.tokens, 20);
    EXPECT_EQ(p.directives.delay_ms, 0);
    EXPECT_EQ(p.directives.first_delay_ms, 0);
    EXPECT_FALSE(p.directives.error.has_value());
    EXPECT_FALSE(p.directives.fail_after || p.directives.cut_after || p.directives.hang_after);
    EXPECT_FALSE(p.directives.task_fail);
    EXPECT_FALSE(p.directives.task_ms.has_value());
    EXPECT_FALSE(p.directives.stamp);
    EXPECT_EQ(p.directives.error_form, ErrorForm::kDefault);
    EXPECT_TRUE(p.directives.given.empty());
}

TEST(SimDirectives, EveryKey) {
    const ParsedPrompt p = ParseDirectives(
        "[[sim:tokens=5,delay_ms=10,first_delay_ms=300,error=429,fail_after=2,task=fail,"
        "task_ms=50,error_form=sse200,stamp=1]]");
    ASSERT_EQ(p.error, "");
    const Directives& d = p.directives;
    EXPECT_EQ(d.tokens, 5);
    EXPECT_EQ(d.delay_ms, 10);
    EXPECT_EQ(d.first_delay_ms, 300);
    EXPECT_EQ(d.error, SimError::kThrottling);
    EXPECT_EQ(d.fail_after, 2);
    EXPECT_TRUE(d.task_fail);
    EXPECT_EQ(d.task_ms, 50);
    EXPECT_EQ(d.error_form, ErrorForm::kSse200);
    EXPECT_TRUE(d.stamp);
    EXPECT_EQ(d.given.size(), 9u);
    EXPECT_EQ(d.given.front().first, "tokens");
    EXPECT_EQ(d.given.front().second, "5");
    EXPECT_EQ(p.text, "");
}

TEST(SimDirectives, ErrorValues) {
    EXPECT_EQ(ParseDirectives("[[sim:error=401]]").directives.error, SimError::kInvalidApiKey);
    EXPECT_EQ(ParseDirectives("[[sim:error=500]]").directives.error, SimError::kInternal);
    EXPECT_EQ(ParseDirectives("[[sim:error=DataInspectionFailed]]").directives.error,
              SimError::kDataInspectionFailed);
    EXPECT_EQ(ParseDirectives("[[sim:error=datainspectionfailed]]").directives.error,
              SimError::kDataInspectionFailed);
    EXPECT_NE(ParseDirectives("[[sim:error=503]]").error, "");
}

TEST(SimDirectives, AnywhereInTheMessageAndStrippedFromTheSeedText) {
    const ParsedPrompt a = ParseDirectives("写一首诗 [[sim:tokens=5]]");
    const ParsedPrompt b = ParseDirectives("[[sim: delay_ms = 7 ]]写一首诗");
    const ParsedPrompt c = ParseDirectives("写一首[[sim:cut_after=1]]诗");
    EXPECT_EQ(a.text, "写一首诗");
    EXPECT_EQ(b.text, "写一首诗");
    EXPECT_EQ(c.text, "写一首诗");
    EXPECT_EQ(a.directives.tokens, 5);
    EXPECT_EQ(b.directives.delay_ms, 7);
    EXPECT_EQ(c.directives.cut_after, 1);
}

TEST(SimDirectives, SeveralBlocksLaterWins) {
    const ParsedPrompt p = ParseDirectives("[[sim:tokens=1]] x [[sim:tokens=3,delay_ms=2]]");
    EXPECT_EQ(p.error, "");
    EXPECT_EQ(p.directives.tokens, 3);
    EXPECT_EQ(p.directives.delay_ms, 2);
    EXPECT_EQ(p.text, "x");
}

TEST(SimDirectives, EmptyItemsAreIgnored) {
    const ParsedPrompt p = ParseDirectives("[[sim:]][[sim:tokens=2,,]]");
    EXPECT_EQ(p.error, "");
    EXPECT_EQ(p.directives.tokens, 2);
}

TEST(SimDirectives, ZeroIsAValidCount) {
    const ParsedPrompt p = ParseDirectives("[[sim:tokens=0,hang_after=0]]");
    EXPECT_EQ(p.error, "");
    EXPECT_EQ(p.directives.tokens, 0);
    EXPECT_EQ(p.directives.hang_after, 0);
}

TEST(SimDirectives, BadInputIsAnErrorNeverACrash) {
    for (const char* bad : {
             "[[sim:tokens=-1]]",
             "[[sim:tokens=1.5]]",
             "[[sim:tokens=]]",
             "[[sim:tokens=100001]]",
             "[[sim:tokens=99999999999999999999999]]",
             "[[sim:delay_ms=600001]]",
             "[[sim:tokens]]",
             "[[sim:bogus=1]]",
             "[[sim:task=maybe]]",
             "[[sim:stamp=yes]]",
             "[[sim:error_form=xml]]",
             "[[sim:tokens=5",
             "[[sim:fail_after=1,cut_after=2]]",
             "[[sim:hang_after=1]] [[sim:cut_after=2]]",
         }) {
        const ParsedPrompt p = ParseDirectives(bad);
        EXPECT_NE(p.error, "") << bad;
        EXPECT_EQ(p.error.rfind("Invalid [[sim:]] directive: ", 0), 0u) << p.error;
    }
}

TEST(SimDirectives, ErrorTextIsPrintableAsciiWhateverTheInput) {
    const ParsedPrompt p = ParseDirectives("[[sim:\xff\"\\\x01" + std::string(100, 'k') + "=1]]");
    ASSERT_NE(p.error, "");
    for (char c : p.error) {
        EXPECT_TRUE(c >= 0x20 && c < 0x7f && c != '"' && c != '\\') << int(c);
    }
    EXPECT_LT(p.error.size(), 120u);
}

TEST(SimDirectives, NotADirective) {
    const ParsedPrompt p = ParseDirectives("[[simulate]] [sim:tokens=1] [[SIM:tokens=1]]");
    EXPECT_EQ(p.error, "");
    EXPECT_EQ(p.directives.tokens, 20);
    EXPECT_EQ(p.text, "[[simulate]] [sim:tokens=1] [[SIM:tokens=1]]");
}

}  // namespace
}  // namespace inkstone::sim
