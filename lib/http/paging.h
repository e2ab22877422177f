#pragma once
/// List paging: `?page=1&page_size=20` (page_size at most 100) in, and
/// `{"items": [...], "total": N, "page": P, "page_size": S}` out. Thread-safe (pure).
#include <json/value.h>

#include <cstdint>

#include "lib/http/message.h"

namespace inkstone::lib::http {

inline constexpr int64_t kDefaultPageSize = 20;
inline constexpr int64_t kMaxPageSize = 100;
/// Far beyond any real list; keeps page * page_size far from overflowing.
inline constexpr int64_t kMaxPage = 1'000'000;

struct PageRequest {
    int64_t page = 1;
    int64_t page_size = kDefaultPageSize;

    int64_t limit() const { return page_size; }
    int64_t offset() const { return (page - 1) * page_size; }
};

/// Reads `page` (1..1000000, default 1) and `page_size` (1..100, default 20) from the query.
/// Digits only: anything else (signs, spaces, `1.0`, empty) or out of range is ApiError 422
/// with field `page` / `page_size`.
PageRequest ParsePageRequest(const Request& request);

/// `{"items": items, "total": total, "page": page, "page_size": page_size}`.
Json::Value PageJson(Json::Value items, int64_t total, const PageRequest& page);

}  // namespace inkstone::lib::http
