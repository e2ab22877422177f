// The generation area's JSON shapes (handlers/generation_views.h): the task status a client
// sees, and a history item's nulls.
#include "handlers/generation_views.h"

#include <gtest/gtest.h>

namespace inkstone::handlers::views {
namespace {

using lib::generation::GenerationRecord;
using lib::generation::GenerationStatus;
using lib::generation::TaskState;

TaskState Task(GenerationStatus status, std::string error_code, std::string upstream = "") {
    GenerationRecord record;
    record.task_id = "t-1";
    record.status = status;
    record.error_code = std::move(error_code);
    record.credits_charged = 10;
    record.refunded = status == GenerationStatus::kFailed;
    return TaskState{record, std::move(upstream)};
}

TEST(TaskJson, StatusIsUpstreamsWhileRunningThenOurs) {
    EXPECT_EQ(TaskJson(Task(GenerationStatus::kRunning, ""))["status"], "RUNNING");
    EXPECT_EQ(TaskJson(Task(GenerationStatus::kRunning, "", "PENDING"))["status"], "PENDING");
    EXPECT_EQ(TaskJson(Task(GenerationStatus::kSucceeded, ""))["status"], "SUCCEEDED");
    EXPECT_EQ(TaskJson(Task(GenerationStatus::kFailed, "task_failed:X"))["status"], "FAILED");
    EXPECT_EQ(TaskJson(Task(GenerationStatus::kFailed, "worker_lost"))["status"], "FAILED");
    EXPECT_EQ(TaskJson(Task(GenerationStatus::kFailed, "task_unknown"))["status"], "UNKNOWN");
    const Json::Value failed = TaskJson(Task(GenerationStatus::kFailed, "task_failed"));
    EXPECT_EQ(failed["refunded"], true);
    EXPECT_EQ(failed["credits_charged"], 10);
    EXPECT_TRUE(failed["images"].isArray());
}

TEST(HistoryItemJson, AbsentValuesAreNull) {
    GenerationRecord record;
    record.id = 7;
    record.status = GenerationStatus::kRunning;
    const Json::Value item = HistoryItemJson(record);
    EXPECT_EQ(item["id"], 7);
    EXPECT_EQ(item["kind"], "text");
    EXPECT_EQ(item["status"], "RUNNING");
    EXPECT_TRUE(item["tool_type"].isNull());
    EXPECT_TRUE(item["finish_reason"].isNull());
    EXPECT_TRUE(item["finished_at"].isNull());
    EXPECT_EQ(item["usage"]["output_tokens"], 0);
}

}  // namespace
}  // namespace inkstone::handlers::views
