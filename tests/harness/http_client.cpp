#include "tests/harness/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <json/reader.h>
#include <json/writer.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>

namespace inkstone::testing {
namespace {

void GlobalInit() {
    static std::once_flag once;
    std::call_once(once, [] {
        const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (rc != CURLE_OK) {
            throw std::runtime_error(std::string("curl_global_init: ") + curl_easy_strerror(rc));
        }
    });
}

std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string Trim(const std::string& s) {
    size_t b = 0;
    size_t e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

struct Transfer {
    HttpResponse response;
    const ChunkCallback* on_chunk = nullptr;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string line(data, size * count);
    // A new status line (after `100 Continue`) starts a new set of headers.
    if (line.rfind("HTTP/", 0) == 0) {
        t->response.headers.clear();
        return size * count;
    }
    const size_t colon = line.find(':');
    if (colon == std::string::npos) return size * count;
    const std::string name = Lower(Trim(line.substr(0, colon)));
    const std::string value = Trim(line.substr(colon + 1));
    auto [it, inserted] = t->response.headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;
    return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    const std::string chunk(data, n);
    t->response.body += chunk;
    if (t->on_chunk != nullptr && !(*t->on_chunk)(chunk, std::chrono::steady_clock::now())) {
        t->response.aborted = true;
        return 0;  // makes curl abort the transfer with CURLE_WRITE_ERROR
    }
    return n;
}

// setopt failures are programming errors (an option this libcurl lacks), worth a loud stop.
template <typename T>
void Set(CURL* curl, CURLoption option, T value) {
    const CURLcode rc = curl_easy_setopt(curl, option, value);
    if (rc != CURLE_OK) {
        throw std::runtime_error(std::string("curl_easy_setopt: ") + curl_easy_strerror(rc));
    }
}

HttpResponse Perform(const std::string& url, std::chrono::milliseconds timeout,
                     const std::string& method, const std::string& body, const HttpHeaders& headers,
                     const ChunkCallback* on_chunk) {
    GlobalInit();
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw std::runtime_error("curl_easy_init failed");
    CURL* c = curl.get();

    Transfer transfer;
    transfer.on_chunk = on_chunk;
    char error[CURL_ERROR_SIZE] = {0};

    Set(c, CURLOPT_URL, url.c_str());
    Set(c, CURLOPT_NOPROXY, "*");
    Set(c, CURLOPT_NOSIGNAL, 1L);
    Set(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    Set(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    Set(c, CURLOPT_ERRORBUFFER, error);
    Set(c, CURLOPT_HEADERFUNCTION, OnHeader);
    Set(c, CURLOPT_HEADERDATA, &transfer);
    Set(c, CURLOPT_WRITEFUNCTION, OnBody);
    Set(c, CURLOPT_WRITEDATA, &transfer);

    const bool sends_body =
        !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
    if (method == "HEAD") {
        Set(c, CURLOPT_NOBODY, 1L);
    } else if (method != "GET" || sends_body) {
        Set(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    if (sends_body) {
        Set(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        Set(c, CURLOPT_POSTFIELDS, body.data());
    }

    HttpHeaders effective = headers;
    // One round trip per request: no `Expect: 100-continue` for large bodies unless asked.
    effective.emplace("Expect", "");
    bool has_content_type = false;
    for (const auto& [name, value] : headers) {
        if (Lower(name) == "content-type") has_content_type = true;
    }
    if (!has_content_type) {
        // POSTFIELDS would otherwise be labelled application/x-www-form-urlencoded.
        effective.emplace("Content-Type", body.empty() ? "" : "application/json");
    }
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> list(nullptr, curl_slist_free_all);
    for (const auto& [name, value] : effective) {
        const std::string line = value.empty() ? name + ":" : name + ": " + value;
        curl_slist* next = curl_slist_append(list.get(), line.c_str());
        if (next == nullptr) throw std::runtime_error("curl_slist_append failed");
        list.release();
        list.reset(next);
    }
    Set(c, CURLOPT_HTTPHEADER, list.get());

    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK && !(transfer.response.aborted && rc == CURLE_WRITE_ERROR)) {
        transfer.response.error = error[0] != '\0' ? error : curl_easy_strerror(rc);
    }
    long status = 0;
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK) {
        transfer.response.status = status;
    }
    return std::move(transfer.response);
}

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
}

Json::Value HttpResponse::JsonBody() const {
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value value;
    std::string errors;
    if (!reader->parse(body.data(), body.data() + body.size(), &value, &errors)) {
        throw std::runtime_error("HTTP " + std::to_string(status) + " body is not JSON (" +
                                 Trim(errors) + "): " + body.substr(0, 2000));
    }
    return value;
}

HttpClient::HttpClient(int port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout) {}

std::string HttpClient::BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

HttpResponse HttpClient::Request(const std::string& method, const std::string& path,
                                 const std::string& body, const HttpHeaders& headers) const {
    return Perform(BaseUrl() + path, timeout_, method, body, headers, nullptr);
}

HttpResponse HttpClient::Get(const std::string& path, const HttpHeaders& headers) const {
    return Request("GET", path, "", headers);
}

HttpResponse HttpClient::Post(const std::string& path, const Json::Value& body,
                              const HttpHeaders& headers) const {
    Json::StreamWriterBuilder writer;
    writer["indentation"] = "";
    HttpHeaders with_type = headers;
    with_type.emplace("Content-Type", "application/json");
    return Request("POST", path, Json::writeString(writer, body), with_type);
}

HttpResponse HttpClient::Stream(const std::string& method, const std::string& path,
                                const std::string& body, const HttpHeaders& headers,
                                const ChunkCallback& on_chunk) const {
    return Perform(BaseUrl() + path, timeout_, method, body, headers, &on_chunk);
}

std::string RawExchange(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    struct Closer {
        int fd;
        ~Closer() { close(fd); }
    } closer{fd};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        throw std::system_error(errno, std::generic_category(),
                                "connect 127.0.0.1:" + std::to_string(port));
    }
    size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;  // the server may hang up early; what it said is still worth reading
        sent += static_cast<size_t>(n);
    }
    // No half-close: nginx takes a client's FIN as an abort (499) for proxied requests. Send
    // `Connection: close` to make a server hang up after its answer.

    std::string received;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[16384];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        const int ready = poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) break;
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        received.append(buf, static_cast<size_t>(n));
    }
    return received;
}

}  // namespace inkstone::testing
