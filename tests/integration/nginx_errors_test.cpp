// nginx's side of the stack, without the pool: the rendered config routes, limits and answers
// its own errors in JSON. A tiny FastCGI responder stands in for the pool where a test needs
// one (app errors pass through untouched, streams are not buffered).
#include <gtest/gtest.h>
#include <json/value.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/http_client.h"
#include "tests/harness/nginx.h"
#include "tests/harness/process.h"
#include "tests/harness/process_tree.h"

namespace inkstone::testing {
namespace {

using std::chrono::milliseconds;

// A temp dir removed at the end unless a test of this binary failed.
class TempDir {
  public:
    TempDir() : path_(MakeTempDir("inkstone-nginx-")) {}
    ~TempDir() {
        if (::testing::UnitTest::GetInstance()->Failed()) {
            std::fprintf(stderr, "kept %s (nginx logs under nginx*/logs)\n", path_.c_str());
        } else {
            RemoveTree(path_);
        }
    }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// One FastCGI response: the CGI header block and body, sent as separate FCGI_STDOUT records
// `gap` apart so a test can see whether nginx forwards them at once or buffers them.
struct FakeReply {
    std::vector<std::string> parts;
    milliseconds gap{0};
};

// A single-threaded FastCGI responder on a unix socket, just enough protocol for nginx with
// fastcgi_keep_conn off: read records until the empty FCGI_STDIN, answer, close.
class FakeFastCgi {
  public:
    FakeFastCgi(std::string path, std::function<FakeReply(const std::string& uri)> reply)
        : path_(std::move(path)), reply_(std::move(reply)) {
        fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket: " + std::string(strerror(errno)));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            listen(fd_, 16) != 0) {
            throw std::runtime_error("bind/listen " + path_ + ": " + strerror(errno));
        }
        thread_ = std::thread([this] { Serve(); });
    }
    ~FakeFastCgi() {
        stop_ = true;
        shutdown(fd_, SHUT_RDWR);
        thread_.join();
        close(fd_);
        unlink(path_.c_str());
    }

  private:
    static constexpr unsigned char kEndRequest = 3, kParams = 4, kStdin = 5, kStdout = 6;

