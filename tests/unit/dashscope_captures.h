#pragma once
/// DashScope wire captures (real responses, as DashScope's docs and SDKs quote them), used
/// as test data by the unit and integration tests. Where the reference elides a value ("...")
/// a placeholder stands in; everything else is byte for byte.
#include <string_view>

namespace inkstone::testing::captures {

/// result_format "message", incremental_output true (frames 1, 2 and 15).
constexpr std::string_view kStream =
    "id:1\n"
    "event:result\n"
    ":HTTP_STATUS/200\n"
    R"(data:{"output":{"choices":[{"message":{"content":"I am","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":27,"output_tokens":1,"input_tokens":26,"prompt_tokens_details":{"cached_tokens":0}},"request_id":"d30a9914-ac97-9102-b746-ce0cb35e3fa2"})"
    "\n\n"
    "id:2\n"
    "event:result\n"
    ":HTTP_STATUS/200\n"
    R"(data:{"output":{"choices":[{"message":{"content":" Qwen","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":30,"output_tokens":4,"input_tokens":26,"prompt_tokens_details":{"cached_tokens":0}},"request_id":"d30a9914-ac97-9102-b746-ce0cb35e3fa2"})"
    "\n\n"
    "id:15\n"
    "event:result\n"
    ":HTTP_STATUS/200\n"
    R"(data:{"output":{"choices":[{"message":{"content":"","role":"assistant"},"finish_reason":"stop"}]},"usage":{"total_tokens":92,"output_tokens":66,"input_tokens":26,"prompt_tokens_details":{"cached_tokens":0}},"request_id":"d30a9914-ac97-9102-b746-ce0cb35e3fa2"})"
    "\n\n";

constexpr std::string_view kStreamRequestId = "d30a9914-ac97-9102-b746-ce0cb35e3fa2";

/// an error frame (usually the only frame of a 200 stream).
constexpr std::string_view kErrorFrame =
    "event:error\n"
    ":HTTP_STATUS/400\n"
    R"(data:{"code":"InvalidParameter","message":"Preprocessor error","request_id":"0cbe6006-faec-9854-bf8b-c906d75c3bd8"})"
    "\n\n";

/// throttling opens with 200 OK, then an SSE error frame (no final blank line in
/// the capture).
constexpr std::string_view kThrottlingFrame =
    "id:1\nevent:error\n:HTTP_STATUS/429\n"
    R"(data:{"request_id":"x","code":"Throttling.AllocationQuota","message":"Allocated quota exceeded"})";

/// `400 Bad Request`, content-type application/json, SSE-framed body.
constexpr std::string_view kSseErrorBody400 =
    "id:1\nevent:error\n:HTTP_STATUS/400\n"
    R"(data:{"code":"InvalidParameter","message":"<400> InternalError.Algo.InvalidParameter: Range of max_tokens should be [1, 32768]","request_id":"req-400"})"
    "\n\n";

/// non-stream, result_format "text".
constexpr std::string_view kTextBody =
    R"({"output":{"finish_reason":"stop","text":"你好！很高兴为你提供帮助。"},"usage":{"total_tokens":18,"output_tokens":7,"input_tokens":11},"request_id":"db13c38b-4291-9f90-9117-a6be2d823ee5"})";

/// non-stream, result_format "message".
constexpr std::string_view kMessageBody =
    R"({"output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"I am Qwen."}}]},)"
    R"("usage":{"input_tokens":22,"output_tokens":17,"total_tokens":39},"request_id":"req-message"})";

/// qwen-vl-max non-stream, content as a list.
constexpr std::string_view kVisionBody =
    R"({"output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":[{"text":"图片中有两辆自行车。"}]}}]},"usage":{"output_tokens":7,"input_tokens":1264,"image_tokens":1230},"request_id":"f11e20f0-6774-9649-a0c9-6095e6287cdc"})";

/// a multimodal stream chunk, then the SDK sample's final chunk with `content: []`.
constexpr std::string_view kVisionStream =
    "id:1\nevent:result\n:HTTP_STATUS/200\n"
    R"(data:{"output":{"choices":[{"message":{"content":[{"text":"两"}],"role":"assistant"},"finish_reason":"null"}]},"usage":{"output_tokens":1,"input_tokens":1264,"image_tokens":1230},"request_id":"req-vl"})"
    "\n\n"
    "id:2\nevent:result\n:HTTP_STATUS/200\n"
    R"(data:{"output":{"choices":[{"message":{"content":[],"role":"assistant"},"finish_reason":"stop"}]},"usage":{"output_tokens":1,"input_tokens":1264,"image_tokens":1230},"request_id":"req-vl"})"
    "\n\n";

/// flat error bodies.
constexpr std::string_view kInvalidApiKeyBody =
    R"({"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"fb53c4ec-1c12-4fc4-a580-xxxxxx"})";
constexpr std::string_view kDataInspectionBody =
    R"({"code":"DataInspectionFailed","message":"Input or output data may contain inappropriate content.","request_id":"req-dif"})";
constexpr std::string_view kThrottlingBody =
    R"({"code":"Throttling.RateQuota","message":"Requests rate limit exceeded, please try again later.","request_id":"req-429"})";
constexpr std::string_view kInternalErrorBody =
    R"({"code":"InternalError","message":"An internal error has occured, please try again later or contact service support.","request_id":"req-500"})";
constexpr std::string_view kModelNotExistBody =
    R"({"code":"InvalidParameter","message":"Model not exist.","request_id":"req-model"})";

/// async image tasks.
constexpr std::string_view kTaskSubmitted =
    R"({"output":{"task_status":"PENDING","task_id":"0385dc79-5ff8-4d82-bcb6-xxxxxx"},"request_id":"4909100c-7b5a-9f92-bfe5-xxxxxx"})";
constexpr std::string_view kTaskRunning =
    R"({"request_id":"e5d70b02-req","output":{"task_id":"13b1848b-task","task_status":"RUNNING","task_metrics":{"TOTAL":1,"SUCCEEDED":1,"FAILED":0}}})";
constexpr std::string_view kTaskSucceeded =
    R"({"request_id":"ae572916-req","output":{"task_id":"c2145ead-task","task_status":"SUCCEEDED","submit_time":"2025-05-18 16:26:27.871","scheduled_time":"2025-05-18 16:26:27.890","end_time":"2025-05-18 16:26:36.803",)"
    R"("results":[{"orig_prompt":"a cat","actual_prompt":"a cat, detailed","url":"https://dashscope-result-bj.oss-cn-beijing.aliyuncs.com/1.png?Expires=1&OSSAccessKeyId=a&Signature=b"}],)"
    R"("task_metrics":{"TOTAL":1,"SUCCEEDED":1,"FAILED":0}},"usage":{"image_count":1}})";
constexpr std::string_view kTaskFailed =
    R"({"request_id":"req-failed","output":{"task_id":"task-failed","task_status":"FAILED","submit_time":"2025-05-18 16:26:27.871","scheduled_time":"2025-05-18 16:26:27.890","end_time":"2025-05-18 16:26:36.803","code":"InvalidParameter.FileDownload","message":"download for input_image error"},"usage":{"image_count":0}})";
constexpr std::string_view kTaskUnknown =
    R"({"request_id":"req-unknown","output":{"task_id":"task-unknown","task_status":"UNKNOWN"}})";

}  // namespace inkstone::testing::captures
