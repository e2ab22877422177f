#pragma once
/// The closed set of API errors and their one mapping to HTTP.
///
/// Every error a client can see is an ApiError: a code from this enum, a public `detail`
/// message for people, and optional extra fields (`field` for validation errors, `required`
/// and `balance` for 402, ...). Internal text (SQL errors, upstream bodies) never goes in here.
#include <json/value.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace inkstone::lib::base {

enum class ErrorCode {
    kBadRequest,
    kInvalidJson,
    kUnauthorized,
    kInsufficientCredits,
    kForbidden,
    kNotFound,
    kMethodNotAllowed,
    kConflict,
    kPayloadTooLarge,
    kUnsupportedMediaType,
    kValidation,
    kRateLimited,
    kInternal,
    kUpstreamError,
    kUnavailable,
    kUpstreamBusy,
    kUpstreamTimeout,
    kContentRejected,
};

/// HTTP status for a code (400, 401, ... 504).
int HttpStatus(ErrorCode code);
/// Machine code string for a code (`"INVALID_JSON"`, ...).
std::string_view MachineCode(ErrorCode code);

/// An error meant for the client. Cheap to copy; thrown by helpers deep in a handler and
/// caught once in the request loop, or returned directly.
struct ApiError {
    ErrorCode code;
    std::string detail;
    Json::Value extra{Json::objectValue};  ///< merged into the body (`field`, `required`, ...)
    int retry_after_s = 0;                 ///< > 0 adds a `Retry-After` header
    /// A more specific machine code than the status class's own (`ACCOUNT_DISABLED` for a
    /// 403, `ALREADY_REFUNDED` for a 409, ...); empty for MachineCode(code).
    std::string machine_code;

    ApiError(ErrorCode c, std::string d) : code(c), detail(std::move(d)) {}
    /// 422 with `field`.
    static ApiError Validation(std::string field, std::string detail);
    /// The HTTP status of `c` with its own machine code: `Specific(kConflict,
    /// "INSUFFICIENT_CREDITS", ...)` is a 409 whose `code` is INSUFFICIENT_CREDITS.
    static ApiError Specific(ErrorCode c, std::string machine_code, std::string detail);

    /// `{"detail": ..., "code": ..., ...extra}`
    Json::Value Body() const;
};

/// An environment failure below the API (the database down or timing out, ...), as opposed to
/// an ApiError (the client's fault) or an InvariantError (our bug, lib/base/assert.h). The
/// request loop answers `public_code` (503 UNAVAILABLE or 500 INTERNAL) with a fixed public
/// text and logs `what()` with `source` and `native_code`; the text never reaches a client.
struct ServiceError : std::runtime_error {
    ErrorCode public_code;
    std::string_view source;  ///< "db", ... (a string constant)
    int native_code;          ///< e.g. the MySQL error number; 0 when there is none
    ServiceError(ErrorCode code, std::string_view src, int native, const std::string& what)
        : std::runtime_error(what), public_code(code), source(src), native_code(native) {}
};

}  // namespace inkstone::lib::base
