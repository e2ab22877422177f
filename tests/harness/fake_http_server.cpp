#include "tests/harness/fake_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <stdexcept>

namespace inkstone::testing {
namespace {

// Reads with a deadline so a confused client can never wedge the fake.
bool ReadMore(int client, std::string* buffer) {
    pollfd fd{client, POLLIN, 0};
    if (poll(&fd, 1, 5000) <= 0) return false;
    char chunk[8192];
    const ssize_t n = recv(client, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(n));
    return true;
}

}  // namespace

std::string FakeRequest::Header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

FakeHttpServer::FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(listener_, 64) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        close(listener_);
        throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
}

FakeHttpServer::~FakeHttpServer() {
    stop_ = true;
    thread_.join();
    close(listener_);
}

std::string FakeHttpServer::BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FakeHttpServer::Serve() {
    while (!stop_) {
        pollfd fd{listener_, POLLIN, 0};
        const int ready = poll(&fd, 1, 50);
        if (ready <= 0) continue;
        const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        HandleConnection(client);
        close(client);
    }
}

void FakeHttpServer::HandleConnection(int client) {
    std::string data;
    size_t header_end;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
        if (!ReadMore(client, &data)) return;
    }
    FakeRequest request;
    const std::string head = data.substr(0, header_end);
    const size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const size_t space1 = request_line.find(' ');
    const size_t space2 = request_line.find(' ', space1 + 1);
    request.method = request_line.substr(0, space1);
    request.target = request_line.substr(space1 + 1, space2 - space1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
        size_t end = head.find("\r\n", pos);
        if (end == std::string::npos) end = head.size();
        const std::string line = head.substr(pos, end - pos);
        pos = end + 2;
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const size_t value_start = line.find_first_not_of(' ', colon + 1);
        request.headers[name] = value_start == std::string::npos ? "" : line.substr(value_start);
    }
    const size_t content_length =
        request.headers.count("content-length") ? std::stoul(request.headers["content-length"]) : 0;
    request.body = data.substr(header_end + 4);
    while (request.body.size() < content_length) {
        if (!ReadMore(client, &request.body)) return;
    }
    ++requests_;
    const FakeResponse response = handler_(request);
    if (response.delay.count() > 0) std::this_thread::sleep_for(response.delay);
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " Fake\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    out += "Connection: close\r\n";
    for (const auto& [name, value] : response.headers) out += name + ": " + value + "\r\n";
    out += "\r\n" + response.body;
    size_t sent = 0;
    while (sent < out.size()) {
        const ssize_t n = send(client, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<size_t>(n);
    }
}

}  // namespace inkstone::testing
