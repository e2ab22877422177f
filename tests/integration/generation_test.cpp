// Generation over real HTTP, through nginx, the pool and the DashScope simulator (README,
// "Generation (Qwen)"): JSON and SSE, every failure's refund, client disconnects, 402 without
// an upstream call, members, 100 concurrent generations on 110 credits, images, vision, history.
#include <gtest/gtest.h>
#include <json/reader.h>
#include <json/writer.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "lib/http/message.h"
#include "tests/harness/api_user.h"
#include "tests/harness/ledger_invariants.h"
#include "tests/harness/shared_stack.h"
#include "tests/harness/sse_collector.h"

namespace inkstone::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

StackOptions GenerationOptions() {
    StackOptions options;
    options.config["testing.hooks"] = "true";
    options.config["generation.per_minute"] = "100000";
    options.config["generation.in_flight"] = "100000";
    options.config["qwen.idle_timeout_ms"] = "1500";
    options.config["qwen.total_timeout_ms"] = "8000";
    options.config["generation.recovery_margin_s"] = "1";
    // Every thread may generate: the overdraw race below runs 20 at once (the cap has its own
    // test in generation_lifecycle_test).
    options.config["generation.max_per_worker"] = "8";
    return options;
}

Stack& TheStack() { return SharedStack(GenerationOptions()); }
HttpClient Client() { return TheStack().client(); }

std::atomic<int> user_counter{0};

ApiUser NewUser(const char* prefix) {
    return RegisterUser(Client(), std::string(prefix) + "_" + std::to_string(++user_counter));
}

/// A user holding 110 credits (the 100 + 10 package, paid in mock mode).
ApiUser UserWith110(const char* prefix) {
    ApiUser user = NewUser(prefix);
    RechargeAndPay(Client(), user, JsonObject({{"price_id", 2}}));
    return user;
}

int64_t Balance(const ApiUser& user) {
    return Client().Get("/api/v1/credit/balance", user.Auth()).JsonBody()["credits"].asInt64();
}

Json::Value GenerateBody(const std::string& prompt, bool stream = false,
                         const std::string& tool = "article") {
    return JsonObject({{"tool_type", tool}, {"prompt", prompt}, {"stream", stream}});
}

HttpResponse Stream(const ApiUser& user, const std::string& prompt, SseCollector& sse,
                    int stop_after_deltas = -1) {
    return Client().Stream(
        "POST", "/api/v1/writing/generate", lib::base::ToJson(GenerateBody(prompt, true)),
        user.Auth({{"Content-Type", "application/json"}}),
        [&](const std::string& chunk, Clock::time_point at) {
            sse.Feed(chunk, at);
            return stop_after_deltas < 0 || sse.Count("delta") < stop_after_deltas;
        });
}

void ExpectLedgerHolds() {
    LedgerReport report = CheckLedger(TheStack().db());
    EXPECT_TRUE(report.violations.empty())
        << report.Summary() << "\n"
        << (report.violations.empty() ? "" : report.violations[0]);
}

TEST(Generation, CatalogsListModelsAndTools) {
    Json::Value models = Client().Get("/api/v1/ai/models").JsonBody()["items"];
    ASSERT_EQ(models.size(), 5u);
    std::set<std::string> names;
    for (const Json::Value& m : models) {
        names.insert(m["model"].asString());
        EXPECT_EQ(m["credits"], 10);
        EXPECT_EQ(m["provider"], "qwen");
    }
    EXPECT_EQ(names, (std::set<std::string>{"qwen-turbo", "qwen-plus", "qwen-max", "qwen-vl-plus",
                                            "wanx-v1"}));
    std::set<std::string> tools;
    const Json::Value listed = Client().Get("/api/v1/writing/tools").JsonBody()["items"];
    for (const Json::Value& t : listed) {
        tools.insert(t["tool_type"].asString());
        EXPECT_FALSE(t["name"].asString().empty());
    }
    for (const char* t : {"article", "title", "summary", "polish", "translate", "xiaohongshu"}) {
        EXPECT_TRUE(tools.count(t)) << t;
    }
}

