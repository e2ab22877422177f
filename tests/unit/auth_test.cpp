#include "lib/accounts/auth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "handlers/account_views.h"
#include "lib/accounts/accounts.h"
#include "lib/base/errors.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::http;
using namespace inkstone::lib::db;
using namespace inkstone::lib::accounts;
namespace {

using std::chrono::seconds;

// Code points of known width: "é" is 2 bytes, "中" 3, "😀" 4.
std::string Repeat(const std::string& unit, size_t times) {
    std::string out;
    for (size_t i = 0; i < times; ++i) out += unit;
    return out;
}

// A flood of hashes waits for one of the process's slots (one per core) only so long, then is
// turned away with 503 UNAVAILABLE and Retry-After, so it can never park every request thread.
TEST(PasswordHashingTest, WaitingForAHashingSlotIsBounded) {
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    // 8 per core, each hash ~40 ms or more: a thread that waited its turn instead would wait
    // 7 hashes (280 ms and up), far past the bound checked below even on a loaded machine.
    const int threads = static_cast<int>(std::max(1L, cores)) * 8;
    std::atomic<int> hashed{0};
    std::atomic<int> turned_away{0};
    std::atomic<int> longest_wait_ms{0};
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&] {
            const auto started = std::chrono::steady_clock::now();
            try {
                HashPassword("correct horse 1", std::chrono::milliseconds(5));
                hashed++;
            } catch (const ApiError& e) {
                EXPECT_EQ(e.code, ErrorCode::kUnavailable);
                EXPECT_EQ(e.retry_after_s, 1);
                turned_away++;
                const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - started);
                const int ms = static_cast<int>(waited.count());
                int seen = longest_wait_ms.load();
                while (ms > seen && !longest_wait_ms.compare_exchange_weak(seen, ms)) {
                }
            }
        });
    }
    for (std::thread& t : pool) t.join();
    EXPECT_GE(hashed.load(), 1);
    EXPECT_GE(turned_away.load(), 1);  // most cannot get a slot in 5 ms
    // Turned away after about the 5 ms asked for; the margin is for a loaded CI machine.
    EXPECT_LT(longest_wait_ms.load(), 150);
}

TEST(UsernameRulesTest, LengthBoundaries) {
    EXPECT_TRUE(UsernameError("ab").has_value());
    EXPECT_FALSE(UsernameError("abc").has_value());
    EXPECT_FALSE(UsernameError(std::string(32, 'a')).has_value());
    EXPECT_TRUE(UsernameError(std::string(33, 'a')).has_value());
    EXPECT_TRUE(UsernameError("").has_value());
}

TEST(UsernameRulesTest, Alphabet) {
    EXPECT_FALSE(UsernameError("Alice_Bob_09").has_value());
    EXPECT_FALSE(UsernameError("___").has_value());
    for (const char* bad : {"ali ce", "alice-1", "alice.b", "al'ce", "a;--", "alice\n", "日本語",
                            "éclair", "a%20b", "../etc"}) {
        EXPECT_TRUE(UsernameError(bad).has_value()) << bad;
    }
    EXPECT_TRUE(UsernameError(std::string("abc\0def", 7)).has_value());
    // Three code points but not ASCII: the alphabet rule, not the length rule, rejects it.
    const std::optional<std::string> problem = UsernameError("中中中");
    ASSERT_TRUE(problem.has_value());
    EXPECT_NE(problem->find("letters"), std::string::npos);
}

TEST(PasswordRulesTest, LengthInCodePoints) {
    EXPECT_TRUE(PasswordError(std::string(7, 'x')).has_value());
    EXPECT_FALSE(PasswordError(std::string(8, 'x')).has_value());
    EXPECT_FALSE(PasswordError(std::string(128, 'x')).has_value());
    EXPECT_TRUE(PasswordError(std::string(129, 'x')).has_value());

    // Multibyte: counted in code points, not bytes.
    EXPECT_TRUE(PasswordError(Repeat("中", 7)).has_value());  // 21 bytes
    EXPECT_FALSE(PasswordError(Repeat("中", 8)).has_value());
    EXPECT_FALSE(PasswordError(Repeat("😀", 128)).has_value());  // 512 bytes
    EXPECT_TRUE(PasswordError(Repeat("😀", 129)).has_value());
    EXPECT_FALSE(PasswordError(Repeat("é", 4) + "abcd").has_value());
}

TEST(PasswordRulesTest, RejectsInvalidUtf8AndNul) {
    EXPECT_TRUE(PasswordError("abcdefg\xff").has_value());
    EXPECT_TRUE(PasswordError("abcdefg\xc3").has_value());  // truncated sequence
    EXPECT_TRUE(PasswordError(std::string("abcd\0efgh", 9)).has_value());
    EXPECT_FALSE(PasswordError("pass word with spaces ' \" ;--").has_value());
}