    static bool ReadExact(int fd, unsigned char* buf, size_t n) {
        size_t got = 0;
        while (got < n) {
            const ssize_t r = read(fd, buf + got, n - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return false;
            got += static_cast<size_t>(r);
        }
        return true;
    }

    static bool WriteAll(int fd, const std::string& data) {
        size_t done = 0;
        while (done < data.size()) {
            const ssize_t w = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return false;
            done += static_cast<size_t>(w);
        }
        return true;
    }

    static std::string Record(unsigned char type, const std::string& content) {
        std::string r = {1,
                         static_cast<char>(type),
                         0,
                         1,
                         static_cast<char>((content.size() >> 8) & 0xff),
                         static_cast<char>(content.size() & 0xff),
                         0,
                         0};
        return r + content;
    }

    // FastCGI name-value pairs: each length is one byte, or four with the high bit set.
    static std::string FindParam(const std::string& params, const std::string& wanted) {
        size_t i = 0;
        auto length = [&](uint32_t* out) {
            if (i >= params.size()) return false;
            const auto b = static_cast<unsigned char>(params[i]);
            if (b < 0x80) {
                *out = b;
                ++i;
                return true;
            }
            if (i + 4 > params.size()) return false;
            *out = ((b & 0x7fu) << 24) | (static_cast<unsigned char>(params[i + 1]) << 16) |
                   (static_cast<unsigned char>(params[i + 2]) << 8) |
                   static_cast<unsigned char>(params[i + 3]);
            i += 4;
            return true;
        };
        uint32_t name_len = 0;
        uint32_t value_len = 0;
        while (length(&name_len) && length(&value_len)) {
            if (i + name_len + value_len > params.size()) break;
            const std::string name = params.substr(i, name_len);
            const std::string value = params.substr(i + name_len, value_len);
            i += name_len + value_len;
            if (name == wanted) return value;
        }
        return "";
    }

    void Serve() {
        while (!stop_) {
            const int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (conn < 0) {
                if (errno == EINTR) continue;
                return;  // shut down by the destructor
            }
            Handle(conn);
            close(conn);
        }
    }

    void Handle(int conn) {
        std::string params;
        for (;;) {
            unsigned char header[8];
            if (!ReadExact(conn, header, sizeof header)) return;
            const size_t length = (header[4] << 8) | header[5];
            std::vector<unsigned char> content(length + header[6]);
            if (!content.empty() && !ReadExact(conn, content.data(), content.size())) return;
            if (header[1] == kParams) params.append(content.begin(), content.begin() + length);
            if (header[1] == kStdin && length == 0) break;
        }
        const FakeReply reply = reply_(FindParam(params, "REQUEST_URI"));
        for (size_t i = 0; i < reply.parts.size(); ++i) {
            if (i > 0) std::this_thread::sleep_for(reply.gap);
            if (!WriteAll(conn, Record(kStdout, reply.parts[i]))) return;
        }
        const std::string end_body(8, '\0');  // app status 0, FCGI_REQUEST_COMPLETE
        WriteAll(conn, Record(kStdout, "") + Record(kEndRequest, end_body));
    }

    std::string path_;
    std::function<FakeReply(const std::string&)> reply_;
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

void ExpectJsonError(const HttpResponse& r, long status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.error << " " << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/json") << r.body;
    EXPECT_EQ(r.body.find("<html"), std::string::npos) << r.body;
    const Json::Value json = r.JsonBody();
    EXPECT_EQ(json["code"].asString(), code) << r.body;
    EXPECT_TRUE(json["detail"].isString()) << r.body;
}

// nginx with its pool socket pointing at a path where nothing listens.
class NginxWithoutPool : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir();
        NginxOptions options;
        options.prefix = dir_->path() + "/nginx";
        options.pool_address = "unix:" + dir_->path() + "/no-such.sock";
        // A stand-in for web/dist: what Vite builds, an index.html naming hashed assets.
        options.web_root = dir_->path() + "/web";
        std::filesystem::create_directories(options.web_root + "/assets");
        WriteFile(options.web_root + "/index.html",
                  "<!doctype html><script type=\"module\" src=\"/assets/app-3f2a.js\"></script>");
        WriteFile(options.web_root + "/assets/app-3f2a.js",
                  "console.log('inkstone');\n" + std::string(4000, ' ') + "// end\n");
        nginx_ = new Nginx(options);
        nginx_->Start();
    }
    static void TearDownTestSuite() {
        delete nginx_;
        delete dir_;
    }
    HttpClient client() const { return HttpClient(nginx_->port(), std::chrono::seconds(10)); }

