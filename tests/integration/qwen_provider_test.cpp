// The Qwen provider over real sockets, against a tiny fake DashScope inside this test: a thread
// listening on 127.0.0.1 that replays canned responses, including slow, hanging and cut ones.
#include "lib/ai/qwen_provider.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/log.h"
#include "tests/unit/dashscope_captures.h"

namespace inkstone::lib {
using namespace inkstone::lib::base;
using namespace inkstone::lib::ai;
namespace {

namespace captures = testing::captures;
using Kind = UpstreamError::Kind;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kKey = "sk-secret-0123456789abcdef";

long long MsSince(SteadyClock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start).count();
}

struct Received {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;

    std::string Header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

/// One accepted connection, as a handler sees it.
class Conn {
  public:
    Conn(int fd, const std::atomic<bool>& stop) : fd_(fd), stop_(stop) {}

    bool Send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<size_t>(n));
        }
        return true;
    }
    /// A complete response with Content-Length (the connection stays open for the next one).
    void Respond(int status, std::string_view body,
                 std::string_view content_type = "application/json") {
        Send("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " +
             std::string(content_type) + "\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\nx-request-id: hdr-req\r\n\r\n");
        Send(body);
    }
    void SseHead(int status = 200,
                 std::string_view content_type = "text/event-stream;charset=UTF-8") {
        Send("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " +
             std::string(content_type) + "\r\nTransfer-Encoding: chunked\r\n\r\n");
    }
    bool Chunk(std::string_view bytes) {
        std::ostringstream size;
        size << std::hex << bytes.size();
        return Send(size.str() + "\r\n") && Send(bytes) && Send("\r\n");
    }
    void EndChunks() { Send("0\r\n\r\n"); }
    void Sleep(int ms) {
        const auto until = SteadyClock::now() + milliseconds(ms);
        while (!stop_ && SteadyClock::now() < until) std::this_thread::sleep_for(milliseconds(5));
    }
    /// Waits for the client to close the connection; returns when it did (or false on timeout).
    bool WaitForClientClose(int timeout_ms) {
        const auto until = SteadyClock::now() + milliseconds(timeout_ms);
        while (!stop_ && SteadyClock::now() < until) {
            pollfd p{fd_, POLLIN | POLLRDHUP, 0};
            if (poll(&p, 1, 20) > 0) {
                char byte;
                if (recv(fd_, &byte, 1, MSG_PEEK) <= 0) return true;
            }
        }
        return false;
    }
    /// No further requests on this connection.
    void Close() { closed = true; }

    bool closed = false;

  private:
    int fd_;
    const std::atomic<bool>& stop_;
};

class FakeUpstream {
  public:
    using Handler = std::function<void(const Received&, Conn&)>;

    explicit FakeUpstream(Handler handler) : handler_(std::move(handler)) {
        listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        EXPECT_GE(listen_fd_, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(listen(listen_fd_, 16), 0);
        socklen_t length = sizeof addr;
        EXPECT_EQ(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length), 0);
        port_ = ntohs(addr.sin_port);
        acceptor_ = std::thread([this] { AcceptLoop(); });
    }
    ~FakeUpstream() {
        stop_ = true;
        acceptor_.join();
        close(listen_fd_);
        std::lock_guard<std::mutex> lock(mu_);
        for (std::thread& worker : workers_) worker.join();
    }

    std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1"; }
    int connections() const { return connections_; }
    std::vector<Received> requests() const {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_;
    }

  private:
    void AcceptLoop() {
        while (!stop_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0) continue;
            const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            ++connections_;
            std::lock_guard<std::mutex> lock(mu_);
            workers_.emplace_back([this, fd] {
                Serve(fd);
                close(fd);
            });
        }
    }

    /// Reads requests off one connection and answers each with the handler.
    void Serve(int fd) {
        std::string buffer;
        for (;;) {
            size_t head_end;
            while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
                if (!ReadSome(fd, &buffer)) return;
            }
            Received request;
            std::istringstream head(buffer.substr(0, head_end));
            std::string line;
            std::getline(head, line);
            std::istringstream request_line(line);
            request_line >> request.method >> request.target;
            while (std::getline(head, line)) {
                if (!line.empty() && line.back() == '\r') line.pop_back();
                const size_t colon = line.find(':');
                if (colon == std::string::npos) continue;
                std::string name = line.substr(0, colon);
                for (char& c : name)
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                request.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
            }
            const size_t length = request.headers.count("content-length")
                                      ? std::stoul(request.headers["content-length"])
                                      : 0;
            buffer.erase(0, head_end + 4);
            while (buffer.size() < length) {
                if (!ReadSome(fd, &buffer)) return;
            }
            request.body = buffer.substr(0, length);
            buffer.erase(0, length);
            {
                std::lock_guard<std::mutex> lock(mu_);
                requests_.push_back(request);
            }
            Conn conn(fd, stop_);
            handler_(request, conn);
            if (conn.closed) return;
        }
    }

    bool ReadSome(int fd, std::string* buffer) {
        while (!stop_) {
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0) continue;
            char chunk[4096];
            const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) return false;
            buffer->append(chunk, static_cast<size_t>(n));
            return true;
        }
        return false;
    }

    Handler handler_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::thread acceptor_;
    mutable std::mutex mu_;
    std::vector<std::thread> workers_;
    std::vector<Received> requests_;
};