TEST(Generation, JsonAndStreamCarryTheSameText) {
    ApiUser user = UserWith110("same_text");
    const std::string prompt = "秋天的风 [[sim:tokens=12]]";
    HttpResponse json =
        Client().Post("/api/v1/writing/generate", GenerateBody(prompt), user.Auth());
    ASSERT_EQ(json.status, 200) << json.body;
    Json::Value body = json.JsonBody();
    EXPECT_FALSE(body["content"].asString().empty());
    EXPECT_EQ(body["model"], "qwen-plus");
    EXPECT_EQ(body["finish_reason"], "stop");
    EXPECT_EQ(body["credits_charged"], 10);
    EXPECT_EQ(body["balance"], 100);
    EXPECT_GT(body["usage"]["output_tokens"].asInt(), 0);
    EXPECT_GT(body["generation_id"].asInt64(), 0);

    SseCollector sse;
    HttpResponse streamed = Stream(user, prompt, sse);
    ASSERT_EQ(streamed.status, 200) << streamed.body;
    EXPECT_NE(streamed.Header("content-type").find("text/event-stream"), std::string::npos);
    ASSERT_GE(sse.events.size(), 3u) << streamed.body;
    EXPECT_EQ(sse.events.front().event, "meta");
    EXPECT_EQ(sse.events.front().data["credits_charged"], 10);
    EXPECT_EQ(sse.events.front().data["balance"], 90);
    EXPECT_EQ(sse.events.back().event, "done");
    EXPECT_EQ(sse.events.back().data["finish_reason"], "stop");
    EXPECT_EQ(sse.events.back().data["balance"], 90);
    EXPECT_EQ(sse.Count("delta"), 12);
    EXPECT_EQ(sse.Text(), body["content"].asString());
    EXPECT_EQ(Balance(user), 90);
}

// A non-stream generation costs 9 statements: the token lookup; START TRANSACTION, the user's
// row lock, the fair-use counts, the generation INSERT ... RETURNING, the debit, the ledger
// INSERT, COMMIT; the finishing UPDATE (the balance comes from the lock, the ids from
// RETURNING, the tool and model from the worker's catalog).
TEST(Generation, NonStreamGenerationIsNineStatements) {
    ApiUser user = UserWith110("nine");
    HttpClient c = Client();
    // The thread's DB connection and catalog copy exist after one (a kept nginx connection
    // brings the next ones to the same thread).
    ASSERT_EQ(c.Post("/api/v1/writing/generate", GenerateBody("warm"), user.Auth()).status, 200);
    // As in Auth.AuthenticatedReadsAreOneStatement: the overhead of this test's own SHOW is
    // subtracted, and a background job's stray statement moves one try, not most.
    int nines = 0;
    std::string seen;
    for (int i = 0; i < 5; ++i) {
        HttpResponse r;
        const int64_t statements = StatementsDuring(TheStack().db(), [&] {
            r = c.Post("/api/v1/writing/generate", GenerateBody("nine"), user.Auth());
        });
        ASSERT_EQ(r.status, 200) << r.body;
        nines += statements == 9;
        seen += std::to_string(statements) + " ";
    }
    EXPECT_GE(nines, 3) << seen;
}

TEST(Generation, DeltasArriveOneByOne) {
    ApiUser user = UserWith110("one_by_one");
    SseCollector sse;
    HttpResponse r = Stream(user, "一个一个 [[sim:tokens=6,delay_ms=250]]", sse);
    ASSERT_EQ(r.status, 200) << r.body;
    std::vector<Clock::time_point> deltas;
    for (const SseEvent& e : sse.events) {
        if (e.event == "delta") deltas.push_back(e.at);
    }
    ASSERT_EQ(deltas.size(), 6u);
    // Buffering anywhere (app, libfcgi, nginx) would deliver deltas in bursts: every gap must
    // look like the simulator's 250 ms, allowing for scheduling jitter on a loaded machine.
    for (size_t i = 1; i < deltas.size(); ++i) {
        auto gap = deltas[i] - deltas[i - 1];
        EXPECT_GT(gap, 100ms) << "delta " << i << " arrived together with the one before";
        EXPECT_LT(gap, 700ms) << "delta " << i << " was held back";
    }
    EXPECT_GT(deltas.back() - deltas.front(), 1100ms);
}