    static TempDir* dir_;
    static Nginx* nginx_;
};
TempDir* NginxWithoutPool::dir_ = nullptr;
Nginx* NginxWithoutPool::nginx_ = nullptr;

TEST_F(NginxWithoutPool, ApiWithoutPoolIs502Json) {
    ExpectJsonError(client().Get("/api/v1/anything"), 502, "UPSTREAM_ERROR");
    ExpectJsonError(client().Request("POST", "/api/v1/auth/login", R"({"username":"a"})"), 502,
                    "UPSTREAM_ERROR");
    ExpectJsonError(client().Get("/api/v1/writing/generate"), 502, "UPSTREAM_ERROR");
    const HttpResponse r = client().Get("/api/v1/anything");
    EXPECT_EQ(r.JsonBody()["detail"].asString(), "the application server is not reachable");
}

TEST_F(NginxWithoutPool, ErrorPagesStayJsonWhateverTheExtension) {
    // A mime.types lookup would make these text/html or application/javascript.
    ExpectJsonError(client().Get("/api/v1/page.html"), 502, "UPSTREAM_ERROR");
    ExpectJsonError(client().Get("/api/v1/app.js"), 502, "UPSTREAM_ERROR");
}

TEST_F(NginxWithoutPool, ApiPathsOutsideV1Are404Json) {
    ExpectJsonError(client().Get("/api/v2/health"), 404, "NOT_FOUND");
    ExpectJsonError(client().Get("/api/v1"), 404, "NOT_FOUND");
    ExpectJsonError(client().Get("/api"), 404, "NOT_FOUND");
    ExpectJsonError(client().Get("/api/index.html"), 404, "NOT_FOUND");
    ExpectJsonError(client().Request("POST", "/api/v0/auth/login", "{}"), 404, "NOT_FOUND");
}

void ExpectWebHeaders(const HttpResponse& r) {
    const std::string csp = r.Header("content-security-policy");
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("style-src 'self';"), std::string::npos) << csp;
    // The one relaxation: style attributes (Element Plus sets some); never script or <style>.
    const size_t attr = csp.find("style-src-attr 'unsafe-inline'");
    ASSERT_NE(attr, std::string::npos) << csp;
    EXPECT_EQ(csp.find("'unsafe-inline'"), attr + std::string("style-src-attr ").size()) << csp;
    EXPECT_EQ(csp.find("'unsafe-inline'", attr + 16), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
    EXPECT_EQ(r.Header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r.Header("referrer-policy"), "strict-origin-when-cross-origin");
}

// Everything outside /api/ is the single-page app: files of the build, otherwise index.html.
TEST_F(NginxWithoutPool, WebAppIsServedAtRootWithHistoryFallback) {
    for (const std::string path : {"/", "/index.html", "/writing", "/orders/R2026?x=1", "/nope"}) {
        SCOPED_TRACE(path);
        const HttpResponse r = client().Get(path);
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8");
        EXPECT_NE(r.body.find("/assets/app-3f2a.js"), std::string::npos) << r.body;
        EXPECT_EQ(r.Header("cache-control"), "no-cache");
        ExpectWebHeaders(r);
    }
    const HttpResponse js = client().Get("/assets/app-3f2a.js");
    EXPECT_EQ(js.status, 200);
    EXPECT_EQ(js.Header("content-type"), "application/javascript; charset=utf-8");
    EXPECT_EQ(js.Header("cache-control"), "max-age=315360000");
    ExpectWebHeaders(js);
    const HttpResponse gz = client().Get("/assets/app-3f2a.js", {{"Accept-Encoding", "gzip"}});
    EXPECT_EQ(gz.Header("content-encoding"), "gzip");
    EXPECT_LT(gz.body.size(), js.body.size());
    // A missing hashed asset must not turn into index.html (the browser would run HTML as JS).
    ExpectJsonError(client().Get("/assets/app-0000.js"), 404, "NOT_FOUND");
    // Static files answer GET and HEAD only.
    EXPECT_EQ(client().Request("HEAD", "/").status, 200);
    ExpectJsonError(client().Request("DELETE", "/index.html"), 405, "METHOD_NOT_ALLOWED");
    ExpectJsonError(client().Request("POST", "/writing", "x=1"), 405, "METHOD_NOT_ALLOWED");
    ExpectJsonError(client().Request("PUT", "/assets/app-3f2a.js", "x"), 405, "METHOD_NOT_ALLOWED");
}

TEST_F(NginxWithoutPool, ApiRepliesCarryNoWebHeaders) {
    // /api/v1/ behaves as before the web app: no CSP, no cache headers, no gzip of JSON.
    const HttpResponse r = client().Get("/api/v1/health", {{"Accept-Encoding", "gzip"}});
    EXPECT_EQ(r.Header("content-security-policy"), "");
    EXPECT_EQ(r.Header("cache-control"), "");
    EXPECT_EQ(r.Header("content-encoding"), "");
    EXPECT_EQ(client().Get("/api/v2/x").Header("content-security-policy"), "");
}

TEST(NginxWebApp, NotBuiltYetSaysSoInJson) {
    TempDir dir;
    NginxOptions options;
    options.prefix = dir.path() + "/nginx";
    options.pool_address = "unix:" + dir.path() + "/no-such.sock";
    options.web_root = dir.path() + "/no-dist";
    Nginx nginx(options);
    nginx.Start();
    for (const std::string path : {"/", "/writing"}) {
        const HttpResponse r = HttpClient(nginx.port()).Get(path);
        ExpectJsonError(r, 404, "NOT_FOUND");
        EXPECT_NE(r.body.find("make web"), std::string::npos) << r.body;
    }
}

TEST_F(NginxWithoutPool, BodyOverOneMebibyteIs413Json) {
    const std::string big(1024 * 1024 + 1, 'x');
    ExpectJsonError(client().Request("POST", "/api/v1/writing/generate", big), 413,
                    "PAYLOAD_TOO_LARGE");
    ExpectJsonError(client().Request("POST", "/api/v1/credit/recharge", big,
                                     {{"Transfer-Encoding", "chunked"}}),
                    413, "PAYLOAD_TOO_LARGE");
    // Within nginx's limit the request goes on to the (missing) pool, which owns the 64 KiB rule.
    ExpectJsonError(client().Request("POST", "/api/v1/credit/recharge", std::string(100000, 'x')),
                    502, "UPSTREAM_ERROR");
}

TEST_F(NginxWithoutPool, StatusPageIsReachableFromLoopback) {
    const HttpResponse r = client().Get("/inkstone-status");
    EXPECT_NE(r.status, 403) << r.body;
    ExpectJsonError(r, 502, "UPSTREAM_ERROR");
}

TEST_F(NginxWithoutPool, MalformedRequestsAre400Json) {
    for (const std::string& request : std::vector<std::string>{
             "GET /api/v1/health HTTP/1.1\r\n\r\n",  // HTTP/1.1 without Host
             "FOO BAR\r\n\r\n",                      // no URI at all
             "POST /api/v1/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n",
         }) {
        const std::string reply = RawExchange(nginx_->port(), request);
        SCOPED_TRACE(request.substr(0, 60));
        EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
        EXPECT_NE(reply.find("Content-Type: application/json"), std::string::npos) << reply;
        EXPECT_NE(reply.find(R"("code":"BAD_REQUEST")"), std::string::npos) << reply;
    }
}

TEST(NginxRender, EveryPlaceholderIsFilled) {
    EXPECT_EQ(RenderTemplate("a @X@ b @inkstone_named; @Y_2@@", {{"X", "1"}, {"Y_2", "2"}}),
              "a 1 b @inkstone_named; 2@");
    EXPECT_THROW(RenderTemplate("listen @PORT@;", {}), std::runtime_error);

    TempDir dir;
    NginxOptions options;
    options.prefix = dir.path() + "/nginx";
    options.pool_address = "unix:/run/x.sock";
    options.status_path = "/custom-status";
    Nginx nginx(options);
    nginx.Render();
    const std::string conf = ReadFile(nginx.conf_path());
    const std::string locations = ReadFile(options.prefix + "/conf/inkstone-locations.conf");
    const std::string upstream = ReadFile(options.prefix + "/conf/inkstone-upstream.conf");
    EXPECT_NE(conf.find("listen 127.0.0.1:" + std::to_string(nginx.port()) + ";"),
              std::string::npos);
    EXPECT_NE(conf.find("pid " + options.prefix + "/nginx.pid;"), std::string::npos);
    EXPECT_NE(locations.find("location = /custom-status {"), std::string::npos);
    EXPECT_NE(locations.find("root " + options.web_root + ";"), std::string::npos);
    EXPECT_NE(upstream.find("server unix:/run/x.sock;"), std::string::npos);
    EXPECT_FALSE(ReadFile(options.prefix + "/conf/fastcgi_params").empty());
    // upstream_keepalive 0 renders none (Stack's default, -1, sizes one); with one,
    // connections are kept on both sides. nginx's own closing bounds are always there.
    EXPECT_EQ(upstream.find("    keepalive "), std::string::npos);
    EXPECT_NE(upstream.find("    keepalive_timeout 4s;"), std::string::npos);
    EXPECT_NE(upstream.find("    keepalive_time 10s;"), std::string::npos);
    EXPECT_NE(locations.find("fastcgi_keep_conn off;"), std::string::npos);
    EXPECT_EQ(locations.find("fastcgi_keep_conn on;"), std::string::npos);
    options.upstream_keepalive = 3;
    Nginx kept(options);
    kept.Render();
    EXPECT_NE(ReadFile(options.prefix + "/conf/inkstone-upstream.conf").find("    keepalive 3;"),
              std::string::npos);
    const std::string kept_locations = ReadFile(options.prefix + "/conf/inkstone-locations.conf");
    EXPECT_NE(kept_locations.find("location /api/v1/ {"), std::string::npos);
    EXPECT_NE(kept_locations.find("fastcgi_keep_conn on;"), std::string::npos);
}

// nginx in front of the fake responder.
class NginxWithFakePool : public ::testing::Test {
  protected:
    void SetUp() override {
        const std::string socket = dir_.path() + "/fake.sock";
        fake_ = std::make_unique<FakeFastCgi>(socket, [](const std::string& uri) {
            FakeReply reply;
            if (uri == "/api/v1/app-error") {
                reply.parts = {
                    "Status: 502 Bad Gateway\r\nContent-Type: application/json\r\n\r\n"
                    R"({"detail":"upstream failed","code":"UPSTREAM_ERROR","from":"app"})"};
            } else if (uri == "/api/v1/writing/generate" || uri == "/api/v1/accel-stream") {
                const std::string accel =
                    uri == "/api/v1/accel-stream" ? "X-Accel-Buffering: no\r\n" : "";
                reply.parts = {"Content-Type: text/event-stream\r\n" + accel + "\r\n",
                               "event: delta\ndata: {\"content\":\"a\"}\n\n",
                               "event: delta\ndata: {\"content\":\"b\"}\n\n",
                               "event: done\ndata: {}\n\n"};
                reply.gap = milliseconds(300);
            } else {
                reply.parts = {"Content-Type: application/json\r\n\r\n{\"uri\":\"" + uri + "\"}"};
            }
            return reply;
        });
        NginxOptions options;
        options.prefix = dir_.path() + "/nginx";
        options.pool_address = "unix:" + socket;
        nginx_ = std::make_unique<Nginx>(options);
        nginx_->Start();
    }
    void TearDown() override {
        nginx_->Stop();
        fake_.reset();
    }