std::string Frame(int id, std::string_view content, std::string_view finish, int output_tokens) {
    return "id:" + std::to_string(id) + "\nevent:result\n:HTTP_STATUS/200\n" +
           R"(data:{"output":{"choices":[{"message":{"content":")" + std::string(content) +
           R"(","role":"assistant"},"finish_reason":")" + std::string(finish) +
           R"("}]},"usage":{"total_tokens":)" + std::to_string(10 + output_tokens) +
           R"(,"output_tokens":)" + std::to_string(output_tokens) +
           R"(,"input_tokens":10},"request_id":"req-stream"})" + "\n\n";
}

class RecordingSink final : public StreamSink {
  public:
    bool OnDelta(std::string_view text) override {
        std::lock_guard<std::mutex> lock(mu);
        deltas.emplace_back(text);
        times.push_back(SteadyClock::now());
        return static_cast<int>(deltas.size()) != stop_after;
    }
    std::string Text() {
        std::lock_guard<std::mutex> lock(mu);
        std::string all;
        for (const auto& d : deltas) all += d;
        return all;
    }
    std::mutex mu;
    std::vector<std::string> deltas;
    std::vector<SteadyClock::time_point> times;
    int stop_after = -1;
};

GenerateRequest Request(std::string prompt = "Write a poem.") {
    GenerateRequest request;
    request.model = "qwen-turbo";
    request.messages = {{"system", "You are a writer."}, {"user", std::move(prompt)}};
    return request;
}

class QwenProviderTest : public ::testing::Test {
  protected:
    QwenConfig Config(const FakeUpstream& upstream) {
        QwenConfig config;
        config.api_key = kKey;
        config.base_url = upstream.BaseUrl();
        config.connect_timeout_ms = 2000;
        config.idle_timeout_ms = 5000;
        config.total_timeout_ms = 20000;
        return config;
    }
    const NoCancel never_;
};

TEST_F(QwenProviderTest, JsonGeneration) {
    FakeUpstream upstream(
        [](const Received&, Conn& conn) { conn.Respond(200, captures::kMessageBody); });
    QwenProvider provider(Config(upstream));
    const Outcome<GenerateResult> result = provider.Generate(Request(), nullptr, never_);
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result.value().content, "I am Qwen.");
    EXPECT_EQ(result.value().finish_reason, "stop");
    EXPECT_EQ(result.value().usage.input_tokens, 22);
    EXPECT_EQ(result.value().usage.output_tokens, 17);
    EXPECT_EQ(result.value().request_id, "req-message");

    const auto requests = upstream.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].target, "/api/v1/services/aigc/text-generation/generation");
    EXPECT_EQ(requests[0].Header("authorization"), std::string("Bearer ") + kKey);
    EXPECT_EQ(requests[0].Header("content-type"), "application/json");
    EXPECT_EQ(requests[0].Header("x-dashscope-sse"), "");
    EXPECT_EQ(requests[0].body, BuildGenerateCall(Config(upstream), Request(), false).body);
}

