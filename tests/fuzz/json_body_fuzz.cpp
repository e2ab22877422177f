// libFuzzer target for request-body parsing: any bytes must end in a parsed object or an
// ApiError, never a crash, a leak or another exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lib/base/errors.h"
#include "lib/http/json_body.h"

namespace {

using inkstone::lib::base::ApiError;
using inkstone::lib::http::JsonFields;

// Each read may throw a validation error; the remaining reads still run.
template <typename Read>
void Try(Read read) {
    try {
        read();
    } catch (const ApiError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    Json::Value object;
    try {
        object = inkstone::lib::http::ParseJsonObject(body);
    } catch (const ApiError&) {
        return 0;
    }
    const JsonFields fields(object);
    Try([&] { fields.RequiredString("a", 1, 32); });
    Try([&] { fields.OptionalString("b", 0, 1000); });
    Try([&] { fields.RequiredInt("n", INT64_MIN, INT64_MAX); });
    Try([&] { fields.OptionalInt("amount_fen", 1, 100000000); });
    Try([&] { fields.OptionalNumber("t", 0.0, 2.0); });
    Try([&] { fields.OptionalBool("stream"); });
    Try([&] { fields.OptionalStringArray("tags", 10, 16); });
    Try([&] { (void)fields.Has("a"); });
    for (const auto& name : object.getMemberNames()) {
        Try([&] { fields.OptionalString(name, 0, 64); });
        Try([&] { fields.OptionalInt(name, -5, 5); });
        if (object[name].isObject()) {
            const JsonFields nested(object[name]);
            Try([&] { nested.OptionalStringArray("x", 3, 3); });
        }
    }
    return 0;
}
