#pragma once
/// The request pipeline between the wire and the handlers, free of libfcgi so it is unit
/// tested with plain values: request id → path/UTF-8 checks → route → body size and type →
/// JSON parse → auth → handler → one log line. Exceptions stop here (ClickHouse style): a bad
/// request can never take a worker down.
#include <cstddef>
#include <functional>

#include "lib/http/authenticator.h"
#include "lib/http/message.h"
#include "lib/http/router.h"

namespace inkstone::fcgi {

class Dispatcher final {
  public:
    /// `authenticator` may be null when no route needs auth (tests); a route that does then
    /// answers 401. Both must outlive the dispatcher.
    Dispatcher(const lib::http::Router& router, const lib::http::Authenticator* authenticator);

    /// Never throws. Sets request.request_id, path_params, json and principal on the way.
    /// `body_truncated` means the body was longer than the adapter was willing to read.
    lib::http::Response Dispatch(lib::http::Request& request, lib::http::StreamWriter& stream,
                                 bool body_truncated = false) const;

    /// The largest body limit of any route.
    size_t MaxBodyBytes() const { return max_body_; }

  private:
    lib::http::Response Route(lib::http::Request& request, lib::http::StreamWriter& stream,
                              bool body_truncated, const std::string** pattern) const;

    const lib::http::Router& router_;
    const lib::http::Authenticator* authenticator_;
    size_t max_body_ = 0;
};

/// A caller-supplied X-Request-Id if it is 1-128 chars of [A-Za-z0-9._:-], else a fresh one.
std::string RequestIdFor(const std::string& supplied);

/// True for `application/json` with no charset or charset=utf-8 (case-insensitive).
bool IsJsonContentType(std::string_view content_type);
/// True for `application/x-www-form-urlencoded` (with an optional utf-8 charset).
bool IsFormContentType(std::string_view content_type);

}  // namespace inkstone::fcgi
