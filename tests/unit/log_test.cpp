#include "lib/base/log.h"

#include <gtest/gtest.h>
#include <json/reader.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace inkstone::lib {
using namespace inkstone::lib::base;
namespace {

Json::Value ParseLine(const std::string& line) {
    Json::CharReaderBuilder builder;
    Json::CharReaderBuilder::strictMode(&builder.settings_);
    Json::Value value;
    std::string errors;
    std::istringstream in(line);
    EXPECT_TRUE(Json::parseFromStream(builder, in, &value, &errors)) << line << ": " << errors;
    return value;
}

std::vector<std::string> ReadLines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// `2026-11-26T08:00:00.123Z`: 'd' stands for a digit, anything else must match exactly.
bool MatchesTimestamp(const std::string& ts) {
    const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (ts.size() != shape.size()) return false;
    for (size_t i = 0; i < ts.size(); ++i) {
        const bool ok = shape[i] == 'd' ? (ts[i] >= '0' && ts[i] <= '9') : ts[i] == shape[i];
        if (!ok) return false;
    }
    return true;
}

class LogTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/inkstone-log-test-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        dir_ = pattern;
        path_ = dir_ + "/inkstone.log";
        LogInit(LogConfig{path_, "debug"});
    }
    void TearDown() override {
        LogInit(LogConfig{"", "info"});
        unlink(path_.c_str());
        unlink((path_ + ".1").c_str());
        rmdir(dir_.c_str());
    }

    std::string dir_;
    std::string path_;
};

TEST_F(LogTest, ContextScopesAddTheirFieldsInnermostFirstAndYieldToExplicitOnes) {
    {
        LogContext request("request_id", "r1");
        Log(LogLevel::kInfo, "outer");
        {
            LogContext generation("generation_id", "42");
            LogContext inner_request("request_id", "r2");
            Json::Value fields;
            fields["generation_id"] = "explicit";
            Log(LogLevel::kInfo, "inner", fields);
        }
        Log(LogLevel::kInfo, "outer_again");
    }
    Log(LogLevel::kInfo, "none");
    const std::vector<std::string> lines = ReadLines(path_);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(ParseLine(lines[0])["request_id"], "r1");
    const Json::Value inner = ParseLine(lines[1]);
    EXPECT_EQ(inner["request_id"], "r2");
    EXPECT_EQ(inner["generation_id"], "explicit");
    EXPECT_EQ(ParseLine(lines[2])["request_id"], "r1");
    EXPECT_EQ(ParseLine(lines[2]).isMember("generation_id"), false);
    EXPECT_EQ(ParseLine(lines[3]).isMember("request_id"), false);
}

TEST_F(LogTest, WritesOneJsonObjectPerLine) {
    Json::Value fields(Json::objectValue);
    fields["user_id"] = 42;
    fields["path"] = "/api/v1/credit";
    fields["note"] = "积分 \"quoted\"\nnewline";
    Log(LogLevel::kInfo, "request.done", fields);
    Log(LogLevel::kWarn, "bare");

    const std::vector<std::string> lines = ReadLines(path_);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].rfind("{\"ts\":\"", 0), 0u) << lines[0];
    const Json::Value first = ParseLine(lines[0]);
    EXPECT_EQ(first["level"].asString(), "info");
    EXPECT_EQ(first["event"].asString(), "request.done");
    EXPECT_EQ(first["user_id"].asInt(), 42);
    EXPECT_EQ(first["path"].asString(), "/api/v1/credit");
    EXPECT_EQ(first["note"].asString(), "积分 \"quoted\"\nnewline");
    EXPECT_TRUE(MatchesTimestamp(first["ts"].asString())) << first["ts"].asString();
    const Json::Value second = ParseLine(lines[1]);
    EXPECT_EQ(second["level"].asString(), "warn");
    EXPECT_EQ(second["event"].asString(), "bare");
}

TEST_F(LogTest, FiltersByLevel) {
    LogInit(LogConfig{path_, "warn"});
    Log(LogLevel::kDebug, "d");
    Log(LogLevel::kInfo, "i");
    Log(LogLevel::kWarn, "w");
    Log(LogLevel::kError, "e");
    const std::vector<std::string> lines = ReadLines(path_);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(ParseLine(lines[0])["event"].asString(), "w");
    EXPECT_EQ(ParseLine(lines[1])["event"].asString(), "e");
}