    // The times at which the SSE events of `path` reached the client.
    std::vector<std::chrono::steady_clock::time_point> EventTimes(const std::string& path) {
        std::vector<std::chrono::steady_clock::time_point> times;
        std::string pending;
        const HttpResponse r =
            HttpClient(nginx_->port())
                .Stream("POST", path, "{}", {}, [&](const std::string& chunk, auto at) {
                    pending += chunk;
                    for (size_t end; (end = pending.find("\n\n")) != std::string::npos;) {
                        times.push_back(at);
                        pending.erase(0, end + 2);
                    }
                    return true;
                });
        EXPECT_EQ(r.status, 200) << r.error << r.body;
        EXPECT_EQ(r.Header("content-type"), "text/event-stream");
        return times;
    }

    TempDir dir_;
    std::unique_ptr<FakeFastCgi> fake_;
    std::unique_ptr<Nginx> nginx_;
};

TEST_F(NginxWithFakePool, PassesRequestUriAndTheAppsOwnErrorsThrough) {
    const HttpResponse ok = HttpClient(nginx_->port()).Get("/api/v1/credit/balance?x=1");
    EXPECT_EQ(ok.status, 200) << ok.error << ok.body;
    EXPECT_EQ(ok.JsonBody()["uri"].asString(), "/api/v1/credit/balance?x=1");

    const HttpResponse error = HttpClient(nginx_->port()).Get("/api/v1/app-error");
    EXPECT_EQ(error.status, 502);
    EXPECT_EQ(error.JsonBody()["from"].asString(), "app") << "nginx replaced the app's reply";
}

TEST_F(NginxWithFakePool, StreamsAreNotBuffered) {
    for (const std::string path : {"/api/v1/writing/generate", "/api/v1/accel-stream"}) {
        SCOPED_TRACE(path);
        const auto times = EventTimes(path);
        ASSERT_EQ(times.size(), 3u);
        // Sent 300 ms apart; buffered they would arrive together at the end.
        const auto ms = [](auto d) { return std::chrono::duration_cast<milliseconds>(d).count(); };
        EXPECT_GE(ms(times[1] - times[0]), 150);
        EXPECT_GE(ms(times[2] - times[1]), 150);
    }
}

TEST(NginxLifecycle, StopAndKillLeaveNoWorkerAndNoListener) {
    TempDir dir;
    for (const bool graceful : {true, false}) {
        NginxOptions options;
        options.prefix = dir.path() + (graceful ? "/graceful" : "/killed");
        options.pool_address = "unix:" + dir.path() + "/no-such.sock";
        Nginx nginx(options);
        nginx.Start();
        // The port answers as soon as the master listens; its workers fork a moment later.
        std::vector<pid_t> workers = Descendants(nginx.pid());
        for (int i = 0; workers.empty() && i < 100; ++i) {
            std::this_thread::sleep_for(milliseconds(50));
            workers = Descendants(nginx.pid());
        }
        EXPECT_FALSE(workers.empty());
        if (graceful) {
            nginx.Stop();
        } else {
            // SIGKILL on the master alone would leave the workers serving on the port.
            nginx.Kill();
        }
        EXPECT_FALSE(nginx.running());
        for (pid_t worker : workers) EXPECT_FALSE(Alive(worker)) << worker;
        EXPECT_FALSE(WaitForPort(nginx.port(), milliseconds(0)));
    }
}

}  // namespace
}  // namespace inkstone::testing