TEST(Generation, UpstreamErrorsAreRefunded) {
    struct Case {
        const char* directive;
        long status;
        const char* code;
    };
    ApiUser user = UserWith110("errors");
    for (const Case& c : {Case{"401", 502, "UPSTREAM_ERROR"}, Case{"429", 503, "UPSTREAM_BUSY"},
                          Case{"500", 502, "UPSTREAM_ERROR"},
                          Case{"DataInspectionFailed", 422, "CONTENT_REJECTED"}}) {
        const std::string prompt = std::string("出错 [[sim:error=") + c.directive + "]]";
        HttpResponse r =
            Client().Post("/api/v1/writing/generate", GenerateBody(prompt), user.Auth());
        EXPECT_EQ(r.status, c.status) << c.directive << " " << r.body;
        Json::Value body = r.JsonBody();
        EXPECT_EQ(body["code"], c.code) << r.body;
        EXPECT_EQ(body["refunded"], true) << r.body;
        EXPECT_EQ(body["balance"], 110) << r.body;
        EXPECT_EQ(Balance(user), 110);

        SseCollector sse;
        HttpResponse s = Stream(user, prompt, sse);
        EXPECT_EQ(s.status, c.status) << c.directive << " stream " << s.body;
        EXPECT_EQ(s.JsonBody()["refunded"], true) << s.body;
        EXPECT_EQ(Balance(user), 110);
    }
    ExpectLedgerHolds();
}

TEST(Generation, FailuresAfterTheFirstDeltaEndWithAnErrorEvent) {
    ApiUser user = UserWith110("mid_stream");
    for (const char* directive : {"fail_after=2", "cut_after=2"}) {
        SseCollector sse;
        HttpResponse r = Stream(user, std::string("中途 [[sim:tokens=10,") + directive + "]]", sse);
        ASSERT_EQ(r.status, 200) << directive << r.body;
        EXPECT_EQ(sse.Count("delta"), 2) << directive;
        const SseEvent* error = sse.Find("error");
        ASSERT_NE(error, nullptr) << directive << r.body;
        EXPECT_EQ(error->data["refunded"], true);
        EXPECT_EQ(error->data["balance"], 110);
        EXPECT_EQ(error->data["code"], "UPSTREAM_ERROR");
        EXPECT_EQ(sse.Find("done"), nullptr);
        EXPECT_EQ(Balance(user), 110) << directive;
    }
}

TEST(Generation, SilentUpstreamTimesOutAndIsRefunded) {
    ApiUser user = UserWith110("hang");
    SseCollector sse;
    auto start = Clock::now();
    HttpResponse r = Stream(user, "沉默 [[sim:tokens=10,hang_after=2]]", sse);
    ASSERT_EQ(r.status, 200) << r.body;
    const SseEvent* error = sse.Find("error");
    ASSERT_NE(error, nullptr) << r.body;
    EXPECT_EQ(error->data["code"], "UPSTREAM_TIMEOUT");
    EXPECT_EQ(error->data["refunded"], true);
    EXPECT_LT(Clock::now() - start, 6s);  // idle timeout 1.5 s, not the total timeout
    EXPECT_EQ(Balance(user), 110);
}

/// The generation's row as GET /writing/generations/{id} shows it, once it has ended.
Json::Value Ended(const ApiUser& user, int64_t id) {
    const auto deadline = Clock::now() + 10s;
    Json::Value g;
    do {
        g = Client()
                .Get("/api/v1/writing/generations/" + std::to_string(id), user.Auth())
                .JsonBody();
        if (g["status"] != "RUNNING") break;
        std::this_thread::sleep_for(100ms);
    } while (Clock::now() < deadline);
    return g;
}