TEST_F(QwenProviderTest, StreamingDeliversEachDeltaAsItArrives) {
    FakeUpstream upstream([](const Received&, Conn& conn) {
        conn.SseHead();
        conn.Chunk(Frame(1, "Ink", "null", 1));
        for (int i = 2; i <= 4; ++i) {
            conn.Sleep(200);
            conn.Chunk(Frame(i, " drop", "null", i));
        }
        conn.Chunk(Frame(5, "", "stop", 4));
        conn.EndChunks();
    });
    QwenProvider provider(Config(upstream));
    RecordingSink sink;
    const auto started = SteadyClock::now();
    const Outcome<GenerateResult> result = provider.Generate(Request(), &sink, never_);
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(sink.Text(), "Ink drop drop drop");
    EXPECT_EQ(result.value().content, "");
    EXPECT_EQ(result.value().finish_reason, "stop");
    EXPECT_EQ(result.value().usage.output_tokens, 4);
    EXPECT_EQ(result.value().request_id, "req-stream");
    ASSERT_EQ(sink.times.size(), 4u);
    // Each delta was handed over when its frame arrived, ~200 ms apart, not all at the end.
    EXPECT_LT(std::chrono::duration_cast<milliseconds>(sink.times[0] - started).count(), 150);
    for (size_t i = 1; i < sink.times.size(); ++i) {
        const auto gap =
            std::chrono::duration_cast<milliseconds>(sink.times[i] - sink.times[i - 1]).count();
        EXPECT_GE(gap, 150) << i;
        EXPECT_LE(gap, 600) << i;
    }
    const auto requests = upstream.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].Header("x-dashscope-sse"), "enable");
    EXPECT_EQ(requests[0].Header("accept"), "text/event-stream");
    EXPECT_NE(requests[0].body.find(R"("incremental_output":true)"), std::string::npos);
}

TEST_F(QwenProviderTest, TheThreeErrorFormsAndTheStatusMapping) {
    struct Case {
        const char* name;
        std::function<void(Conn&)> respond;
        Kind kind;
        int http_status;
        const char* code;
    };
    const std::vector<Case> cases = {
        {"401 JSON", [](Conn& c) { c.Respond(401, captures::kInvalidApiKeyBody); }, Kind::kAuth,
         401, "InvalidApiKey"},
        {"400 SSE body",
         [](Conn& c) { c.Respond(400, captures::kSseErrorBody400, "application/json"); },
         Kind::kBadRequest, 400, "InvalidParameter"},
        {"200 then event:error",
         [](Conn& c) {
             c.SseHead();
             c.Chunk(captures::kThrottlingFrame);
             c.Chunk("\n\n");
             c.EndChunks();
         },
         Kind::kRateLimited, 429, "Throttling.AllocationQuota"},
        {"400 DataInspectionFailed", [](Conn& c) { c.Respond(400, captures::kDataInspectionBody); },
         Kind::kContentRejected, 400, "DataInspectionFailed"},
        {"429 JSON", [](Conn& c) { c.Respond(429, captures::kThrottlingBody); }, Kind::kRateLimited,
         429, "Throttling.RateQuota"},
        {"500 JSON", [](Conn& c) { c.Respond(500, captures::kInternalErrorBody); }, Kind::kServer,
         500, "InternalError"},
        {"429 without a body", [](Conn& c) { c.Respond(429, ""); }, Kind::kRateLimited, 429, ""},
        {"502 HTML", [](Conn& c) { c.Respond(502, "<html>bad gateway</html>", "text/html"); },
         Kind::kServer, 502, ""},
    };
    for (const Case& c : cases) {
        for (const bool stream : {false, true}) {
            FakeUpstream upstream([&](const Received&, Conn& conn) { c.respond(conn); });
            QwenProvider provider(Config(upstream));
            RecordingSink sink;
            const Outcome<GenerateResult> result =
                provider.Generate(Request(), stream ? &sink : nullptr, never_);
            ASSERT_FALSE(result.ok()) << c.name;
            EXPECT_EQ(result.error().kind, c.kind) << c.name << " stream=" << stream;
            EXPECT_EQ(result.error().http_status, c.http_status) << c.name;
            EXPECT_EQ(result.error().code, c.code) << c.name;
            EXPECT_FALSE(result.error().after_output) << c.name;
            EXPECT_FALSE(result.error().request_id.empty()) << c.name;
            EXPECT_TRUE(sink.deltas.empty()) << c.name;
        }
    }
}