TEST(EmailRulesTest, Sanity) {
    EXPECT_FALSE(EmailError("a@b").has_value());
    EXPECT_FALSE(EmailError("alice+tag@example.com").has_value());
    EXPECT_FALSE(EmailError("用户@例子.中国").has_value());
    for (const char* bad : {"", "alice", "@example.com", "alice@", "a@b@c", "al ice@example.com",
                            "alice@exa\tmple.com", "alice@example.com\n", "\x7f@b", "a\xc2\xa0@b",
                            "a\xe3\x80\x80@b", "a@b\xff"}) {
        EXPECT_TRUE(EmailError(bad).has_value()) << bad;
    }
}

TEST(EmailRulesTest, LengthBoundary) {
    const std::string domain = "@example.com";  // 12 chars
    EXPECT_FALSE(EmailError(std::string(254 - domain.size(), 'a') + domain).has_value());
    EXPECT_TRUE(EmailError(std::string(255 - domain.size(), 'a') + domain).has_value());
    EXPECT_FALSE(EmailError(Repeat("中", 254 - domain.size()) + domain).has_value());
}

TEST(NormalizeTest, UsernameFoldsAsciiCase) {
    EXPECT_EQ(NormalizeUsername("Alice_B0B"), "alice_b0b");
}

TEST(NormalizeTest, ThrottleClientKey) {
    EXPECT_EQ(ThrottleClientKey("203.0.113.7"), "203.0.113.7");
    EXPECT_EQ(ThrottleClientKey("::ffff:203.0.113.7"), "203.0.113.7");
    EXPECT_EQ(ThrottleClientKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
    EXPECT_EQ(ThrottleClientKey("2001:DB8:1:2::1"), "2001:db8:1:2::/64");
    EXPECT_EQ(ThrottleClientKey("not an address\x01\xff"), "not?an?address??");
    EXPECT_EQ(ThrottleClientKey(""), "");
    EXPECT_EQ(ThrottleClientKey(std::string(100, '1')).size(), 64u);
}

bool IsBase64UrlChar(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

TEST(TokenTest, GeneratedTokensAreWellFormedAndUnique) {
    std::unordered_set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        const std::string token = GenerateToken();
        ASSERT_EQ(token.size(), kTokenLength);
        for (char c : token) ASSERT_TRUE(IsBase64UrlChar(c)) << token;
        ASSERT_TRUE(IsWellFormedToken(token)) << token;
        ASSERT_TRUE(seen.insert(token).second) << "duplicate token " << token;
    }
}

TEST(TokenTest, RejectsWrongLengthOrAlphabet) {
    const std::string good = GenerateToken();
    EXPECT_FALSE(IsWellFormedToken(""));
    EXPECT_FALSE(IsWellFormedToken(good.substr(0, 42)));
    EXPECT_FALSE(IsWellFormedToken(good + "A"));
    EXPECT_FALSE(IsWellFormedToken(good + "="));
    EXPECT_FALSE(IsWellFormedToken(std::string(44, 'A')));
    for (char bad : {'+', '/', '=', ' ', '.', '\0', '\n', '%'}) {
        std::string token = good;
        token[10] = bad;
        EXPECT_FALSE(IsWellFormedToken(token)) << int{bad};
    }
    std::string non_ascii = good.substr(0, 41) + "\xc3\xa9";  // 43 bytes, 42 code points
    EXPECT_FALSE(IsWellFormedToken(non_ascii));
}

TEST(TokenTest, RejectsNonCanonicalPaddingBits) {
    // 32 bytes = 256 bits in 43 sextets (258 bits): the last char's two low bits must be zero.
    std::string token(42, 'A');
    EXPECT_TRUE(IsWellFormedToken(token + "A"));
    EXPECT_TRUE(IsWellFormedToken(token + "E"));
    EXPECT_FALSE(IsWellFormedToken(token + "B"));
    EXPECT_FALSE(IsWellFormedToken(token + "D"));
}

TEST(TokenTest, HashIsStableHexAndOnlyForWellFormedTokens) {
    const std::string token = GenerateToken();
    const std::optional<std::string> digest = TokenHashHex(token);
    ASSERT_TRUE(digest.has_value());
    EXPECT_EQ(digest->size(), 64u);
    EXPECT_EQ(digest->find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(TokenHashHex(token), digest);
    EXPECT_NE(TokenHashHex(GenerateToken()), digest);
    EXPECT_FALSE(TokenHashHex(token.substr(1)).has_value());
    EXPECT_FALSE(TokenHashHex("Bearer " + token).has_value());
    // SHA-256 of 32 zero bytes.
    EXPECT_EQ(TokenHashHex(std::string(43, 'A')),
              "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
}

TEST(ConstantTimeEqualsTest, Compares) {
    EXPECT_TRUE(ConstantTimeEquals("", ""));
    EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
    EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
    EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST(PasswordHashTest, RoundTripAndWrongPassword) {
    const std::string hash = HashPassword("correct horse battery staple");
    EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
    EXPECT_NE(hash.find("m=32768,t=3,p=1"), std::string::npos) << hash;
    EXPECT_TRUE(VerifyPassword(hash, "correct horse battery staple"));
    EXPECT_FALSE(VerifyPassword(hash, "correct horse battery stapl"));
    EXPECT_FALSE(VerifyPassword(hash, ""));
    EXPECT_FALSE(PasswordNeedsRehash(hash));
    // Salted: the same password never hashes the same twice.
    EXPECT_NE(HashPassword("correct horse battery staple"), hash);
}

TEST(PasswordHashTest, MultibytePassword) {
    const std::string password = "密码是中文的😀é";
    const std::string hash = HashPassword(password);
    EXPECT_TRUE(VerifyPassword(hash, password));
    EXPECT_FALSE(VerifyPassword(hash, "密码是中文的😀e"));
}

TEST(PasswordHashTest, MalformedStoredHashNeverMatches) {
    EXPECT_FALSE(VerifyPassword("", "whatever1"));
    EXPECT_FALSE(VerifyPassword("plaintext-password", "plaintext-password"));
    EXPECT_FALSE(VerifyPassword(std::string(300, '$'), "whatever1"));
    EXPECT_TRUE(PasswordNeedsRehash("not a hash"));
    EXPECT_TRUE(
        PasswordNeedsRehash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$"
                            "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"));
}

TEST(PasswordHashTest, DummyVerifyIsAlwaysFalse) {
    EXPECT_FALSE(DummyVerifyPassword("correct horse battery staple"));
    EXPECT_FALSE(DummyVerifyPassword(""));
}

}  // namespace
}  // namespace inkstone::lib

namespace inkstone::handlers {
namespace {

using std::chrono::seconds;

lib::base::TimePoint At(int64_t epoch_seconds) {
    return lib::base::TimePoint(seconds(epoch_seconds));
}

TEST(UserToJsonTest, ShapeAndMembership) {
    lib::accounts::User user;
    user.id = 42;
    user.username = "Alice";
    user.role = lib::accounts::Role::kUser;
    user.credits = 150;
    user.created_at = At(1795680000);  // 2026-11-26T08:00:00Z

    Json::Value json = UserToJson(user, At(1795680000));
    EXPECT_EQ(json["id"].asInt64(), 42);
    EXPECT_EQ(json["username"].asString(), "Alice");
    EXPECT_TRUE(json["email"].isNull());
    EXPECT_EQ(json["role"].asString(), "user");
    EXPECT_EQ(json["credits"].asInt64(), 150);
    EXPECT_FALSE(json["is_member"].asBool());
    EXPECT_TRUE(json["member_expired_at"].isNull());
    EXPECT_EQ(json["created_at"].asString(), "2026-11-26T08:00:00Z");
    EXPECT_EQ(json.size(), 8u);

    user.email = "a@b";
    user.member_expired_at = At(1795680000 + 60);
    json = UserToJson(user, At(1795680000));
    EXPECT_EQ(json["email"].asString(), "a@b");
    EXPECT_TRUE(json["is_member"].asBool());
    EXPECT_EQ(json["member_expired_at"].asString(), "2026-11-26T08:01:00Z");
    // Expiry is exclusive: at the instant itself the membership is over.
    EXPECT_FALSE(UserToJson(user, At(1795680000 + 60))["is_member"].asBool());
}

TEST(LoginThrottleTest, RetryAfterCountsUntilTheBoundaryLeavesTheWindow) {
    using lib::accounts::LoginRetryAfterSeconds;
    const lib::base::TimePoint now = At(1795680000);
    EXPECT_EQ(LoginRetryAfterSeconds(now, now), 900);
    EXPECT_EQ(LoginRetryAfterSeconds(now - seconds(600), now), 300);
    EXPECT_EQ(LoginRetryAfterSeconds(now - seconds(600) - std::chrono::milliseconds(1), now), 300);
    EXPECT_EQ(LoginRetryAfterSeconds(now - seconds(899) - std::chrono::milliseconds(500), now), 1);
    EXPECT_EQ(LoginRetryAfterSeconds(now - seconds(1000), now), 1);
}

}  // namespace
}  // namespace inkstone::handlers