TEST(Generation, ReaderLeavingAfterTwoDeltasDoesNotCancel) {
    ApiUser user = UserWith110("leaver");
    const std::string prompt = "离开 [[sim:tokens=20,delay_ms=50]]";
    const int64_t aborted_before = TheStack().SimStats().aborted_streams;
    SseCollector sse;
    HttpResponse r = Stream(user, prompt, sse, /*stop_after=*/2);
    EXPECT_TRUE(r.aborted);
    ASSERT_NE(sse.Find("meta"), nullptr) << r.body;
    const Json::Value g = Ended(user, sse.Find("meta")->data["generation_id"].asInt64());
    EXPECT_EQ(g["status"], "SUCCEEDED") << g;
    EXPECT_EQ(g["end_reason"], "completed");
    EXPECT_EQ(g["deltas"], 20);
    EXPECT_EQ(g["refunded"], false);
    // The whole text is stored: the same as a reader who stayed gets (the simulator's text is
    // fixed by the prompt).
    SseCollector full;
    ASSERT_EQ(Stream(user, prompt, full).status, 200);
    EXPECT_EQ(g["content"].asString(), full.Text());
    EXPECT_EQ(g["content"].asString().rfind(sse.Text(), 0), 0u);
    EXPECT_EQ(TheStack().SimStats().aborted_streams, aborted_before)
        << "the upstream stream was cut although the reader's leaving must not cancel";
    EXPECT_EQ(Balance(user), 90);  // both charged
    ExpectLedgerHolds();
}

TEST(Generation, JsonClientLeavingStillGetsItStoredAndCharged) {
    ApiUser user = UserWith110("early_leaver");
    HttpClient impatient(TheStack().port(), 700ms);
    HttpResponse r = impatient.Request(
        "POST", "/api/v1/writing/generate",
        lib::base::ToJson(GenerateBody("慢 [[sim:tokens=5,first_delay_ms=1000]]", false)),
        user.Auth({{"Content-Type", "application/json"}}));
    EXPECT_EQ(r.status, 0);  // we hung up
    const auto deadline = Clock::now() + 8s;
    Json::Value item;
    while (Clock::now() < deadline) {
        item = Client().Get("/api/v1/writing/history", user.Auth()).JsonBody()["items"][0];
        if (item["status"] != "RUNNING") break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(item["status"], "SUCCEEDED") << item;
    EXPECT_FALSE(item["content"].asString().empty());
    EXPECT_EQ(item["refunded"], false);
    EXPECT_EQ(Balance(user), 100);
    ExpectLedgerHolds();
}

TEST(Generation, InsufficientCreditsIs402WithoutUpstreamCall) {
    ApiUser user = NewUser("poor");
    int64_t requests_before = TheStack().SimStats().requests;
    for (bool stream : {false, true}) {
        HttpResponse r =
            Client().Post("/api/v1/writing/generate", GenerateBody("没钱", stream), user.Auth());
        EXPECT_EQ(r.status, 402) << r.body;
        Json::Value body = r.JsonBody();
        EXPECT_EQ(body["code"], "INSUFFICIENT_CREDITS");
        EXPECT_EQ(body["required"], 10);
        EXPECT_EQ(body["balance"], 0);
    }
    EXPECT_EQ(TheStack().SimStats().requests, requests_before);
}

TEST(Generation, MembersPayNothing) {
    ApiUser user = NewUser("member");
    HttpClient c = Client();
    HttpResponse order =
        c.Post("/api/v1/credit/membership",
               JsonObject({{"plan", "monthly"}, {"payment_method", "wechat"}}), user.Auth());
    ASSERT_EQ(order.status, 201) << order.body;
    ASSERT_EQ(c.Post("/api/v1/payment/mock/pay",
                     JsonObject({{"order_no", order.JsonBody()["order_no"]}}), user.Auth())
                  .status,
              200);
    HttpResponse r = c.Post("/api/v1/writing/generate", GenerateBody("会员"), user.Auth());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.JsonBody()["credits_charged"], 0);
    EXPECT_EQ(r.JsonBody()["balance"], 0);
    SseCollector sse;
    ASSERT_EQ(Stream(user, "会员流", sse).status, 200);
    EXPECT_EQ(sse.Find("meta")->data["credits_charged"], 0);
}