TEST_F(LogTest, KeepsLinesValidWhateverTheFieldsHold) {
    Json::Value fields(Json::objectValue);
    fields["bad_utf8"] = "\xC0\x80\xFF";
    fields["level"] = "spoofed";
    fields["nested"]["list"].append(1.5);
    Log(LogLevel::kError, std::string_view("ev\0nt\n", 6), fields);
    Log(LogLevel::kInfo, "scalar", Json::Value("just a string"));

    const std::vector<std::string> lines = ReadLines(path_);
    ASSERT_EQ(lines.size(), 2u);
    const Json::Value first = ParseLine(lines[0]);
    EXPECT_EQ(first["level"].asString(), "error");
    EXPECT_EQ(first["fields.level"].asString(), "spoofed");
    EXPECT_EQ(first["event"].asString(), std::string("ev\0nt\n", 6));
    EXPECT_EQ(first["nested"]["list"][0].asDouble(), 1.5);
    EXPECT_EQ(ParseLine(lines[1])["data"].asString(), "just a string");
}

TEST_F(LogTest, ConcurrentLinesNeverInterleave) {
    constexpr int kThreads = 8;
    constexpr int kLinesPerThread = 500;
    const std::string padding(300, 'x');  // long lines make a torn write likely if one happens
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([t, &padding] {
            for (int i = 0; i < kLinesPerThread; ++i) {
                Json::Value fields(Json::objectValue);
                fields["thread"] = t;
                fields["i"] = i;
                fields["padding"] = padding;
                Log(LogLevel::kInfo, "concurrent", fields);
            }
        });
    }
    for (std::thread& thread : threads) thread.join();

    const std::vector<std::string> lines = ReadLines(path_);
    ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLinesPerThread));
    std::vector<int> next(kThreads, 0);
    for (const std::string& line : lines) {
        const Json::Value value = ParseLine(line);
        ASSERT_TRUE(value.isObject()) << line;
        const int t = value["thread"].asInt();
        ASSERT_TRUE(t >= 0 && t < kThreads) << line;
        EXPECT_EQ(value["i"].asInt(), next[t]++);  // each thread's lines in its own order
        EXPECT_EQ(value["padding"].asString(), padding);
    }
}

TEST_F(LogTest, LinesFromForkedProcessesNeverInterleave) {
    constexpr int kChildren = 4;
    constexpr int kLines = 300;
    std::vector<pid_t> children;
    for (int c = 0; c < kChildren; ++c) {
        const pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            for (int i = 0; i < kLines; ++i) {
                Json::Value fields(Json::objectValue);
                fields["child"] = c;
                fields["padding"] = std::string(500, 'y');
                Log(LogLevel::kInfo, "forked", fields);
            }
            _exit(0);
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) {
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    const std::vector<std::string> lines = ReadLines(path_);
    ASSERT_EQ(lines.size(), static_cast<size_t>(kChildren * kLines));
    for (const std::string& line : lines) EXPECT_EQ(ParseLine(line)["event"].asString(), "forked");
}

TEST_F(LogTest, ReopenFollowsLogrotate) {
    Log(LogLevel::kInfo, "before");
    ASSERT_EQ(std::rename(path_.c_str(), (path_ + ".1").c_str()), 0);
    Log(LogLevel::kInfo, "still_old");  // until reopened, lines go to the renamed file
    LogReopen();
    Log(LogLevel::kInfo, "after");

    const std::vector<std::string> old_lines = ReadLines(path_ + ".1");
    ASSERT_EQ(old_lines.size(), 2u);
    EXPECT_EQ(ParseLine(old_lines[1])["event"].asString(), "still_old");
    const std::vector<std::string> new_lines = ReadLines(path_);
    ASSERT_EQ(new_lines.size(), 1u);
    EXPECT_EQ(ParseLine(new_lines[0])["event"].asString(), "after");
}

TEST_F(LogTest, ReopenWhileLoggingLosesNothing) {
    std::atomic<bool> done{false};
    std::thread writer([&done] {
        for (int i = 0; i < 2000; ++i) Log(LogLevel::kInfo, "tick", Json::Value(i));
        done = true;
    });
    int reopens = 0;
    while (!done) {
        LogReopen();
        ++reopens;
    }
    writer.join();
    EXPECT_GT(reopens, 0);
    EXPECT_EQ(ReadLines(path_).size(), 2000u);
}

TEST_F(LogTest, InitRejectsBadConfig) {
    EXPECT_THROW(LogInit(LogConfig{dir_ + "/no/such/dir/x.log", "info"}), ConfigError);
    EXPECT_THROW(LogInit(LogConfig{path_, "loud"}), ConfigError);
    // A failed init leaves the previous file in place.
    Log(LogLevel::kInfo, "still_here");
    EXPECT_EQ(ReadLines(path_).size(), 1u);
}

}  // namespace
}  // namespace inkstone::lib
