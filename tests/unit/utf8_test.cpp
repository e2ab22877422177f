#include "lib/base/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace inkstone::lib {
using namespace inkstone::lib::base;
namespace {

TEST(Utf8Test, AcceptsAsciiAndEmpty) {
    EXPECT_TRUE(IsValidUtf8(""));
    EXPECT_TRUE(IsValidUtf8("hello, world"));
    EXPECT_TRUE(IsValidUtf8(std::string(1000, 'a')));
    EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));
}

TEST(Utf8Test, AcceptsMultiByteSequences) {
    EXPECT_TRUE(IsValidUtf8("\xC2\x80"));          // U+0080, smallest 2-byte
    EXPECT_TRUE(IsValidUtf8("\xE0\xA0\x80"));      // U+0800, smallest 3-byte
    EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));      // U+D7FF, just below surrogates
    EXPECT_TRUE(IsValidUtf8("\xEE\x80\x80"));      // U+E000, just above surrogates
    EXPECT_TRUE(IsValidUtf8("\xF0\x90\x80\x80"));  // U+10000, smallest 4-byte
    EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF, the largest
    EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));  // 😀
    EXPECT_TRUE(IsValidUtf8("积分会员 写作 ✍️ mixed ascii"));  // CJK and emoji
}

TEST(Utf8Test, RejectsOverlongEncodings) {
    EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong NUL
    EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));          // overlong U+007F
    EXPECT_FALSE(IsValidUtf8("\xE0\x80\x80"));      // overlong NUL, 3 bytes
    EXPECT_FALSE(IsValidUtf8("\xE0\x9F\xBF"));      // overlong U+07FF
    EXPECT_FALSE(IsValidUtf8("\xF0\x80\x80\x80"));  // overlong NUL, 4 bytes
    EXPECT_FALSE(IsValidUtf8("\xF0\x8F\xBF\xBF"));  // overlong U+FFFF
}

TEST(Utf8Test, RejectsSurrogatesAndOutOfRange) {
    EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // U+D800
    EXPECT_FALSE(IsValidUtf8("\xED\xBF\xBF"));      // U+DFFF
    EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // U+110000
    EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
    EXPECT_FALSE(IsValidUtf8("\xFF"));
    EXPECT_FALSE(IsValidUtf8("\xFE"));
}

TEST(Utf8Test, RejectsTruncatedAndStrayBytes) {
    EXPECT_FALSE(IsValidUtf8("\xC3"));
    EXPECT_FALSE(IsValidUtf8("\xE4\xB8"));
    EXPECT_FALSE(IsValidUtf8("\xF0\x9F\x98"));
    EXPECT_FALSE(IsValidUtf8("abc\xF0\x9F\x98"));
    EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation byte
    EXPECT_FALSE(IsValidUtf8("\xE4\x41\x80"));      // ASCII where a continuation belongs
    EXPECT_FALSE(IsValidUtf8("\xF0\x9F\x98\x41"));  // last byte not a continuation
}

TEST(Utf8Test, FindsErrorsAfterTheAsciiFastPath) {
    // The invalid byte sits at every offset around the 8-byte blocks.
    for (size_t offset = 0; offset < 40; ++offset) {
        std::string text(offset, 'x');
        text += "\xC0\x80";
        text += std::string(17, 'y');
        EXPECT_FALSE(IsValidUtf8(text)) << "offset " << offset;
        std::string valid(offset, 'x');
        valid += "\xE4\xB8\xAD";
        valid += std::string(17, 'y');
        EXPECT_TRUE(IsValidUtf8(valid)) << "offset " << offset;
    }
}

TEST(Utf8Test, CountsCodePoints) {
    EXPECT_EQ(Utf8Length(""), 0u);
    EXPECT_EQ(Utf8Length("abc"), 3u);
    EXPECT_EQ(Utf8Length("积分"), 2u);
    EXPECT_EQ(Utf8Length("\xF0\x9F\x98\x80"), 1u);
    EXPECT_EQ(Utf8Length("a积\xF0\x9F\x98\x80z"), 4u);
    std::string long_text;
    for (int i = 0; i < 100; ++i) long_text += "写a\xF0\x9F\x98\x80";
    EXPECT_EQ(Utf8Length(long_text), 300u);
}

}  // namespace
}  // namespace inkstone::lib
