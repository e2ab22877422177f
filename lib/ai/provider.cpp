#include "lib/ai/provider.h"

#include "lib/ai/qwen_provider.h"

namespace inkstone::lib::ai {
namespace {

using Kind = UpstreamError::Kind;

struct ProviderEntry {
    std::string_view name;
    std::unique_ptr<Provider> (*make)(const base::Config&);
};

// The one table of built-in providers.
constexpr ProviderEntry kProviders[] = {
    {"qwen",
     [](const base::Config& config) -> std::unique_ptr<Provider> {
         return std::make_unique<QwenProvider>(config.qwen);
     }},
};

}  // namespace

std::string_view UpstreamErrorKindName(UpstreamError::Kind kind) {
    switch (kind) {
        case Kind::kAuth:
            return "auth";
        case Kind::kRateLimited:
            return "rate_limited";
        case Kind::kBadRequest:
            return "bad_request";
        case Kind::kContentRejected:
            return "content_rejected";
        case Kind::kServer:
            return "server";
        case Kind::kTimeout:
            return "timeout";
        case Kind::kNetwork:
            return "network";
        case Kind::kProtocol:
            return "protocol";
        case Kind::kCancelled:
            return "cancelled";
    }
    return "protocol";
}

base::ApiError ToApiError(const UpstreamError& error) {
    switch (error.kind) {
        case Kind::kRateLimited:
            return base::ApiError(base::ErrorCode::kUpstreamBusy,
                                  "the AI service is busy right now, please try again shortly");
        case Kind::kContentRejected:
            return base::ApiError(base::ErrorCode::kContentRejected,
                                  "the AI service's content moderation rejected this request");
        case Kind::kTimeout:
            return base::ApiError(base::ErrorCode::kUpstreamTimeout,
                                  "the AI service did not answer in time");
        case Kind::kAuth:
        case Kind::kBadRequest:
        case Kind::kServer:
        case Kind::kNetwork:
        case Kind::kProtocol:
        case Kind::kCancelled:
            break;
    }
    // An auth failure is our configuration, not the caller's: same public text as any other
    // upstream failure, so nothing about our credentials leaks.
    return base::ApiError(base::ErrorCode::kUpstreamError, "the AI service failed to answer");
}

std::string_view TaskStatusName(TaskStatus status) {
    switch (status) {
        case TaskStatus::kPending:
            return "PENDING";
        case TaskStatus::kRunning:
            return "RUNNING";
        case TaskStatus::kSucceeded:
            return "SUCCEEDED";
        case TaskStatus::kFailed:
            return "FAILED";
        case TaskStatus::kCanceled:
            return "CANCELED";
        case TaskStatus::kUnknown:
            return "UNKNOWN";
    }
    return "UNKNOWN";
}

std::unique_ptr<Provider> MakeProvider(std::string_view name, const base::Config& config) {
    for (const ProviderEntry& entry : kProviders) {
        if (entry.name == name) return entry.make(config);
    }
    return nullptr;
}

std::vector<std::string> ProviderNames() {
    std::vector<std::string> names;
    for (const ProviderEntry& entry : kProviders) names.emplace_back(entry.name);
    return names;
}

ProviderMap::ProviderMap(const base::Config& config) {
    for (const ProviderEntry& entry : kProviders) Add(std::string(entry.name), entry.make(config));
}

void ProviderMap::Add(std::string name, std::unique_ptr<Provider> provider) {
    providers_[std::move(name)] = std::move(provider);
}

Provider* ProviderMap::Find(std::string_view name) const {
    const auto it = providers_.find(name);
    return it == providers_.end() ? nullptr : it->second.get();
}

}  // namespace inkstone::lib::ai
