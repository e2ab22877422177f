#include "lib/net/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "lib/base/log.h"

namespace inkstone::lib::net {
namespace {

constexpr size_t kMaxBodyBytes = 1024 * 1024;
constexpr std::chrono::milliseconds kBufferedTick{1000};

}  // namespace

void Init() {
    static std::once_flag once;
    std::call_once(once, [] {
        const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (rc != CURLE_OK) {
            throw std::runtime_error(std::string("curl_global_init: ") + curl_easy_strerror(rc));
        }
    });
}

namespace {

/// This thread's handles. The connection cache lives in the multi handle, so connections
/// outlive each call; curl_easy_reset between calls keeps them.
struct CurlHandles {
    CURLM* multi = nullptr;
    CURL* easy = nullptr;

    ~CurlHandles() {
        if (easy != nullptr) curl_easy_cleanup(easy);
        if (multi != nullptr) curl_multi_cleanup(multi);
    }
    bool Ready() {
        if (multi == nullptr) multi = curl_multi_init();
        if (easy == nullptr) easy = curl_easy_init();
        return multi != nullptr && easy != nullptr;
    }
};

thread_local CurlHandles t_curl;

using HeaderList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

/// Collects the first failing curl_easy_setopt, so one check covers the whole setup.
class Options {
  public:
    explicit Options(CURL* curl) : curl_(curl) {}
    template <typename T>
    Options& Set(CURLoption option, T value) {
        if (code_ == CURLE_OK) code_ = curl_easy_setopt(curl_, option, value);
        return *this;
    }
    CURLcode code() const { return code_; }

  private:
    CURL* curl_;
    CURLcode code_ = CURLE_OK;
};

/// The curl callbacks' view of one Perform().
struct Transfer {
    CallHandler* handler = nullptr;
    CURL* easy = nullptr;
    long status = 0;
    bool aborted = false;
    char error[CURL_ERROR_SIZE] = {};
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    const size_t n = size * count;
    if (t.status == 0 && curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &t.status) != CURLE_OK) {
        t.status = 0;
    }
    if (!t.handler->OnBody(t.status, std::string_view(data, n))) {
        t.aborted = true;
        return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
    }
    return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    const size_t n = size * count;
    std::string_view line(data, n);
    if (line.rfind("HTTP/", 0) == 0) {
        t.status = 0;
        t.handler->OnNewResponse();
        return n;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    const size_t begin = value.find_first_not_of(" \t");
    const size_t end = value.find_last_not_of(" \t\r\n");
    value =
        begin == std::string_view::npos ? std::string_view() : value.substr(begin, end - begin + 1);
    t.handler->OnHeader(name, value);
    return n;
}

CallResult Failed(CallEnd end, std::string error) {
    CallResult result;
    result.end = end;
    result.error = std::move(error);
    return result;
}

/// The request side of a call: URL, method, headers, the options every call shares.
CURLcode Configure(CURL* easy, const Call& call, curl_slist* headers, Transfer& transfer) {
    Options options(easy);
    options.Set(CURLOPT_URL, call.url.c_str())
        .Set(CURLOPT_PROTOCOLS_STR, "http,https")
        .Set(CURLOPT_FOLLOWLOCATION, 0L)
        // An answer must come from the provider; loopback (the simulator, tests, a local fake)
        // is never sent through a proxy from the environment.
        .Set(CURLOPT_NOPROXY, "localhost,127.0.0.1,::1")
        .Set(CURLOPT_SSL_VERIFYPEER, 1L)
        .Set(CURLOPT_SSL_VERIFYHOST, 2L)
        .Set(CURLOPT_USERAGENT, "inkstone/" INKSTONE_VERSION)
        .Set(CURLOPT_NOSIGNAL, 1L)
        .Set(CURLOPT_TCP_KEEPALIVE, 1L)
        .Set(CURLOPT_CONNECTTIMEOUT_MS,
             static_cast<long>(std::max<int64_t>(1, call.connect_timeout.count())))
        .Set(CURLOPT_TIMEOUT_MS,
             static_cast<long>(std::max<int64_t>(1, call.total_timeout.count())))
        .Set(CURLOPT_ERRORBUFFER, transfer.error)
        .Set(CURLOPT_HTTPHEADER, headers)
        .Set(CURLOPT_WRITEFUNCTION, &OnBody)
        .Set(CURLOPT_WRITEDATA, static_cast<void*>(&transfer))
        .Set(CURLOPT_HEADERFUNCTION, &OnHeader)
        .Set(CURLOPT_HEADERDATA, static_cast<void*>(&transfer));
    if (call.accept_compressed) options.Set(CURLOPT_ACCEPT_ENCODING, "");
    if (call.method == "POST") {
        options.Set(CURLOPT_POST, 1L)
            .Set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()))
            .Set(CURLOPT_POSTFIELDS, call.body.c_str());
    } else {
        options.Set(CURLOPT_HTTPGET, 1L);
    }
    return options.code();
}

