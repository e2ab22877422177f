// The limits that keep one client from taking the platform down or getting service for free
// (README, "Security limits"): login and registration floods, nginx's auth zone, unpaid orders
// per user, and a health check that answers while MariaDB is frozen.
//
// nginx here trusts X-Forwarded-For from 127.0.0.1 (real_ip, a local.d file of this stack
// only), so one test process can speak as many client addresses; without it every client of a
// test is 127.0.0.1.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/api_user.h"
#include "tests/harness/shared_stack.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kLoginFailuresPerAddress = 20;
constexpr int kLoginFailuresPerUsername = 30;
constexpr int kRegistrationsPerAddress = 5;

Stack& TheStack() {
    static const StackOptions options = [] {
        StackOptions o;
        o.workers = 2;
        o.threads = 8;
        o.config["auth.login_failures_per_address"] = std::to_string(kLoginFailuresPerAddress);
        o.config["auth.login_failures_per_username"] = std::to_string(kLoginFailuresPerUsername);
        o.config["auth.registrations_per_address"] = std::to_string(kRegistrationsPerAddress);
        o.nginx_local_conf["realip.conf"] =
            "set_real_ip_from 127.0.0.1;\nreal_ip_header X-Forwarded-For;\n";
        // nginx's own zone as production renders it (nginx/*.conf.in): the flood below meets
        // both it and the pool's limits, the other tests stay under it.
        o.auth_rate = "10r/s";
        o.auth_burst = 20;
        return o;
    }();
    return SharedStack(options);
}

HttpClient Client() { return TheStack().client(10s); }

std::string UniqueName(const std::string& prefix) {
    static std::atomic<int> counter{0};
    return prefix + "_" + std::to_string(counter++);
}

/// A fresh client address for each caller: 198.51.100.x, then 198.51.101.x, ...
std::string FreshAddress() {
    static std::atomic<int> next{1};
    const int n = next++;
    return "198.51." + std::to_string(100 + n / 250) + "." + std::to_string(1 + n % 250);
}

HttpHeaders From(const std::string& address, HttpHeaders extra = {}) {
    extra["X-Forwarded-For"] = address;
    return extra;
}

Json::Value Creds(const std::string& username, const std::string& password = "correct horse 1") {
    return JsonObject({{"username", username}, {"password", password}});
}

ApiUser Register(const std::string& username, const std::string& address = FreshAddress()) {
    const HttpResponse r = Client().Post("/api/v1/auth/register", Creds(username), From(address));
    EXPECT_EQ(r.status, 201) << r.body;
    ApiUser user;
    if (r.status != 201) return user;
    const Json::Value body = r.JsonBody();
    user.id = body["user"]["id"].asInt64();
    user.username = username;
    user.token = body["access_token"].asString();
    return user;
}

double Percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
    return values[index];
}

