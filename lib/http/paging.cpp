#include "lib/http/paging.h"

#include <optional>
#include <string>

#include "lib/base/errors.h"

namespace inkstone::lib::http {
namespace {

int64_t ReadParam(const Request& request, const char* name, int64_t fallback, int64_t max) {
    const std::optional<std::string> text = request.QueryParam(name);
    if (!text) return fallback;
    const auto invalid = [&] {
        return base::ApiError::Validation(name,
                                          "must be an integer from 1 to " + std::to_string(max));
    };
    // At most 7 digits keeps the arithmetic below far from overflow.
    if (text->empty() || text->size() > 7) throw invalid();
    int64_t value = 0;
    for (char c : *text) {
        if (c < '0' || c > '9') throw invalid();
        value = value * 10 + (c - '0');
    }
    if (value < 1 || value > max) throw invalid();
    return value;
}

}  // namespace

PageRequest ParsePageRequest(const Request& request) {
    PageRequest page;
    page.page = ReadParam(request, "page", 1, kMaxPage);
    page.page_size = ReadParam(request, "page_size", kDefaultPageSize, kMaxPageSize);
    return page;
}

Json::Value PageJson(Json::Value items, int64_t total, const PageRequest& page) {
    Json::Value body(Json::objectValue);
    body["items"] = items.isArray() ? std::move(items) : Json::Value(Json::arrayValue);
    body["total"] = Json::Int64{total};
    body["page"] = Json::Int64{page.page};
    body["page_size"] = Json::Int64{page.page_size};
    return body;
}

}  // namespace inkstone::lib::http