/// curl's multi loop until the transfer ends or the handler stops it.
CallResult Drive(CURLM* multi, CURL* easy, CallHandler& handler, Transfer& transfer) {
    curl_waitfd wake{};
    wake.fd = handler.WakeFd();
    wake.events = CURL_WAIT_POLLIN;
    const unsigned int extra_fds = wake.fd >= 0 ? 1 : 0;
    for (;;) {
        int running = 0;
        if (const CURLMcode rc = curl_multi_perform(multi, &running); rc != CURLM_OK) {
            return Failed(CallEnd::kTransport,
                          std::string("curl_multi_perform: ") + curl_multi_strerror(rc));
        }
        if (running == 0) break;
        const std::optional<std::chrono::milliseconds> wait = handler.NextWait();
        if (!wait) {
            CallResult stopped = Failed(CallEnd::kStopped, "");
            stopped.status = transfer.status;
            return stopped;
        }
        if (const CURLMcode rc =
                curl_multi_poll(multi, extra_fds > 0 ? &wake : nullptr, extra_fds,
                                static_cast<int>(std::max<int64_t>(0, wait->count())), nullptr);
            rc != CURLM_OK) {
            return Failed(CallEnd::kTransport,
                          std::string("curl_multi_poll: ") + curl_multi_strerror(rc));
        }
    }
    CURLcode code = CURLE_OK;
    bool done = false;
    int queued = 0;
    while (const CURLMsg* message = curl_multi_info_read(multi, &queued)) {
        if (message->msg == CURLMSG_DONE && message->easy_handle == easy) {
            done = true;
            code = message->data.result;
        }
    }
    CallResult result;
    // A response without a body never reached OnBody, which reads the status.
    if (transfer.status == 0 &&
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &transfer.status) != CURLE_OK) {
        transfer.status = 0;
    }
    result.status = transfer.status;
    if (transfer.aborted) {
        result.end = CallEnd::kAborted;
    } else if (!done) {
        result.end = CallEnd::kTransport;
        result.error = "transfer did not finish";
    } else if (code == CURLE_OK) {
        result.end = CallEnd::kComplete;
    } else {
        result.end = code == CURLE_OPERATION_TIMEDOUT ? CallEnd::kTimeout : CallEnd::kTransport;
        result.error = curl_easy_strerror(code);
        if (transfer.error[0] != '\0') result.error += std::string(": ") + transfer.error;
    }
    return result;
}

/// Buffers a whole answer for SendOutbound.
class Buffered final : public CallHandler {
  public:
    void OnNewResponse() override { response.headers.clear(); }
    void OnHeader(std::string_view name, std::string_view value) override {
        std::string& slot = response.headers[std::string(name)];
        if (!slot.empty()) slot += ", ";
        slot.append(value);
    }
    bool OnBody(long, std::string_view bytes) override {
        if (response.body.size() + bytes.size() > kMaxBodyBytes) {
            too_large = true;
            return false;
        }
        response.body.append(bytes);
        return true;
    }
    std::optional<std::chrono::milliseconds> NextWait() override { return kBufferedTick; }

