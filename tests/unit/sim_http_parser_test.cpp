#include <gtest/gtest.h>

#include <string>

#include "tests/sim/http_parser.h"

namespace inkstone::sim {
namespace {

using namespace std::string_literals;

TEST(SimHttpParser, GetWithHeaders) {
    const std::string raw =
        "GET /api/v1/tasks/abc?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization:  Bearer k \r\n"
        "X-Empty:\r\n\r\n";
    const ParseResult r = ParseHttpRequest(raw);
    ASSERT_EQ(r.status, ParseStatus::kComplete) << r.error;
    EXPECT_EQ(r.consumed, raw.size());
    EXPECT_EQ(r.request.method, "GET");
    EXPECT_EQ(r.request.target, "/api/v1/tasks/abc?x=1");
    EXPECT_EQ(r.request.path, "/api/v1/tasks/abc");
    EXPECT_EQ(r.request.Header("authorization"), "Bearer k");
    EXPECT_EQ(r.request.Header("x-empty"), "");
    EXPECT_EQ(r.request.Header("host"), "127.0.0.1");
    EXPECT_TRUE(r.request.keep_alive);
    EXPECT_EQ(r.request.body, "");
}

TEST(SimHttpParser, IncompleteUntilTheLastByte) {
    const std::string raw =
        "POST /p HTTP/1.1\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\nhello";
    for (size_t n = 0; n < raw.size(); ++n) {
        EXPECT_EQ(ParseHttpRequest(raw.substr(0, n)).status, ParseStatus::kIncomplete) << n;
    }
    const ParseResult r = ParseHttpRequest(raw + "GET / HTTP/1.1\r\n");
    ASSERT_EQ(r.status, ParseStatus::kComplete);
    EXPECT_EQ(r.request.body, "hello");
    EXPECT_EQ(r.consumed, raw.size());  // the pipelined next request stays in the buffer
}

TEST(SimHttpParser, ChunkedBody) {
    const std::string raw =
        "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
    for (size_t n = 0; n < raw.size(); ++n) {
        EXPECT_EQ(ParseHttpRequest(raw.substr(0, n)).status, ParseStatus::kIncomplete) << n;
    }
    const ParseResult r = ParseHttpRequest(raw);
    ASSERT_EQ(r.status, ParseStatus::kComplete) << r.error;
    EXPECT_EQ(r.request.body, "hello world");
    EXPECT_EQ(r.consumed, raw.size());
}

TEST(SimHttpParser, ConnectionCloseAndHttp10) {
    EXPECT_FALSE(ParseHttpRequest("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n")
                     .request.keep_alive);
    const ParseResult old = ParseHttpRequest("GET / HTTP/1.0\r\n\r\n");
    ASSERT_EQ(old.status, ParseStatus::kComplete);
    EXPECT_EQ(old.request.minor_version, 0);
    EXPECT_FALSE(old.request.keep_alive);
}

TEST(SimHttpParser, LeadingBlankLinesAndAbsoluteForm) {
    const ParseResult r =
        ParseHttpRequest("\r\n\r\nGET http://127.0.0.1:1/_sim/stats HTTP/1.1\r\n\r\n");
    ASSERT_EQ(r.status, ParseStatus::kComplete) << r.error;
    EXPECT_EQ(r.request.path, "/_sim/stats");
}

TEST(SimHttpParser, ExpectContinue) {
    const ParseResult r =
        ParseHttpRequest("POST /p HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(r.status, ParseStatus::kIncomplete);
    EXPECT_TRUE(r.expects_continue);
    EXPECT_FALSE(
        ParseHttpRequest("POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\n").expects_continue);
}

TEST(SimHttpParser, Limits) {
    ParseLimits limits;
    limits.max_header_bytes = 100;
    limits.max_body_bytes = 10;
    limits.max_headers = 2;
    EXPECT_EQ(ParseHttpRequest("GET /" + std::string(200, 'a'), limits).error_status, 431);
    EXPECT_EQ(
        ParseHttpRequest("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits).error_status,
        431);
    EXPECT_EQ(
        ParseHttpRequest("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits).error_status,
        413);
    EXPECT_EQ(ParseHttpRequest("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n", limits)
                  .error_status,
              413);
}

TEST(SimHttpParser, GarbageIsAnErrorNeverACrash) {
    for (const std::string& bad : {
             std::string("GARBAGE\r\n\r\n"),
             std::string("GET /\r\n\r\n"),
             std::string("GET / HTTP/2.0\r\n\r\n"),
             std::string("GET  / HTTP/1.1\r\n\r\n"),
             std::string("G(T / HTTP/1.1\r\n\r\n"),
             std::string("GET /a\x01 HTTP/1.1\r\n\r\n"),
             std::string("GET / HTTP/1.1\r\nNo colon\r\n\r\n"),
             std::string("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"),
             std::string("GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n"),
             "GET / HTTP/1.1\r\nA: x\0y\r\n\r\n"s,
             std::string("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
             std::string("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"),
             std::string("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
             std::string("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
             std::string(
                 "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
             std::string("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
             std::string("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
             std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
             std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"),
             std::string(
                 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n"),
         }) {
        const ParseResult r = ParseHttpRequest(bad);
        EXPECT_EQ(r.status, ParseStatus::kError) << bad;
        EXPECT_GE(r.error_status, 400) << bad;
        EXPECT_FALSE(r.error.empty()) << bad;
    }
}

TEST(SimHttpParser, EveryPrefixOfEveryShapeIsSafe) {
    // Whatever arrives, and however it is split, the parser answers without reading past it.
    const std::string samples[] = {
        "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        "\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    };
    for (const std::string& sample : samples) {
        for (size_t n = 0; n <= sample.size(); ++n) {
            const std::string prefix = sample.substr(0, n);
            const ParseResult r = ParseHttpRequest(prefix);
            EXPECT_LE(r.consumed, prefix.size());
        }
    }
}

}  // namespace
}  // namespace inkstone::sim
