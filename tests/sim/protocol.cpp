#include "tests/sim/protocol.h"

#include <json/value.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <initializer_list>
#include <random>
#include <utility>

#include "lib/base/errors.h"
#include "lib/http/json_body.h"

namespace inkstone::sim {
namespace {

constexpr std::array<ModelInfo, 5> kModels = {{
    {"qwen-turbo", ModelKind::kText, 16384},
    {"qwen-plus", ModelKind::kText, 32768},
    {"qwen-max", ModelKind::kText, 8192},
    {"qwen-vl-plus", ModelKind::kVision, 8192},
    {"wanx-v1", ModelKind::kImage, 0},
}};

// What the fixed-size vision encoder of the [D4J] qwen-vl capture charged for one picture.
constexpr int64_t kTokensPerImage = 1230;
constexpr int64_t kTokensPerMessage = 4;

// One token each. Mixed on purpose: multi-byte UTF-8 (3-byte CJK, a 4-byte emoji) so clients
// meet characters split across reads, and `"`, `\` and newlines so they meet JSON escapes.
constexpr std::array<std::string_view, 64> kVocabulary = {
    "写作",       "是",      "一种",   "创造",  "的",    "过程",   "，",   "。",
    "灵感",       "来自",    "生活",   "我们",  "可以",  "用",     "文字", "记录",
    "世界",       "故事",    "、",     "！",    "秋天",  "阳光",   "温暖", "砚台",
    "墨",         "笔",      "纸",     "千问",  "读者",  "标题",   "摘要", "小红书",
    " the",       " story",  " of",    " ink",  "stone", " and",   " a",   " quiet",
    " morning",   ";",       " words", " flow", " like", " water", ".",    ",",
    " Qwen",      " writes", " 2025",  " AI",   "\n",    "\n\n",   "“",    "”",
    " \"draft\"", " C:\\",   "🖋",   " 100%", " <b>",  "——",     "（",   "）",
};

ApiFailure Failure(int status, std::string code, std::string message) {
    return ApiFailure{status, std::move(code), std::move(message)};
}

ApiFailure InvalidParameter(std::string message) {
    return Failure(400, "InvalidParameter", std::move(message));
}

// The "<400> InternalError.Algo.InvalidParameter: ..." wording DashScope uses for checks the
// model service (not the gateway) makes, as in [ERR-QW].
ApiFailure AlgoInvalidParameter(const std::string& detail) {
    return InvalidParameter("<400> InternalError.Algo.InvalidParameter: " + detail);
}

uint64_t Fnv1a64(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

// A rough tokenizer stand-in: an ASCII word, a CJK character or a punctuation mark is one token.
int64_t EstimateTokens(std::string_view text) {
    int64_t n = 0;
    bool in_word = false;
    for (unsigned char c : text) {
        const bool word_char =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (word_char) {
            if (!in_word) ++n;
            in_word = true;
            continue;
        }
        in_word = false;
        if (c >= 0x80 && c < 0xc0) continue;  // UTF-8 continuation byte
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        ++n;
    }
    return n;
}

struct MessageText {
    std::string text;
    int images = 0;
};

// A message's `content`: a string, or a list of parts ({"text"}, {"image"}, {"video"}, ...).
std::optional<MessageText> ReadContent(const Json::Value& content) {
    MessageText out;
    if (content.isString()) {
        out.text = content.asString();
        return out;
    }
    if (!content.isArray()) return std::nullopt;
    for (const Json::Value& part : content) {
        if (!part.isObject()) return std::nullopt;
        if (part.isMember("text")) {
            if (!part["text"].isString()) return std::nullopt;
            if (!out.text.empty()) out.text += "\n";
            out.text += part["text"].asString();
        } else if (part.isMember("image")) {
            if (!part["image"].isString() || part["image"].asString().empty()) {
                return std::nullopt;
            }
            ++out.images;
        } else if (part.isMember("video")) {
            ++out.images;
        } else if (!part.isMember("audio")) {
            return std::nullopt;  // a part must say what it is
        }
    }
    return out;
}

// The model check shared by every endpoint; nullptr plus `failure` when it fails.
const ModelInfo* CheckModel(const Json::Value& root, ModelKind wanted, ApiFailure* failure) {
    const Json::Value& model = root["model"];
    if (!model.isString() || model.asString().empty()) {
        *failure = Failure(400, "BadRequest.EmptyModel",
                           "Required parameter \"model\" missing from request.");
        return nullptr;
    }
    const ModelInfo* info = FindModel(model.asString());
    if (info == nullptr) {
        *failure = InvalidParameter("Model not exist.");
        return nullptr;
    }
    if (info->kind != wanted) {
        *failure = InvalidParameter("url error, please check url!");
        return nullptr;
    }
    return info;
}

// 3 yes; 3.0, "3" and integers beyond int64 no.
bool IsInteger(const Json::Value& v) {
    return v.type() == Json::intValue || (v.type() == Json::uintValue && v.isInt64());
}

std::optional<Json::Value> ParseBody(std::string_view body, ApiFailure* failure) {
    try {
        return lib::http::ParseJsonObject(body);
    } catch (const lib::base::ApiError& e) {
        *failure = InvalidParameter("Request body is not a valid JSON object: " + e.detail);
        return std::nullopt;
    }
}

// `parameters`; fills `request`, returns false with `failure` set on a bad value.
bool ReadParameters(const Json::Value& root, GenerationRequest* request, ApiFailure* failure) {
    if (!root.isMember("parameters") || root["parameters"].isNull()) return true;
    const Json::Value& p = root["parameters"];
    if (!p.isObject()) {
        *failure = InvalidParameter("parameters must be an object.");
        return false;
    }
    if (p.isMember("result_format")) {
        const Json::Value& f = p["result_format"];
        if (!f.isString() || (f.asString() != "text" && f.asString() != "message")) {
            *failure = InvalidParameter("result_format must be \"text\" or \"message\".");
            return false;
        }
        request->message_format = f.asString() == "message";
    }
    if (p.isMember("incremental_output")) {
        if (!p["incremental_output"].isBool()) {
            *failure = InvalidParameter("incremental_output must be a boolean.");
            return false;
        }
        request->incremental = p["incremental_output"].asBool();
    }
    const std::string range = "Range of max_tokens should be [1, " +
                              std::to_string(request->model->max_output_tokens) + "]";
    if (p.isMember("max_tokens") && !p["max_tokens"].isNull()) {
        const Json::Value& m = p["max_tokens"];
        if (!IsInteger(m) || m.asInt64() < 1 || m.asInt64() > request->model->max_output_tokens) {
            *failure = AlgoInvalidParameter(range);
            return false;
        }
        request->max_tokens = m.asInt64();
    }
    if (p.isMember("temperature") && !p["temperature"].isNull()) {
        const Json::Value& t = p["temperature"];
        if (!t.isNumeric() || t.asDouble() < 0.0 || t.asDouble() >= 2.0) {
            *failure = AlgoInvalidParameter("Temperature should be in [0.0, 2.0)");
            return false;
        }
    }
    if (p.isMember("top_p") && !p["top_p"].isNull()) {
        const Json::Value& t = p["top_p"];
        if (!t.isNumeric() || t.asDouble() <= 0.0 || t.asDouble() > 1.0) {
            *failure = AlgoInvalidParameter("Range of top_p should be (0.0, 1.0]");
            return false;
        }
    }
    return true;
}

void AppendUsage(std::string* out, std::initializer_list<std::pair<std::string_view, int64_t>> f) {
    out->append("{");
    bool first = true;
    for (const auto& [name, value] : f) {
        if (!first) out->append(",");
        first = false;
        AppendJsonString(out, name);
        out->append(":").append(std::to_string(value));
    }
}

std::string TaskStatusName(TaskStatus status) {
    switch (status) {
        case TaskStatus::kPending:
            return "PENDING";
        case TaskStatus::kRunning:
            return "RUNNING";
        case TaskStatus::kSucceeded:
            return "SUCCEEDED";
        case TaskStatus::kFailed:
            return "FAILED";
        case TaskStatus::kUnknown:
            break;
    }
    return "UNKNOWN";
}

}  // namespace

const ModelInfo* FindModel(std::string_view name) {
    for (const ModelInfo& model : kModels) {
        if (model.name == name) return &model;
    }
    return nullptr;
}

ApiFailure InvalidApiKeyFailure() {
    return Failure(401, "InvalidApiKey", "Invalid API-key provided.");
}

ApiFailure NotFoundFailure() {
    return Failure(404, "NotFound", "The requested URL was not found.");
}

ApiFailure MethodNotAllowedFailure() {
    return Failure(405, "MethodNotAllowed", "The request method is not allowed for this URL.");
}

ApiFailure MalformedHttpFailure(int http_status) {
    if (http_status == 413) return Failure(413, "BadRequest.TooLarge", "Payload Too Large");
    return Failure(http_status, "InvalidParameter", "Malformed HTTP request.");
}

ApiFailure AsyncMismatchFailure(bool async_requested) {
    return Failure(403, "AccessDenied",
                   async_requested ? "current user api does not support asynchronous calls"
                                   : "current user api does not support synchronous calls");
}

ApiFailure DirectiveFailure(SimError error, bool after_output) {
    switch (error) {
        case SimError::kInvalidApiKey:
            return InvalidApiKeyFailure();
        case SimError::kThrottling:
            return Failure(429, "Throttling.RateQuota",
                           "Requests rate limit exceeded, please try again later.");
        case SimError::kDataInspectionFailed:
            return Failure(400, "DataInspectionFailed",
                           after_output ? "Output data may contain inappropriate content."
                                        : "Input data may contain inappropriate content.");
        case SimError::kInternal:
            break;
    }
    return Failure(500, "InternalError",
                   "An internal error has occured, please try again later or contact service "
                   "support.");
}

ErrorForm ErrorFormFor(SimError error) {
    switch (error) {
        case SimError::kInvalidApiKey:
            return ErrorForm::kJson;
        case SimError::kThrottling:
            return ErrorForm::kSse200;
        case SimError::kInternal:
        case SimError::kDataInspectionFailed:
            break;
    }
    return ErrorForm::kSse;
}

std::variant<GenerationRequest, ApiFailure> ParseGenerationRequest(Endpoint endpoint,
                                                                   std::string_view body) {
    ApiFailure failure;
    const std::optional<Json::Value> root = ParseBody(body, &failure);
    if (!root) return failure;

    GenerationRequest request;
    request.endpoint = endpoint;
    request.model = CheckModel(
        *root, endpoint == Endpoint::kText ? ModelKind::kText : ModelKind::kVision, &failure);
    if (request.model == nullptr) return failure;

    const Json::Value& input = (*root)["input"];
    if (!input.isObject()) {
        return Failure(400, "BadRequest.EmptyInput",
                       "Required input parameter missing from request.");
    }
    const bool has_messages = input.isMember("messages") && !input["messages"].isNull();
    const bool has_prompt = input.isMember("prompt") && !input["prompt"].isNull();
    if (!has_messages && !has_prompt) {
        return InvalidParameter(
            "Either \"prompt\" or \"messages\" must exist and cannot both be none");
    }

    std::optional<std::string> last_user;
    int64_t text_tokens = 0;
    int64_t images = 0;
    if (has_messages) {
        const Json::Value& messages = input["messages"];
        if (!messages.isArray() || messages.empty()) {
            return AlgoInvalidParameter("messages must be a non-empty list");
        }
        for (const Json::Value& message : messages) {
            if (!message.isObject() || !message["role"].isString()) {
                return AlgoInvalidParameter("every message needs a role and a content");
            }
            const std::string role = message["role"].asString();
            if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
                return AlgoInvalidParameter("Role must be in [system, user, assistant, tool]");
            }
            const std::optional<MessageText> content = ReadContent(message["content"]);
            if (!content) {
                return AlgoInvalidParameter(
                    "The content field is a required field and must be a string or a list of "
                    "{\"text\"}/{\"image\"} items");
            }
            text_tokens += EstimateTokens(content->text) + kTokensPerMessage;
            images += content->images;
            if (role == "user") last_user = content->text;
        }
    }
    if (has_prompt) {
        if (!input["prompt"].isString()) return AlgoInvalidParameter("prompt must be a string");
        // The SDK sends a prompt next to messages as one more user message, so it is the last.
        last_user = input["prompt"].asString();
        text_tokens += EstimateTokens(*last_user) + kTokensPerMessage;
    }
    if (!last_user) return AlgoInvalidParameter("There must be at least one user message");

