#include "lib/net/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace inkstone::lib::net {
namespace {

constexpr size_t kMaxBodyBytes = 1024 * 1024;

struct EasyFree {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistFree {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

struct Exchange {
    OutboundResponse response;
    bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
    auto* exchange = static_cast<Exchange*>(user);
    const size_t bytes = size * count;
    if (exchange->response.body.size() + bytes > kMaxBodyBytes) {
        exchange->too_large = true;
        return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
    }
    exchange->response.body.append(data, bytes);
    return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
    auto* exchange = static_cast<Exchange*>(user);
    const size_t bytes = size * count;
    std::string_view line(data, bytes);
    // A new status line (after a 100 Continue, say) starts a new header block.
    if (line.rfind("HTTP/", 0) == 0) {
        exchange->response.headers.clear();
        return bytes;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return bytes;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    const size_t begin = value.find_first_not_of(" \t");
    const size_t end = value.find_last_not_of(" \t\r\n");
    value =
        begin == std::string_view::npos ? std::string_view() : value.substr(begin, end - begin + 1);
    std::string& slot = exchange->response.headers[name];
    if (!slot.empty()) slot += ", ";
    slot.append(value);
    return bytes;
}

void GlobalInit() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw std::runtime_error("curl_global_init failed");
        }
    });
}

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

}  // namespace

std::string OutboundResponse::Header(std::string_view lower_name) const {
    const auto it = headers.find(std::string(lower_name));
    return it == headers.end() ? std::string() : it->second;
}

base::Result<OutboundResponse, OutboundError> SendOutbound(const OutboundRequest& request) {
    const bool post = request.method == "POST";
    if (!post && request.method != "GET") {
        throw std::invalid_argument("SendOutbound: only GET and POST");
    }
    GlobalInit();
    std::unique_ptr<CURL, EasyFree> curl(curl_easy_init());
    if (!curl) return base::Fail(OutboundError::kTransport, "curl_easy_init failed");

    std::vector<std::string> lines;
    for (const auto& [name, value] : request.headers) lines.push_back(name + ": " + value);
    // curl adds `Expect: 100-continue` to larger POSTs; providers do not need the extra trip.
    lines.emplace_back("Expect:");
    std::unique_ptr<curl_slist, SlistFree> headers;
    for (const std::string& line : lines) {
        curl_slist* appended = curl_slist_append(headers.get(), line.c_str());
        if (appended == nullptr) return base::Fail(OutboundError::kTransport, "curl_slist_append failed");
        headers.release();  // `appended` is the same list, grown
        headers.reset(appended);
    }

    Exchange exchange;
    const long timeout_ms = static_cast<long>(std::max<int64_t>(1, request.timeout.count()));
    Options options(curl.get());
    options.Set(CURLOPT_URL, request.url.c_str())
        .Set(CURLOPT_PROTOCOLS_STR, "http,https")
        .Set(CURLOPT_FOLLOWLOCATION, 0L)
        // A provider answer must come from the provider; loopback (tests, a local fake) is
        // never sent through a proxy from the environment.
        .Set(CURLOPT_NOPROXY, "localhost,127.0.0.1,::1")
        .Set(CURLOPT_NOSIGNAL, 1L)
        .Set(CURLOPT_TIMEOUT_MS, timeout_ms)
        .Set(CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(timeout_ms, 5000L))
        .Set(CURLOPT_SSL_VERIFYPEER, 1L)
        .Set(CURLOPT_SSL_VERIFYHOST, 2L)
        .Set(CURLOPT_ACCEPT_ENCODING, "")
        .Set(CURLOPT_HTTPHEADER, headers.get())
        .Set(CURLOPT_WRITEFUNCTION, OnBody)
        .Set(CURLOPT_WRITEDATA, &exchange)
        .Set(CURLOPT_HEADERFUNCTION, OnHeader)
        .Set(CURLOPT_HEADERDATA, &exchange);
    if (post) {
        options.Set(CURLOPT_POST, 1L)
            .Set(CURLOPT_POSTFIELDS, request.body.data())
            .Set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    } else {
        options.Set(CURLOPT_HTTPGET, 1L);
    }
    if (options.code() != CURLE_OK) {
        return base::Fail(OutboundError::kTransport,
                    std::string("curl setup failed: ") + curl_easy_strerror(options.code()));
    }

    const CURLcode code = curl_easy_perform(curl.get());
    if (exchange.too_large) {
        return base::Fail(OutboundError::kTooLarge, "response body over 1 MiB");
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
        return base::Fail(OutboundError::kTimeout, curl_easy_strerror(code));
    }
    if (code != CURLE_OK) return base::Fail(OutboundError::kTransport, curl_easy_strerror(code));
    long status = 0;
    const CURLcode info = curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (info != CURLE_OK || status == 0) {
        return base::Fail(OutboundError::kTransport, "no HTTP status in the answer");
    }
    exchange.response.status = status;
    return std::move(exchange.response);
}

}  // namespace inkstone::lib::net
