#include "lib/base/errors.h"

namespace inkstone::lib::base {
namespace {

struct ErrorInfo {
    int status;
    std::string_view code;
};

ErrorInfo Info(ErrorCode code) {
    switch (code) {
        case ErrorCode::kBadRequest:
            return {400, "BAD_REQUEST"};
        case ErrorCode::kInvalidJson:
            return {400, "INVALID_JSON"};
        case ErrorCode::kUnauthorized:
            return {401, "UNAUTHORIZED"};
        case ErrorCode::kInsufficientCredits:
            return {402, "INSUFFICIENT_CREDITS"};
        case ErrorCode::kForbidden:
            return {403, "FORBIDDEN"};
        case ErrorCode::kNotFound:
            return {404, "NOT_FOUND"};
        case ErrorCode::kMethodNotAllowed:
            return {405, "METHOD_NOT_ALLOWED"};
        case ErrorCode::kConflict:
            return {409, "CONFLICT"};
        case ErrorCode::kPayloadTooLarge:
            return {413, "PAYLOAD_TOO_LARGE"};
        case ErrorCode::kUnsupportedMediaType:
            return {415, "UNSUPPORTED_MEDIA_TYPE"};
        case ErrorCode::kValidation:
            return {422, "VALIDATION_ERROR"};
        case ErrorCode::kContentRejected:
            return {422, "CONTENT_REJECTED"};
        case ErrorCode::kRateLimited:
            return {429, "RATE_LIMITED"};
        case ErrorCode::kInternal:
            return {500, "INTERNAL_ERROR"};
        case ErrorCode::kUpstreamError:
            return {502, "UPSTREAM_ERROR"};
        case ErrorCode::kUnavailable:
            return {503, "UNAVAILABLE"};
        case ErrorCode::kUpstreamBusy:
            return {503, "UPSTREAM_BUSY"};
        case ErrorCode::kUpstreamTimeout:
            return {504, "UPSTREAM_TIMEOUT"};
    }
    return {500, "INTERNAL_ERROR"};
}

}  // namespace

int HttpStatus(ErrorCode code) { return Info(code).status; }

std::string_view MachineCode(ErrorCode code) { return Info(code).code; }

ApiError ApiError::Validation(std::string field, std::string detail) {
    ApiError error(ErrorCode::kValidation, std::move(detail));
    error.extra["field"] = std::move(field);
    return error;
}

ApiError ApiError::Specific(ErrorCode c, std::string machine_code, std::string detail) {
    ApiError error(c, std::move(detail));
    error.machine_code = std::move(machine_code);
    return error;
}

Json::Value ApiError::Body() const {
    Json::Value body = extra.isObject() ? extra : Json::Value(Json::objectValue);
    body["detail"] = detail;
    body["code"] = machine_code.empty() ? std::string(MachineCode(code)) : machine_code;
    return body;
}

}  // namespace inkstone::lib::base
