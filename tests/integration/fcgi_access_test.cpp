// The FastCGI socket itself (README, "Security limits"): over TCP only the peers of fcgi.allow
// may talk to the pool (a FastCGI client sets REMOTE_ADDR itself, so anyone else could reach
// the loopback-only status page or pick fresh throttle keys); and the pool spreads requests
// over its workers, so one worker's crash takes only its share of the in-flight requests.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/fastcgi_client.h"
#include "tests/harness/process.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;

Stack& TcpStack() {
    static const StackOptions options = [] {
        StackOptions o = GtestStackOptions();
        o.with_simulator = false;
        o.workers = 2;
        o.threads = 4;
        o.config["fcgi.listen"] = "127.0.0.1:" + std::to_string(FreePort());
        // nginx (127.0.0.1) and one more loopback address; 127.0.0.3 stands for a stranger.
        o.config["fcgi.allow"] = "127.0.0.1, 127.0.0.2/32";
        // Accepts are what is measured here: a kept connection would carry every one of the
        // sequential requests below on one thread of one worker (with keepalive, load spreads
        // by connection, and the connections by this same accept order).
        o.upstream_keepalive = 0;
        return o;
    }();
    return SharedStack(options);
}

int PoolPort() {
    const std::string listen = TcpStack().pool().listen();
    return std::stoi(listen.substr(listen.rfind(':') + 1));
}

TEST(FcgiAccess, AnAllowedPeerReachesTheStatusPage) {
    const FastCgiReply allowed = FastCgiExchange(
        "127.0.0.2", PoolPort(), FastCgiGet("/inkstone-status", {{"REMOTE_ADDR", "127.0.0.1"}}));
    ASSERT_TRUE(allowed.connected);
    EXPECT_NE(allowed.reply.find("\"pool\""), std::string::npos) << allowed.reply.size();
    // nginx, from 127.0.0.1, is allowed too.
    EXPECT_EQ(TcpStack().client().Get("/api/v1/health").status, 200);
}

TEST(FcgiAccess, ADisallowedPeerIsClosedBeforeARequestIsRead) {
    // Claiming to be loopback gets a stranger nothing: the connection closes unanswered.
    const FastCgiReply stranger = FastCgiExchange(
        "127.0.0.3", PoolPort(), FastCgiGet("/inkstone-status", {{"REMOTE_ADDR", "127.0.0.1"}}));
    ASSERT_TRUE(stranger.connected);
    EXPECT_EQ(stranger.reply, "");
    const FastCgiReply api = FastCgiExchange(
        "127.0.0.3", PoolPort(), FastCgiGet("/api/v1/health", {{"REMOTE_ADDR", "203.0.113.5"}}));
    EXPECT_EQ(api.reply, "");
    // The worker logs the refusal after it closed the connection: give the line a moment.
    std::string log;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    do {
        log = ReadFile(TcpStack().pool().log_path());
        if (log.find("127.0.0.3") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_NE(log.find("\"event\":\"fcgi_peer_refused\""), std::string::npos);
    EXPECT_NE(log.find("127.0.0.3"), std::string::npos);
    // The pool goes on serving the allowed ones.
    EXPECT_EQ(TcpStack().client().Get("/api/v1/health").status, 200);
}

// Steady load through nginx: each of 2 workers takes its share (today's EPOLLEXCLUSIVE order
// gave the first worker nearly everything while the other idled).
TEST(FcgiAccess, RequestsSpreadOverTheWorkers) {
    Stack& stack = TcpStack();
    const auto accepted = [&] {
        std::map<int, int64_t> by_pid;
        const HttpResponse status = stack.client().Get("/inkstone-status");
        EXPECT_EQ(status.status, 200) << status.body;
        const Json::Value body = status.JsonBody();
        for (const Json::Value& w : body["workers"]) {
            by_pid[w["pid"].asInt()] = w["accepted_requests"].asInt64();
        }
        return by_pid;
    };
    const std::map<int, int64_t> before = accepted();
    ASSERT_EQ(before.size(), 2u);
    // Steady load: one request after another, so an idle thread of the first worker is always
    // there to take it.
    const HttpClient c = stack.client();
    for (int i = 0; i < 400; ++i) EXPECT_EQ(c.Get("/api/v1/credit/prices").status, 200);
    const std::map<int, int64_t> after = accepted();
    ASSERT_EQ(after.size(), 2u);
    int64_t total = 0;
    std::vector<int64_t> shares;
    for (const auto& [pid, count] : after) {
        shares.push_back(count - before.at(pid));
        total += shares.back();
    }
    std::printf("[ spread   ] 2 workers: %lld / %lld of %lld requests\n",
                static_cast<long long>(shares[0]), static_cast<long long>(shares[1]),
                static_cast<long long>(total));
    ASSERT_GE(total, 400);
    for (int64_t share : shares) EXPECT_LE(share, total * 7 / 10);
}

}  // namespace
}  // namespace inkstone::testing
