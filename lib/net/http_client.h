#pragma once
/// One blocking HTTP exchange with a payment provider over libcurl: no redirects, http and
/// https only, TLS peers verified, loopback never proxied, bounded time and response size.
/// Thread-safe: every call uses its own curl handle.
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.h"

namespace inkstone::lib::net {

struct OutboundRequest {
    std::string method = "GET";  ///< GET or POST
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;                          ///< sent for POST
    std::chrono::milliseconds timeout{15000};  ///< the whole exchange, connect to last byte
};

struct OutboundResponse {
    long status = 0;
    std::map<std::string, std::string> headers;  ///< lower-case names; repeats joined by ", "
    std::string body;

    /// The value of header `lower_name`, or "".
    std::string Header(std::string_view lower_name) const;
};

enum class OutboundError {
    kTransport,  ///< DNS, connect, TLS, reset: no HTTP answer
    kTimeout,
    kTooLarge,  ///< a body over 1 MiB: no provider answer is that big
};

/// Sends `request`. Never throws for network failures; the failure detail is curl's message.
/// Throws std::invalid_argument for a method other than GET/POST.
base::Result<OutboundResponse, OutboundError> SendOutbound(const OutboundRequest& request);

}  // namespace inkstone::lib::net
