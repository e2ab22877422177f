#include "lib/base/json.h"

#include <json/writer.h>

#include <memory>
#include <sstream>

namespace inkstone::lib::base {

std::string ToJson(const Json::Value& value) {
    // One writer and one stream per thread: Json::writeString builds a writer from the
    // builder's settings (a few allocations and lookups) on every call, which cost more than
    // writing a small body did.
    thread_local const std::unique_ptr<Json::StreamWriter> writer = [] {
        Json::StreamWriterBuilder builder;
        builder["indentation"] = "";
        builder["emitUTF8"] = true;
        return std::unique_ptr<Json::StreamWriter>(builder.newStreamWriter());
    }();
    thread_local std::ostringstream stream;
    stream.str(std::string());
    stream.clear();
    writer->write(value, &stream);
    return stream.str();
}

Json::Value TimeOrNull(const std::optional<TimePoint>& t) {
    return t ? Json::Value(FormatRfc3339(*t)) : Json::Value(Json::nullValue);
}

Json::Value IntOrNull(const std::optional<int64_t>& v) {
    return v ? Json::Value(Json::Int64{*v}) : Json::Value(Json::nullValue);
}

Json::Value TextOrNull(const std::optional<std::string>& v) {
    return v ? Json::Value(*v) : Json::Value(Json::nullValue);
}

}  // namespace inkstone::lib::base