TEST_F(QwenProviderTest, CancelStopsAHangingStreamWithinASecond) {
    std::atomic<long long> closed_after_cancel_ms{-1};
    std::atomic<bool> cancelled{false};
    SteadyClock::time_point cancel_time;
    std::mutex mu;
    FakeUpstream upstream([&](const Received&, Conn& conn) {
        conn.SseHead();
        conn.Chunk(Frame(1, "Hello", "null", 1));
        if (conn.WaitForClientClose(10000) && cancelled) {
            std::lock_guard<std::mutex> lock(mu);
            closed_after_cancel_ms = MsSince(cancel_time);
        }
        conn.Close();
    });
    QwenConfig config = Config(upstream);
    config.idle_timeout_ms = 60000;
    QwenProvider provider(config);
    RecordingSink sink;
    CancelFlag flag;
    std::thread canceller([&] {
        std::this_thread::sleep_for(milliseconds(400));
        {
            std::lock_guard<std::mutex> lock(mu);
            cancel_time = SteadyClock::now();
            cancelled = true;
        }
        flag.Cancel();
    });
    const Outcome<GenerateResult> result = provider.Generate(Request(), &sink, flag);
    canceller.join();
    long long returned_after_cancel_ms;
    {
        std::lock_guard<std::mutex> lock(mu);
        returned_after_cancel_ms = MsSince(cancel_time);
    }
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kCancelled);
    EXPECT_TRUE(result.error().after_output);
    EXPECT_EQ(sink.Text(), "Hello");
    EXPECT_LT(returned_after_cancel_ms, 500);
    for (int i = 0; i < 100 && closed_after_cancel_ms < 0; ++i) {
        std::this_thread::sleep_for(milliseconds(10));
    }
    EXPECT_GE(closed_after_cancel_ms, 0) << "upstream never saw the connection close";
    EXPECT_LT(closed_after_cancel_ms, 1000);
}

TEST_F(QwenProviderTest, CancelBeforeAnyOutput) {
    FakeUpstream upstream([](const Received&, Conn& conn) {
        conn.WaitForClientClose(10000);  // never answers
        conn.Close();
    });
    QwenProvider provider(Config(upstream));
    RecordingSink sink;
    CancelFlag flag;
    std::thread canceller([&] {
        std::this_thread::sleep_for(milliseconds(200));
        flag.Cancel();
    });
    const auto started = SteadyClock::now();
    const Outcome<GenerateResult> result = provider.Generate(Request(), &sink, flag);
    canceller.join();
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kCancelled);
    EXPECT_FALSE(result.error().after_output);
    EXPECT_LT(MsSince(started), 1000);

    // Already cancelled: no call at all.
    const size_t before = upstream.requests().size();
    EXPECT_EQ(provider.Generate(Request(), &sink, flag).error().kind, Kind::kCancelled);
    EXPECT_EQ(upstream.requests().size(), before);
}

TEST_F(QwenProviderTest, IdleTimeoutAfterOutputAndBeforeTheFirstByte) {
    FakeUpstream upstream([](const Received& request, Conn& conn) {
        if (request.body.find("hang-after-one") != std::string::npos) {
            conn.SseHead();
            conn.Chunk(Frame(1, "one", "null", 1));
        }
        conn.WaitForClientClose(10000);
        conn.Close();
    });
    QwenConfig config = Config(upstream);
    config.idle_timeout_ms = 300;
    QwenProvider provider(config);
    for (const bool after_output : {true, false}) {
        RecordingSink sink;
        const auto started = SteadyClock::now();
        const Outcome<GenerateResult> result = provider.Generate(
            Request(after_output ? "hang-after-one" : "hang-at-once"), &sink, never_);
        const long long elapsed = MsSince(started);
        ASSERT_FALSE(result.ok());
        EXPECT_EQ(result.error().kind, Kind::kTimeout);
        EXPECT_EQ(result.error().after_output, after_output);
        EXPECT_GE(elapsed, 290);
        EXPECT_LT(elapsed, 1500);
    }
}

TEST_F(QwenProviderTest, ASlowReaderIsNotUpstreamSilence) {
    // A frame every 500 ms; our sink (the client's write, stuck on a reader at 1 byte/s) blocks
    // 400 ms on each delta. Upstream is then silent for only 100 ms after each write returns,
    // well inside the 300 ms idle timeout: the time we spend blocked on our own reader is not
    // upstream's silence, and the stream must finish.
    FakeUpstream upstream([](const Received&, Conn& conn) {
        conn.SseHead();
        for (int i = 1; i <= 4; ++i) {
            conn.Chunk(Frame(i, "word ", "null", i));
            conn.Sleep(500);
        }
        conn.Chunk(Frame(5, "", "stop", 4));
        conn.EndChunks();
    });
    QwenConfig config = Config(upstream);
    config.idle_timeout_ms = 300;
    QwenProvider provider(config);
    class SlowSink final : public StreamSink {
      public:
        bool OnDelta(std::string_view text) override {
            text_ += text;
            std::this_thread::sleep_for(milliseconds(400));
            return true;
        }
        std::string text_;
    } sink;
    const Outcome<GenerateResult> result = provider.Generate(Request(), &sink, never_);
    ASSERT_TRUE(result.ok()) << UpstreamErrorKindName(result.error().kind) << ": "
                             << result.error().message;
    EXPECT_EQ(sink.text_, "word word word word ");
    EXPECT_EQ(result.value().finish_reason, "stop");
}