// A flood of logins with random usernames from one address: after the address's limit every
// attempt is a 429 that costs a few indexed statements and no argon2 run, so the pool's threads
// stay free and a balance check beside the flood stays fast.
TEST(Hardening, LoginFloodFromOneAddressIsThrottledWhileBalanceStaysFast) {
    const ApiUser user = Register(UniqueName("flood_victim"));
    const std::string attacker = FreshAddress();
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::map<long, int> answers;
    std::vector<std::thread> flood;
    // ~100 logins/s on 24 connections, twice what argon2 verifies on two cores and more
    // connections than the pool has threads (2 x 8): unbounded, every request thread would
    // end up waiting for a hashing slot, and the balance checks behind them.
    for (int t = 0; t < 24; ++t) {
        flood.emplace_back([&, t] {
            const HttpClient c = Client();
            for (int i = 0; !stop.load(); ++i) {
                const HttpResponse r = c.Post(
                    "/api/v1/auth/login",
                    Creds("nobody_" + std::to_string(t) + "_" + std::to_string(i), "wrong pass 1"),
                    From(attacker));
                {
                    std::lock_guard<std::mutex> lock(mu);
                    answers[r.status]++;
                }
                if (r.status == 429) {
                    EXPECT_FALSE(r.Header("retry-after").empty());
                }
                std::this_thread::sleep_for(240ms);
            }
        });
    }
    // The first auth.login_failures_per_address attempts are hashed (and some turned away with
    // 503 while the hashing slots are taken); from then on every attempt is a cheap 429.
    std::this_thread::sleep_for(3s);

    std::vector<double> latencies_ms;
    const HttpClient c = Client();
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
        const auto started = std::chrono::steady_clock::now();
        const HttpResponse r = c.Get("/api/v1/credit/balance", user.Auth());
        const auto took = std::chrono::steady_clock::now() - started;
        EXPECT_EQ(r.status, 200) << r.body;
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(took).count());
        std::this_thread::sleep_for(20ms);
    }
    // A login from another address is not held back by the flood.
    const HttpResponse mine =
        c.Post("/api/v1/auth/login", Creds(user.username), From(FreshAddress()));
    stop = true;
    for (std::thread& t : flood) t.join();

    std::vector<double> sorted = latencies_ms;
    std::sort(sorted.rbegin(), sorted.rend());
    std::printf("[ flood    ] slowest balance replies: %.0f %.0f %.0f %.0f %.0f ms\n", sorted[0],
                sorted[1], sorted[2], sorted[3], sorted[4]);
    const double p50 = Percentile(latencies_ms, 0.50);
    const double p99 = Percentile(latencies_ms, 0.99);
    std::printf(
        "[ flood    ] logins: 401 x %d, 429 x %d, 503 x %d; balance: %zu requests, p50 %.1f ms, "
        "p99 %.1f ms\n",
        answers[401], answers[429], answers[503], latencies_ms.size(), p50, p99);
    EXPECT_EQ(mine.status, 200) << mine.body;
    EXPECT_LE(answers[401], kLoginFailuresPerAddress);  // no argon2 run after the limit
    EXPECT_GT(answers[429], 3 * kLoginFailuresPerAddress);
    EXPECT_GE(latencies_ms.size(), 200u);
    EXPECT_LT(p99, 100.0);
}

// The per-address limit does not depend on the usernames tried; the per-username cap holds
// against guesses spread over many addresses (e.g. rotating IPv6 /64s).
TEST(Hardening, LoginLimitsPerAddressAndPerUsername) {
    const HttpClient c = Client();
    const ApiUser victim = Register(UniqueName("spread_victim"));
    for (int i = 0; i < kLoginFailuresPerUsername; ++i) {
        const HttpResponse r = c.Post("/api/v1/auth/login", Creds(victim.username, "wrong pass 1"),
                                      From("2001:db8:" + std::to_string(1000 + i) + "::1"));
        ASSERT_EQ(r.status, 401) << i << ": " << r.body;
    }
    const HttpResponse capped = c.Post("/api/v1/auth/login", Creds(victim.username, "wrong pass 1"),
                                       From("2001:db8:ffff::1"));
    EXPECT_EQ(capped.status, 429) << capped.body;
    EXPECT_EQ(capped.JsonBody()["code"], "RATE_LIMITED");
    EXPECT_FALSE(capped.Header("retry-after").empty());
    // Other accounts are untouched.
    const ApiUser other = Register(UniqueName("spread_other"));
    EXPECT_EQ(c.Post("/api/v1/auth/login", Creds(other.username), From("2001:db8:ffff::1")).status,
              200);
}

TEST(Hardening, RegistrationsPerAddressAreLimited) {
    const HttpClient c = Client();
    const std::string address = FreshAddress();
    for (int i = 0; i < kRegistrationsPerAddress; ++i) Register(UniqueName("reg"), address);
    const HttpResponse r = c.Post("/api/v1/auth/register", Creds(UniqueName("reg")), From(address));
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_EQ(r.JsonBody()["code"], "RATE_LIMITED");
    const int retry_after =
        std::stoi(r.Header("retry-after").empty() ? "0" : r.Header("retry-after"));
    EXPECT_GT(retry_after, 3000);  // the hour's window
    EXPECT_LE(retry_after, 3600);
    // A refused registration created nothing; another address registers.
    EXPECT_EQ(TheStack().db().Query("SELECT COUNT(*) FROM inkstone.users WHERE username LIKE "
                                    "'reg\\_%'")[0][0],
              std::to_string(kRegistrationsPerAddress));
    Register(UniqueName("reg_elsewhere"));
}