TEST(Generation, HundredConcurrentOn110CreditsNeverOverdraw) {
    ApiUser user = UserWith110("hundred");
    std::atomic<int> ok{0}, poor{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 20; ++t) {
        threads.emplace_back([&] {
            HttpClient c = Client();
            for (int i = 0; i < 5; ++i) {
                HttpResponse r =
                    c.Post("/api/v1/writing/generate", GenerateBody("并发"), user.Auth());
                (r.status == 200 ? ok : r.status == 402 ? poor : other)++;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 11);
    EXPECT_EQ(poor.load(), 89);
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(Balance(user), 0);
    ExpectLedgerHolds();
}

TEST(Generation, ValidationErrorsNameTheField) {
    ApiUser user = UserWith110("validation");
    struct Case {
        Json::Value body;
        const char* field;
    };
    std::vector<Case> cases = {
        {JsonObject({{"tool_type", "nope"}, {"prompt", "x"}}), "tool_type"},
        {JsonObject({{"tool_type", "article"}, {"prompt", "x"}, {"model", "gpt-4"}}), "model"},
        {JsonObject({{"tool_type", "article"}, {"prompt", "x"}, {"model", "wanx-v1"}}), "model"},
        {JsonObject({{"tool_type", "article"}, {"prompt", ""}}), "prompt"},
        {JsonObject({{"tool_type", "article"}, {"prompt", std::string(8001, 'a')}}), "prompt"},
        {JsonObject({{"tool_type", "article"}, {"prompt", "x"}, {"stream", "yes"}}), "stream"},
        {JsonObject({{"tool_type", "article"}, {"prompt", "x"}, {"max_tokens", 0}}), "max_tokens"},
        {JsonObject({{"tool_type", "article"}, {"prompt", "x"}, {"temperature", 2.5}}),
         "temperature"},
    };
    Json::Value bad_images =
        JsonObject({{"tool_type", "article"}, {"prompt", "x"}, {"model", "qwen-plus"}});
    bad_images["images"].append("https://example.com/a.png");
    cases.push_back({bad_images, "images"});
    Json::Value not_url = JsonObject({{"tool_type", "article"}, {"prompt", "x"}});
    not_url["images"].append("file:///etc/passwd");
    cases.push_back({not_url, "images"});
    for (const Case& c : cases) {
        HttpResponse r = Client().Post("/api/v1/writing/generate", c.body, user.Auth());
        EXPECT_EQ(r.status, 422) << r.body;
        EXPECT_EQ(r.JsonBody()["field"], c.field) << r.body;
    }
    EXPECT_EQ(Balance(user), 110);
}

TEST(Generation, VisionWithImages) {
    ApiUser user = UserWith110("vision");
    Json::Value body = GenerateBody("描述这张图");
    body["images"].append("https://example.com/cat.png");
    HttpResponse r = Client().Post("/api/v1/writing/generate", body, user.Auth());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.JsonBody()["model"], "qwen-vl-plus");
    EXPECT_FALSE(r.JsonBody()["content"].asString().empty());
}

Json::Value PollTask(const ApiUser& user, const std::string& task_id) {
    Json::Value task;
    auto deadline = Clock::now() + 10s;
    do {
        task = Client().Get("/api/v1/image/tasks/" + task_id, user.Auth()).JsonBody();
        if (task["status"] != "PENDING" && task["status"] != "RUNNING") break;
        std::this_thread::sleep_for(100ms);
    } while (Clock::now() < deadline);
    return task;
}

TEST(Generation, ImageTasksSucceedOrAreRefundedOnce) {
    ApiUser user = UserWith110("images");
    HttpResponse ok =
        Client().Post("/api/v1/image/generate",
                      JsonObject({{"prompt", "一只猫 [[sim:task_ms=300]]"}}), user.Auth());
    ASSERT_EQ(ok.status, 202) << ok.body;
    EXPECT_EQ(ok.JsonBody()["credits_charged"], 10);
    EXPECT_EQ(ok.JsonBody()["balance"], 100);
    Json::Value done = PollTask(user, ok.JsonBody()["task_id"].asString());
    EXPECT_EQ(done["status"], "SUCCEEDED") << done;
    ASSERT_GE(done["images"].size(), 1u);
    EXPECT_EQ(done["images"][0]["url"].asString().rfind("http", 0), 0u);
    EXPECT_EQ(done["refunded"], false);

    HttpResponse bad =
        Client().Post("/api/v1/image/generate",
                      JsonObject({{"prompt", "坏图 [[sim:task=fail,task_ms=200]]"}}), user.Auth());
    ASSERT_EQ(bad.status, 202) << bad.body;
    const std::string task_id = bad.JsonBody()["task_id"].asString();
    Json::Value failed = PollTask(user, task_id);
    EXPECT_EQ(failed["status"], "FAILED") << failed;
    EXPECT_EQ(failed["refunded"], true);
    // Many pollers (the user, the background job) see it: still one refund.
    for (int i = 0; i < 5; ++i) Client().Get("/api/v1/image/tasks/" + task_id, user.Auth());
    Client().Post("/api/v1/_test/run-jobs", Json::Value(Json::objectValue));
    EXPECT_EQ(Balance(user), 100);
    auto refunds = TheStack().db().Query(
        "SELECT COUNT(*) FROM inkstone.credit_transactions WHERE type = 'REFUND' AND user_id = " +
        std::to_string(user.id));
    EXPECT_EQ(refunds[0][0], "1");

    ApiUser other = NewUser("images_other");
    EXPECT_EQ(Client().Get("/api/v1/image/tasks/" + task_id, other.Auth()).status, 404);
    ExpectLedgerHolds();
}

TEST(Generation, ImagesAreChargedPerImageAndRefundedWhole) {
    ApiUser user = UserWith110("images_n");
    HttpResponse three = Client().Post(
        "/api/v1/image/generate",
        JsonObject({{"prompt", "三张 [[sim:task=fail,task_ms=200]]"}, {"n", 3}}), user.Auth());
    ASSERT_EQ(three.status, 202) << three.body;
    EXPECT_EQ(three.JsonBody()["credits_charged"], 30);
    EXPECT_EQ(three.JsonBody()["balance"], 80);
    Json::Value failed = PollTask(user, three.JsonBody()["task_id"].asString());
    EXPECT_EQ(failed["status"], "FAILED") << failed;
    EXPECT_EQ(failed["refunded"], true);
    EXPECT_EQ(Balance(user), 110);
    ExpectLedgerHolds();
}

TEST(Generation, APollingLoopIsAnsweredFromTheRow) {
    ApiUser user = UserWith110("images_poll");
    HttpResponse slow =
        Client().Post("/api/v1/image/generate",
                      JsonObject({{"prompt", "慢图 [[sim:task_ms=6000]]"}}), user.Auth());
    ASSERT_EQ(slow.status, 202) << slow.body;
    const std::string path = "/api/v1/image/tasks/" + slow.JsonBody()["task_id"].asString();
    const int64_t before = TheStack().SimStats().requests;
    for (int i = 0; i < 20; ++i) {
        const Json::Value task = Client().Get(path, user.Auth()).JsonBody();
        EXPECT_TRUE(task["status"] == "PENDING" || task["status"] == "RUNNING") << task;
        std::this_thread::sleep_for(50ms);
    }
    // 20 polls in ~1 s reached DashScope at most once (the task was checked at its submission,
    // and each check holds for 2 s), where each used to be a call.
    EXPECT_LE(TheStack().SimStats().requests - before, 1);
}

TEST(Generation, HistoryIsPagedNewestFirst) {
    ApiUser user = UserWith110("history");
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(Client()
                      .Post("/api/v1/writing/generate",
                            GenerateBody("第" + std::to_string(i) + "篇"), user.Auth())
                      .status,
                  200);
    }
    Json::Value page =
        Client().Get("/api/v1/writing/history?page=1&page_size=2", user.Auth()).JsonBody();
    EXPECT_EQ(page["total"], 3);
    EXPECT_EQ(page["page_size"], 2);
    ASSERT_EQ(page["items"].size(), 2u);
    EXPECT_EQ(page["items"][0]["prompt"], "第2篇");
    EXPECT_EQ(page["items"][0]["status"], "SUCCEEDED");
    EXPECT_EQ(page["items"][0]["tool_type"], "article");
    EXPECT_EQ(page["items"][0]["credits_charged"], 10);
    EXPECT_GT(page["items"][0]["id"].asInt64(), page["items"][1]["id"].asInt64());
    EXPECT_EQ(Client().Get("/api/v1/writing/history?page_size=101", user.Auth()).status, 422);
    EXPECT_EQ(Client().Get("/api/v1/writing/history").status, 401);
}

}  // namespace
}  // namespace inkstone::testing