TEST_F(QwenProviderTest, IdleTimeoutSparesNonStreamGenerationsButNotTaskCalls) {
    FakeUpstream upstream([](const Received& request, Conn& conn) {
        if (request.method == "POST" &&
            request.target.find("image-synthesis") == std::string::npos) {
            conn.Sleep(600);  // generating the whole answer before the first byte
            conn.Respond(200, captures::kMessageBody);
            return;
        }
        conn.WaitForClientClose(10000);
        conn.Close();
    });
    QwenConfig config = Config(upstream);
    config.idle_timeout_ms = 200;
    QwenProvider provider(config);
    const Outcome<GenerateResult> result = provider.Generate(Request(), nullptr, never_);
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result.value().content, "I am Qwen.");

    auto started = SteadyClock::now();
    const Outcome<ImageTask> polled = provider.GetImageTask("t1", never_);
    ASSERT_FALSE(polled.ok());
    EXPECT_EQ(polled.error().kind, Kind::kTimeout);
    EXPECT_LT(MsSince(started), 1500);
    ImageRequest image;
    image.model = "wanx-v1";
    image.prompt = "p";
    started = SteadyClock::now();
    EXPECT_EQ(provider.SubmitImageTask(image, never_).error().kind, Kind::kTimeout);
    EXPECT_LT(MsSince(started), 1500);
}

TEST_F(QwenProviderTest, TotalTimeoutBoundsAStreamThatNeverEnds) {
    FakeUpstream upstream([](const Received&, Conn& conn) {
        conn.SseHead();
        for (int i = 1; i < 1000 && conn.Chunk(Frame(i, "x", "null", i)); ++i) conn.Sleep(50);
        conn.Close();
    });
    QwenConfig config = Config(upstream);
    config.total_timeout_ms = 600;
    QwenProvider provider(config);
    RecordingSink sink;
    const auto started = SteadyClock::now();
    const Outcome<GenerateResult> result = provider.Generate(Request(), &sink, never_);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kTimeout);
    EXPECT_TRUE(result.error().after_output);
    EXPECT_GE(MsSince(started), 550);
    EXPECT_LT(MsSince(started), 2000);
}

TEST_F(QwenProviderTest, ConnectionRefusedIsANetworkError) {
    // A port that was just free: bind, read it, close.
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t length = sizeof addr;
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length), 0);
    close(fd);
    QwenConfig config;
    config.api_key = kKey;
    config.base_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/api/v1";
    QwenProvider provider(config);
    RecordingSink sink;
    const Outcome<GenerateResult> result = provider.Generate(Request(), &sink, never_);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kNetwork);
    EXPECT_FALSE(result.error().after_output);
    EXPECT_EQ(HttpStatus(ToApiError(result.error()).code), 502);
}

TEST_F(QwenProviderTest, ACutStreamIsANetworkErrorAfterOutput) {
    FakeUpstream upstream([](const Received&, Conn& conn) {
        conn.SseHead();
        conn.Chunk(Frame(1, "a", "null", 1));
        conn.Chunk(Frame(2, "b", "null", 2).substr(0, 30));  // half a frame, then gone
        conn.Close();
    });
    QwenProvider provider(Config(upstream));
    RecordingSink sink;
    const Outcome<GenerateResult> result = provider.Generate(Request(), &sink, never_);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kNetwork) << result.error().message;
    EXPECT_TRUE(result.error().after_output);
    EXPECT_EQ(sink.Text(), "a");
}

