#pragma once
/// Parsing and validating JSON request bodies. Every failure is an ApiError:
/// 400 INVALID_JSON for bytes that are not one JSON object (malformed, trailing garbage,
/// nesting deeper than 32, duplicate keys, invalid UTF-8), and 422 VALIDATION_ERROR with
/// `field` for a wrong type, a missing required field or a value out of range.
/// Unknown fields are ignored: a request can only ever set the fields a handler reads
/// (whitelisting; protected fields like `role` or `credits` are never bound).
#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inkstone::lib::http {

/// Parses `body` as a JSON object. Throws ApiError (400 INVALID_JSON).
/// RFC 8259 strictly: no comments, trailing commas, leading zeros, `+1`, bare `-`, raw control
/// characters in strings or NUL bytes; at most 32 nested arrays/objects (the root counts).
/// A UTF-8 BOM is skipped; a lone low-surrogate escape (`\udc00`) becomes U+FFFD.
Json::Value ParseJsonObject(std::string_view body);

/// Typed reads of one JSON object's fields. Throws ApiError::Validation(field, ...) on failure.
/// String lengths are counted in Unicode code points; strings must not contain NUL.
class JsonFields {
  public:
    explicit JsonFields(const Json::Value& object) : object_(object) {}

    std::string RequiredString(std::string_view name, size_t min_chars, size_t max_chars) const;
    std::optional<std::string> OptionalString(std::string_view name, size_t min_chars,
                                              size_t max_chars) const;
    /// Integers only: 3.0 and "3" are rejected.
    int64_t RequiredInt(std::string_view name, int64_t min, int64_t max) const;
    std::optional<int64_t> OptionalInt(std::string_view name, int64_t min, int64_t max) const;
    std::optional<double> OptionalNumber(std::string_view name, double min, double max) const;
    std::optional<bool> OptionalBool(std::string_view name) const;
    /// An array of strings; each 1..max_chars code points.
    std::optional<std::vector<std::string>> OptionalStringArray(std::string_view name,
                                                                size_t max_items,
                                                                size_t max_chars) const;
    bool Has(std::string_view name) const;  ///< present and not null

  private:
    const Json::Value& object_;
};

}  // namespace inkstone::lib::http