// nginx refuses a burst on /api/v1/auth/ from one address with its own JSON 429, before the
// pool sees it; other paths are not in the zone.
TEST(Hardening, NginxAuthZoneAnswersJson429) {
    const std::string address = FreshAddress();
    std::atomic<int> nginx_429{0};
    std::atomic<int> passed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            const HttpClient c = Client();
            for (int i = 0; i < 40; ++i) {
                // A body the app refuses at once (422): cheap for the pool, whatever nginx does.
                const HttpResponse r = c.Post("/api/v1/auth/login", JsonObject({}), From(address));
                if (r.status == 429) {
                    EXPECT_EQ(r.JsonBody()["code"], "RATE_LIMITED") << r.body;
                    EXPECT_EQ(r.Header("retry-after"), "1");
                    nginx_429++;
                } else {
                    passed++;
                }
            }
        });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_GT(nginx_429.load(), 0);
    EXPECT_GT(passed.load(), 0);
    EXPECT_EQ(Client().Get("/api/v1/credit/prices", From(address)).status, 200);
}

TEST(Hardening, UnpaidOrdersPerUserAreCapped) {
    const HttpClient c = Client();
    const ApiUser user = Register(UniqueName("orders"));
    std::vector<std::string> order_nos;
    for (int i = 0; i < 5; ++i) {
        const HttpResponse r =
            c.Post("/api/v1/credit/recharge",
                   JsonObject({{"amount_fen", 100}, {"payment_method", "alipay"}}), user.Auth());
        ASSERT_EQ(r.status, 201) << r.body;
        order_nos.push_back(r.JsonBody()["order_no"].asString());
    }
    // The sixth, of either kind, waits until one is paid or expires.
    const HttpResponse sixth =
        c.Post("/api/v1/credit/membership",
               JsonObject({{"plan", "monthly"}, {"payment_method", "wechat"}}), user.Auth());
    EXPECT_EQ(sixth.status, 429) << sixth.body;
    EXPECT_EQ(sixth.JsonBody()["code"], "RATE_LIMITED");
    EXPECT_FALSE(sixth.Header("retry-after").empty());
    EXPECT_EQ(c.Get("/api/v1/credit/recharge/orders", user.Auth()).JsonBody()["total"], 5);
    EXPECT_EQ(c.Get("/api/v1/credit/membership/orders", user.Auth()).JsonBody()["total"], 0);
    // Paying one makes room.
    ASSERT_EQ(
        c.Post("/api/v1/payment/mock/pay", JsonObject({{"order_no", order_nos[0]}}), user.Auth())
            .status,
        200);
    EXPECT_EQ(c.Post("/api/v1/credit/membership",
                     JsonObject({{"plan", "monthly"}, {"payment_method", "wechat"}}), user.Auth())
                  .status,
              201);
}

// Last: it freezes MariaDB. GET /health answers within 1 s all the same (503 while the
// database does not answer in time) and turns green again once it thaws.
TEST(Hardening, HealthAnswersWithinASecondWhileMariaDbIsFrozen) {
    const HttpClient c = Client();
    ASSERT_EQ(c.Get("/api/v1/health").status, 200);
    const pid_t mariadb = TheStack().db().pid();
    ASSERT_GT(mariadb, 0);
    ASSERT_EQ(kill(mariadb, SIGSTOP), 0);
    std::vector<double> took_ms;
    for (int i = 0; i < 5; ++i) {
        const auto started = std::chrono::steady_clock::now();
        const HttpResponse r = c.Get("/api/v1/health");
        took_ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                .count());
        EXPECT_EQ(r.status, 503) << r.body << r.error;
        if (r.status == 503) {
            EXPECT_EQ(r.JsonBody()["code"], "UNAVAILABLE");
            EXPECT_EQ(r.JsonBody()["db"], "down");
        }
    }
    ASSERT_EQ(kill(mariadb, SIGCONT), 0);
    std::printf("[ health   ] frozen MariaDB: %.0f / %.0f / %.0f / %.0f / %.0f ms\n", took_ms[0],
                took_ms[1], took_ms[2], took_ms[3], took_ms[4]);
    for (double ms : took_ms) EXPECT_LT(ms, 1000.0);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    long status = 0;
    while ((status = c.Get("/api/v1/health").status) != 200 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(200ms);
    }
    EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace inkstone::testing