TEST_F(QwenProviderTest, OversizedOrGarbageBodiesAreProtocolErrors) {
    FakeUpstream upstream([](const Received& request, Conn& conn) {
        if (request.body.find("huge-json") != std::string::npos) {
            conn.Respond(200, "{\"output\":\"" + std::string(5 << 20, 'x') + "\"}");
        } else if (request.body.find("huge-line") != std::string::npos) {
            conn.SseHead();
            conn.Chunk("data:");
            for (int i = 0; i < 40 && conn.Chunk(std::string(64 << 10, 'y')); ++i) {
            }
            conn.EndChunks();
        } else {
            conn.SseHead();
            conn.Chunk("id:1\nevent:result\ndata:\x01\x02 not json\n\n");
            conn.EndChunks();
        }
        conn.Close();
    });
    QwenProvider provider(Config(upstream));
    EXPECT_EQ(provider.Generate(Request("huge-json"), nullptr, never_).error().kind,
              Kind::kProtocol);
    RecordingSink sink;
    EXPECT_EQ(provider.Generate(Request("huge-line"), &sink, never_).error().kind, Kind::kProtocol);
    EXPECT_EQ(provider.Generate(Request("garbage"), &sink, never_).error().kind, Kind::kProtocol);
    EXPECT_TRUE(sink.deltas.empty());
}

TEST_F(QwenProviderTest, ResponsesAreReadByTheirShape) {
    FakeUpstream upstream([](const Received& request, Conn& conn) {
        if (request.Header("x-dashscope-sse") == "enable") {
            conn.Respond(200, captures::kMessageBody);  // JSON to a streamed call
        } else {
            conn.SseHead();  // SSE to a non-stream call
            conn.Chunk(captures::kStream);
            conn.EndChunks();
        }
    });
    QwenProvider provider(Config(upstream));
    RecordingSink sink;
    Outcome<GenerateResult> result = provider.Generate(Request(), &sink, never_);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(sink.deltas, std::vector<std::string>{"I am Qwen."});
    EXPECT_EQ(result.value().content, "");

    result = provider.Generate(Request(), nullptr, never_);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result.value().content, "I am Qwen");
    EXPECT_EQ(result.value().usage.output_tokens, 66);
}

TEST_F(QwenProviderTest, ASinkThatStopsEndsTheCall) {
    FakeUpstream upstream([](const Received&, Conn& conn) {
        conn.SseHead();
        for (int i = 1; i <= 3; ++i) conn.Chunk(Frame(i, "t", "null", i));
        conn.WaitForClientClose(10000);
        conn.Close();
    });
    QwenProvider provider(Config(upstream));
    RecordingSink sink;
    sink.stop_after = 2;
    const auto started = SteadyClock::now();
    const Outcome<GenerateResult> result = provider.Generate(Request(), &sink, never_);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().kind, Kind::kCancelled);
    EXPECT_TRUE(result.error().after_output);
    EXPECT_EQ(sink.deltas.size(), 2u);
    EXPECT_LT(MsSince(started), 1000);
}

TEST_F(QwenProviderTest, KeepAliveReusesOneConnection) {
    FakeUpstream upstream([](const Received& request, Conn& conn) {
        if (request.Header("x-dashscope-sse") == "enable") {
            conn.SseHead();
            conn.Chunk(captures::kStream);
            conn.EndChunks();
        } else {
            conn.Respond(200, captures::kMessageBody);
        }
    });
    QwenProvider provider(Config(upstream));
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(provider.Generate(Request(), nullptr, never_).ok());
        RecordingSink sink;
        ASSERT_TRUE(provider.Generate(Request(), &sink, never_).ok());
        EXPECT_EQ(sink.Text(), "I am Qwen");
    }
    EXPECT_EQ(upstream.requests().size(), 6u);
    EXPECT_EQ(upstream.connections(), 1);
}