    // Qwen-VL answers in the message format only; `result_format: "text"` is ignored.
    if (!ReadParameters(*root, &request, &failure)) return failure;
    if (endpoint == Endpoint::kMultimodal) request.message_format = true;

    ParsedPrompt parsed = ParseDirectives(*last_user);
    if (!parsed.error.empty()) return InvalidParameter(parsed.error);
    // Directives steer the simulator; they are not part of what the "model" reads.
    text_tokens += EstimateTokens(parsed.text) - EstimateTokens(*last_user);
    request.prompt = std::move(parsed.text);
    request.directives = std::move(parsed.directives);
    if (endpoint == Endpoint::kMultimodal) request.image_tokens = images * kTokensPerImage;
    request.input_tokens = text_tokens + request.image_tokens;
    return request;
}

std::variant<ImageRequest, ApiFailure> ParseImageRequest(std::string_view body) {
    ApiFailure failure;
    const std::optional<Json::Value> root = ParseBody(body, &failure);
    if (!root) return failure;

    ImageRequest request;
    request.model = CheckModel(*root, ModelKind::kImage, &failure);
    if (request.model == nullptr) return failure;
    const Json::Value& input = (*root)["input"];
    if (!input.isObject()) {
        return Failure(400, "BadRequest.EmptyInput",
                       "Required input parameter missing from request.");
    }
    if (!input["prompt"].isString() || input["prompt"].asString().empty()) {
        return InvalidParameter("input.prompt must be a non-empty string.");
    }
    const Json::Value& parameters = (*root)["parameters"];
    if (!parameters.isNull() && !parameters.isObject()) {
        return InvalidParameter("parameters must be an object.");
    }
    if (parameters.isObject() && parameters.isMember("n")) {
        const Json::Value& n = parameters["n"];
        if (!IsInteger(n) || n.asInt64() < 1 || n.asInt64() > 4) {
            return InvalidParameter("n should be in [1, 4].");
        }
        request.n = static_cast<int>(n.asInt64());
    }
    ParsedPrompt parsed = ParseDirectives(input["prompt"].asString());
    if (!parsed.error.empty()) return InvalidParameter(parsed.error);
    request.prompt = std::move(parsed.text);
    request.directives = std::move(parsed.directives);
    return request;
}

OutputPlan PlanOutput(const GenerationRequest& request) {
    const Directives& d = request.directives;
    OutputPlan plan;
    plan.deltas = d.tokens;
    if (request.max_tokens && *request.max_tokens < d.tokens) {
        plan.deltas = *request.max_tokens;
        plan.finish_reason = "length";
    }
    const auto end_after = [&plan](const std::optional<int64_t>& after, Ending ending) {
        if (!after) return;
        plan.deltas = std::min(plan.deltas, *after);
        plan.ending = ending;
    };
    end_after(d.fail_after, Ending::kFail);
    end_after(d.cut_after, Ending::kCut);
    end_after(d.hang_after, Ending::kHang);
    return plan;
}

TextGenerator::TextGenerator(std::string_view prompt) : state_(Fnv1a64(prompt)) {}

std::string_view TextGenerator::Next() {
    // splitmix64: tiny, fast, and good enough that neighbouring prompts read differently.
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return kVocabulary[z % kVocabulary.size()];
}

std::string ErrorJson(const ApiFailure& failure, std::string_view request_id) {
    std::string out = "{\"code\":";
    AppendJsonString(&out, failure.code);
    out += ",\"message\":";
    AppendJsonString(&out, failure.message);
    out += ",\"request_id\":";
    AppendJsonString(&out, request_id);
    out += "}";
    return out;
}

std::string SseFrame(int64_t id, std::string_view event, int status, std::string_view data) {
    std::string out;
    out.reserve(data.size() + 64);
    out.append("id:").append(std::to_string(id)).append("\nevent:").append(event);
    out.append("\n:HTTP_STATUS/").append(std::to_string(status)).append("\ndata:");
    out.append(data).append("\n\n");
    return out;
}

std::string StreamChunkJson(const GenerationRequest& request, std::string_view request_id,
                            const Progress& progress) {
    const int64_t output = progress.output_tokens;
    const int64_t total = request.input_tokens + output;
    std::string out = "{\"output\":";
    if (!request.message_format) {
        out += "{\"finish_reason\":";
        AppendJsonString(&out, progress.finish_reason);
        out += ",\"text\":";
        AppendJsonString(&out, progress.content);
        out += "},\"usage\":";
        AppendUsage(&out, {{"total_tokens", total},
                           {"output_tokens", output},
                           {"input_tokens", request.input_tokens}});
        out += "}";
    } else {
        out += "{\"choices\":[{\"message\":{\"content\":";
        if (request.endpoint == Endpoint::kMultimodal) {
            // The last incremental chunk of a VL stream has an empty list, not [{"text":""}].
            if (progress.content.empty()) {
                out += "[]";
            } else {
                out += "[{\"text\":";
                AppendJsonString(&out, progress.content);
                out += "}]";
            }
        } else {
            AppendJsonString(&out, progress.content);
        }
        out += ",\"role\":\"assistant\"},\"finish_reason\":";
        AppendJsonString(&out, progress.finish_reason);
        out += "}]},\"usage\":";
        if (request.endpoint == Endpoint::kMultimodal) {
            AppendUsage(&out, {{"total_tokens", total},
                               {"output_tokens", output},
                               {"input_tokens", request.input_tokens},
                               {"image_tokens", request.image_tokens}});
            out += "}";
        } else {
            AppendUsage(&out, {{"total_tokens", total},
                               {"output_tokens", output},
                               {"input_tokens", request.input_tokens}});
            out += ",\"prompt_tokens_details\":{\"cached_tokens\":0}}";
        }
    }
    out += ",\"request_id\":";
    AppendJsonString(&out, request_id);
    out += "}";
    return out;
}

std::string CompletionJson(const GenerationRequest& request, std::string_view request_id,
                           const Progress& progress) {
    const int64_t output = progress.output_tokens;
    const int64_t total = request.input_tokens + output;
    std::string out = "{\"output\":";
    if (!request.message_format) {
        out += "{\"finish_reason\":";
        AppendJsonString(&out, progress.finish_reason);
        out += ",\"text\":";
        AppendJsonString(&out, progress.content);
        out += "},\"usage\":";
        AppendUsage(&out, {{"total_tokens", total},
                           {"output_tokens", output},
                           {"input_tokens", request.input_tokens}});
    } else {
        out += "{\"choices\":[{\"finish_reason\":";
        AppendJsonString(&out, progress.finish_reason);
        out += ",\"message\":{\"role\":\"assistant\",\"content\":";
        if (request.endpoint == Endpoint::kMultimodal) {
            out += "[{\"text\":";
            AppendJsonString(&out, progress.content);
            out += "}]";
        } else {
            AppendJsonString(&out, progress.content);
        }
        out += "}}]},\"usage\":";
        if (request.endpoint == Endpoint::kMultimodal) {
            AppendUsage(&out, {{"output_tokens", output},
                               {"input_tokens", request.input_tokens},
                               {"image_tokens", request.image_tokens},
                               {"total_tokens", total}});
        } else {
            AppendUsage(&out, {{"input_tokens", request.input_tokens},
                               {"output_tokens", output},
                               {"total_tokens", total}});
        }
    }
    out += "},\"request_id\":";
    AppendJsonString(&out, request_id);
    out += "}";
    return out;
}

std::string TaskSubmitJson(std::string_view task_id, std::string_view request_id) {
    std::string out = "{\"output\":{\"task_status\":\"PENDING\",\"task_id\":";
    AppendJsonString(&out, task_id);
    out += "},\"request_id\":";
    AppendJsonString(&out, request_id);
    out += "}";
    return out;
}

std::string TaskStatusJson(const TaskView& task, std::string_view request_id) {
    std::string out = "{\"request_id\":";
    AppendJsonString(&out, request_id);
    out += ",\"output\":{\"task_id\":";
    AppendJsonString(&out, task.task_id);
    out += ",\"task_status\":";
    AppendJsonString(&out, TaskStatusName(task.status));
    const auto time_field = [&out](std::string_view name, const std::string& value) {
        if (value.empty()) return;
        out += ",";
        AppendJsonString(&out, name);
        out += ":";
        AppendJsonString(&out, value);
    };
    time_field("submit_time", task.submit_time);
    time_field("scheduled_time", task.scheduled_time);
    time_field("end_time", task.end_time);
    const bool done = task.status == TaskStatus::kSucceeded || task.status == TaskStatus::kFailed;
    if (task.status == TaskStatus::kSucceeded) {
        out += ",\"results\":[";
        for (size_t i = 0; i < task.urls.size(); ++i) {
            if (i > 0) out += ",";
            out += "{\"url\":";
            AppendJsonString(&out, task.urls[i]);
            out += "}";
        }
        out += "]";
    }
    if (task.status == TaskStatus::kFailed) {
        out +=
            ",\"code\":\"InternalError.Algo\",\"message\":\"An internal error has occured during "
            "execution, please try again later or contact service support.\"";
    }
    if (task.status == TaskStatus::kRunning || done) {
        const int succeeded = task.status == TaskStatus::kSucceeded ? task.n : 0;
        const int failed = task.status == TaskStatus::kFailed ? task.n : 0;
        out += ",\"task_metrics\":{\"TOTAL\":" + std::to_string(task.n) +
               ",\"SUCCEEDED\":" + std::to_string(succeeded) +
               ",\"FAILED\":" + std::to_string(failed) + "}";
    }
    out += "}";
    if (done) {
        const int images = task.status == TaskStatus::kSucceeded ? task.n : 0;
        out += ",\"usage\":{\"image_count\":" + std::to_string(images) + "}";
    }
    out += "}";
    return out;
}

std::string NewUuid() {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    const uint64_t hi = engine();
    const uint64_t lo = engine();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                  static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0x0fff),
                  static_cast<unsigned>(0x8000 | ((lo >> 48) & 0x3fff)),
                  static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    return buf;
}

void AppendJsonString(std::string* out, std::string_view s) {
    out->push_back('"');
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                out->append("\\\"");
                break;
            case '\\':
                out->append("\\\\");
                break;
            case '\n':
                out->append("\\n");
                break;
            case '\r':
                out->append("\\r");
                break;
            case '\t':
                out->append("\\t");
                break;
            default:
                if (u < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", u);
                    out->append(buf);
                } else {
                    out->push_back(c);
                }
        }
    }
    out->push_back('"');
}

}  // namespace inkstone::sim