    OutboundResponse response;
    bool too_large = false;
};

}  // namespace

std::string OutboundResponse::Header(std::string_view lower_name) const {
    const auto it = headers.find(std::string(lower_name));
    return it == headers.end() ? std::string() : it->second;
}

CallResult Perform(const Call& call, CallHandler& handler) {
    if (call.method != "POST" && call.method != "GET") {
        throw std::invalid_argument("net::Perform: only GET and POST");
    }
    Init();
    if (!t_curl.Ready()) return Failed(CallEnd::kTransport, "curl handles could not be created");
    CURL* const easy = t_curl.easy;
    CURLM* const multi = t_curl.multi;
    curl_easy_reset(easy);

    HeaderList headers(nullptr, &curl_slist_free_all);
    std::vector<std::string> lines = call.headers;
    // curl adds `Expect: 100-continue` to larger POSTs; nobody here needs the extra trip.
    lines.emplace_back("Expect:");
    for (const std::string& line : lines) {
        curl_slist* appended = curl_slist_append(headers.get(), line.c_str());
        if (appended == nullptr) return Failed(CallEnd::kTransport, "curl_slist_append failed");
        headers.release();  // `appended` is the same list, grown
        headers.reset(appended);
    }
    Transfer transfer;
    transfer.handler = &handler;
    transfer.easy = easy;
    if (const CURLcode rc = Configure(easy, call, headers.get(), transfer); rc != CURLE_OK) {
        return Failed(CallEnd::kTransport,
                      std::string("curl_easy_setopt: ") + curl_easy_strerror(rc));
    }
    if (const CURLMcode rc = curl_multi_add_handle(multi, easy); rc != CURLM_OK) {
        return Failed(CallEnd::kTransport,
                      std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
    }
    // Removing an unfinished transfer closes its connection. A guard, so a throwing handler
    // cannot leave the handle attached (the next call on this thread would then fail).
    struct Detach {
        CURLM* multi;
        CURL* easy;
        ~Detach() {
            if (const CURLMcode rc = curl_multi_remove_handle(multi, easy); rc != CURLM_OK) {
                base::Log(base::LogLevel::kError, "net.curl_remove_failed",
                          Json::Value(curl_multi_strerror(rc)));
            }
        }
    } detach{multi, easy};
    return Drive(multi, easy, handler, transfer);
}

base::Result<OutboundResponse, OutboundError> SendOutbound(const OutboundRequest& request) {
    if (request.method != "POST" && request.method != "GET") {
        throw std::invalid_argument("SendOutbound: only GET and POST");
    }
    Call call;
    call.method = request.method;
    call.url = request.url;
    for (const auto& [name, value] : request.headers) call.headers.push_back(name + ": " + value);
    call.body = request.body;
    call.total_timeout = std::max(std::chrono::milliseconds(1), request.timeout);
    call.connect_timeout = std::min(call.total_timeout, std::chrono::milliseconds(5000));
    call.accept_compressed = true;
    Buffered buffered;
    const CallResult result = Perform(call, buffered);
    if (buffered.too_large) {
        return base::Fail(OutboundError::kTooLarge, "response body over 1 MiB");
    }
    switch (result.end) {
        case CallEnd::kComplete:
            break;
        case CallEnd::kTimeout:
            return base::Fail(OutboundError::kTimeout, result.error);
        case CallEnd::kAborted:
        case CallEnd::kStopped:
        case CallEnd::kTransport:
            return base::Fail(OutboundError::kTransport,
                              result.error.empty() ? "transfer did not finish" : result.error);
    }
    if (result.status == 0) {
        return base::Fail(OutboundError::kTransport, "no HTTP status in the answer");
    }
    buffered.response.status = result.status;
    return std::move(buffered.response);
}

}  // namespace inkstone::lib::net