TEST_F(QwenProviderTest, ImageTaskSubmitAndPoll) {
    FakeUpstream upstream([](const Received& request, Conn& conn) {
        if (request.method == "POST") {
            conn.Respond(200, captures::kTaskSubmitted);
        } else if (request.target == "/api/v1/tasks/c2145ead-task") {
            conn.Respond(200, captures::kTaskSucceeded);
        } else {
            conn.Respond(404, R"({"code":"NotFound","message":"no","request_id":"r"})");
        }
    });
    QwenProvider provider(Config(upstream));
    ImageRequest image;
    image.model = "wanx-v1";
    image.prompt = "a cat";
    image.size = "1024*1024";
    image.n = 1;
    const Outcome<ImageTask> submitted = provider.SubmitImageTask(image, never_);
    ASSERT_TRUE(submitted.ok()) << submitted.error().message;
    EXPECT_EQ(submitted.value().status, TaskStatus::kPending);
    EXPECT_EQ(submitted.value().task_id, "0385dc79-5ff8-4d82-bcb6-xxxxxx");

    const Outcome<ImageTask> polled = provider.GetImageTask("c2145ead-task", never_);
    ASSERT_TRUE(polled.ok()) << polled.error().message;
    EXPECT_EQ(polled.value().status, TaskStatus::kSucceeded);
    EXPECT_EQ(polled.value().image_urls.size(), 1u);
    EXPECT_EQ(polled.value().image_count, 1);

    const auto requests = upstream.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].target, "/api/v1/services/aigc/text2image/image-synthesis");
    EXPECT_EQ(requests[0].Header("x-dashscope-async"), "enable");
    EXPECT_EQ(requests[0].body, BuildImageSubmitCall(Config(upstream), image).body);
    EXPECT_EQ(requests[1].method, "GET");
    EXPECT_EQ(requests[1].Header("x-dashscope-async"), "");
    EXPECT_EQ(requests[1].Header("authorization"), std::string("Bearer ") + kKey);
}

TEST_F(QwenProviderTest, TheKeyIsSentButNeverLogged) {
    char pattern[] = "/tmp/inkstone-qwen-log-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    const std::string dir = pattern;
    const std::string log_path = dir + "/inkstone.log";
    LogInit(LogConfig{log_path, "debug"});
    // Upstream echoing the key back must not get it into a log line or an error.
    const std::string echo =
        std::string(R"({"code":"InvalidApiKey","message":"Invalid API-key provided: )") + kKey +
        R"(","request_id":"r-)" + kKey + R"("})";
    FakeUpstream upstream([&](const Received& request, Conn& conn) {
        if (request.body.find("ok") != std::string::npos) {
            conn.Respond(200, captures::kMessageBody);
        } else if (request.Header("x-dashscope-sse") == "enable") {
            conn.SseHead();
            conn.Chunk("event:error\n:HTTP_STATUS/401\ndata:" + echo + "\n\n");
            conn.EndChunks();
        } else {
            conn.Respond(401, echo);
        }
    });
    QwenProvider provider(Config(upstream));
    RecordingSink sink;
    EXPECT_TRUE(provider.Generate(Request("ok"), nullptr, never_).ok());
    const Outcome<GenerateResult> json = provider.Generate(Request("bad"), nullptr, never_);
    const Outcome<GenerateResult> sse = provider.Generate(Request("bad"), &sink, never_);
    ImageRequest image;
    image.model = "wanx-v1";
    image.prompt = "bad";
    const Outcome<ImageTask> task = provider.SubmitImageTask(image, never_);
    LogInit(LogConfig{"", "info"});

    for (const UpstreamError& error : {json.error(), sse.error(), task.error()}) {
        EXPECT_EQ(error.kind, Kind::kAuth);
        EXPECT_EQ(error.message.find(kKey), std::string::npos) << error.message;
        EXPECT_EQ(error.request_id.find(kKey), std::string::npos) << error.request_id;
        EXPECT_NE(error.message.find("[redacted]"), std::string::npos) << error.message;
    }
    for (const Received& request : upstream.requests()) {
        EXPECT_EQ(request.Header("authorization"), std::string("Bearer ") + kKey);
    }
    std::ifstream in(log_path);
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(log.find("qwen.call"), std::string::npos) << log;
    EXPECT_NE(log.find("qwen.call_failed"), std::string::npos) << log;
    EXPECT_EQ(log.find(kKey), std::string::npos) << log;
    EXPECT_EQ(log.find("sk-secret"), std::string::npos) << log;
    unlink(log_path.c_str());
    rmdir(dir.c_str());
}

TEST_F(QwenProviderTest, ConcurrentCallsOnManyThreads) {
    FakeUpstream upstream([](const Received&, Conn& conn) {
        conn.SseHead();
        conn.Chunk(captures::kStream);
        conn.EndChunks();
    });
    QwenProvider provider(Config(upstream));
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 5; ++i) {
                RecordingSink sink;
                if (provider.Generate(Request(), &sink, NoCancel()).ok() &&
                    sink.Text() == "I am Qwen") {
                    ++ok;
                }
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(ok, 20);
    EXPECT_LE(upstream.connections(), 4);  // one per thread, reused
}

}  // namespace
}  // namespace inkstone::lib
