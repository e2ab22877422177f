#include "lib/base/log.h"

#include <fcntl.h>
#include <json/writer.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

namespace inkstone::lib::base {
namespace {

// No mutex anywhere: Log only loads these atomics and calls write(2), so a child forked while
// another thread was logging or reopening inherits nothing locked.
//
// g_fd is stderr until a file is configured; from then on it is a descriptor this module owns
// and never closes. Reopening opens the new file and dup3()s it onto that same number, which
// swaps the target atomically: a concurrent write lands in the old or the new file, never in
// a descriptor that was closed (and maybe reused for a database socket) under it.
std::atomic<int> g_fd{STDERR_FILENO};
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
// The configured path, for LogReopen; empty means stderr. A new LogInit pushes a node and
// never frees the old ones (a reader may still hold one); they stay reachable through `older`.
struct PathNode {
    std::string path;
    const PathNode* older;
};
std::atomic<const PathNode*> g_path{nullptr};

void SetPath(const std::string& path) {
    const PathNode* current = g_path.load();
    if ((current == nullptr && path.empty()) || (current != nullptr && current->path == path)) {
        return;
    }
    auto* node = new PathNode{path, current};
    while (!g_path.compare_exchange_weak(node->older, node)) {
    }
}

std::string ErrnoText(int error) { return std::system_category().message(error); }

const char* LevelName(LogLevel level) {
    switch (level) {
        case LogLevel::kDebug:
            return "debug";
        case LogLevel::kInfo:
            return "info";
        case LogLevel::kWarn:
            return "warn";
        case LogLevel::kError:
            return "error";
    }
    return "info";
}

bool ParseLevel(const std::string& name, LogLevel* level) {
    for (LogLevel candidate :
         {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
        if (name == LevelName(candidate)) {
            *level = candidate;
            return true;
        }
    }
    return false;
}

/// Opens `path` for appending. Returns the descriptor (always > 2), or -1 with errno set.
int OpenLogFile(const std::string& path) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0 || fd > STDERR_FILENO) return fd;
    // With stdio closed at startup open() can return 0..2; keep those free so g_fd == 2 always
    // means "stderr, not ours".
    const int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    const int error = errno;
    close(fd);
    errno = error;
    return moved;
}

/// Makes the log descriptor point at `new_fd`'s file and consumes `new_fd`.
bool Install(int new_fd) {
    int current = STDERR_FILENO;
    if (g_fd.compare_exchange_strong(current, new_fd)) return true;
    const bool ok = dup3(new_fd, current, O_CLOEXEC) >= 0;
    const int error = errno;
    close(new_fd);
    errno = error;
    return ok;
}

void WriteAll(int fd, const std::string& line) {
    size_t written = 0;
    while (written < line.size()) {
        const ssize_t n = write(fd, line.data() + written, line.size() - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // nowhere left to report a failing log
        }
        written += static_cast<size_t>(n);
    }
}

void AppendJson(std::string& out, const Json::Value& value) {
    thread_local const std::unique_ptr<Json::StreamWriter> writer = [] {
        Json::StreamWriterBuilder builder;
        builder["indentation"] = "";
        // ASCII-only output: non-ASCII text is escaped and invalid UTF-8 from a caller becomes
        // U+FFFD, so every line stays valid JSON whatever a field holds.
        builder["emitUTF8"] = false;
        return std::unique_ptr<Json::StreamWriter>(builder.newStreamWriter());
    }();
    thread_local std::ostringstream stream;
    stream.str(std::string());
    stream.clear();
    writer->write(value, &stream);
    out += stream.str();
}

void AppendTimestamp(std::string& out) {
    timespec now{};
    std::tm tm{};
    if (clock_gettime(CLOCK_REALTIME, &now) != 0 || gmtime_r(&now.tv_sec, &tm) == nullptr) {
        out += "1970-01-01T00:00:00.000Z";
        return;
    }
    char buffer[40];
    const int n = std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                tm.tm_sec, now.tv_nsec / 1000000);
    if (n > 0 && static_cast<size_t>(n) < sizeof buffer) out.append(buffer, static_cast<size_t>(n));
}

// The open LogContext scopes of this thread, outermost first.
thread_local std::vector<std::pair<std::string_view, std::string>> t_context;

}  // namespace

LogContext::LogContext(std::string_view key, std::string value) {
    t_context.emplace_back(key, std::move(value));
}

LogContext::~LogContext() { t_context.pop_back(); }

void LogInit(const LogConfig& config) {
    LogLevel level;
    if (!ParseLevel(config.level, &level)) {
        throw ConfigError("log.level must be one of debug, info, warn, error");
    }
    if (config.file.empty()) {
        const int current = g_fd.load();
        if (current != STDERR_FILENO && dup3(STDERR_FILENO, current, O_CLOEXEC) < 0) {
            throw ConfigError("log: cannot switch to stderr: " + ErrnoText(errno));
        }
    } else {
        const int fd = OpenLogFile(config.file);
        if (fd < 0) {
            throw ConfigError("log.file: cannot open '" + config.file + "': " + ErrnoText(errno));
        }
        if (!Install(fd)) {
            throw ConfigError("log.file: cannot install '" + config.file +
                              "': " + ErrnoText(errno));
        }
    }
    SetPath(config.file);
    g_min_level.store(static_cast<int>(level));
}

void LogReopen() {
    const PathNode* node = g_path.load();
    if (node == nullptr || node->path.empty()) return;
    const std::string& path = node->path;
    const int fd = OpenLogFile(path);
    if (fd < 0 || !Install(fd)) {
        const int error = errno;
        // Keep writing to the old file; it is still open.
        Json::Value fields(Json::objectValue);
        fields["error"] = ErrnoText(error);
        fields["path"] = path;
        Log(LogLevel::kError, "log.reopen_failed", fields);
    }
}

void Log(LogLevel level, std::string_view event, const Json::Value& fields) {
    if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;

    std::string line;
    line.reserve(256);
    line += "{\"ts\":\"";
    AppendTimestamp(line);
    line += "\",\"level\":\"";
    line += LevelName(level);
    line += "\",\"event\":";
    AppendJson(line, Json::Value(event.data(), event.data() + event.size()));
    const bool clash = fields.isObject() && (fields.isMember("ts") || fields.isMember("level") ||
                                             fields.isMember("event"));
    if (fields.isObject() && !clash && !fields.empty()) {
        // The usual case, written in one go: `{"a":1,"b":2}` continues the line as `,"a":1,"b":2`.
        const size_t start = line.size();
        AppendJson(line, fields);
        line[start] = ',';
        line.pop_back();  // its closing brace; the line's own comes below
    } else if (fields.isObject()) {
        for (auto it = fields.begin(); it != fields.end(); ++it) {
            std::string name = it.name();
            // The fixed keys come first and must stay unique in the object.
            if (name == "ts" || name == "level" || name == "event") name = "fields." + name;
            line += ',';
            AppendJson(line, Json::Value(name));
            line += ':';
            AppendJson(line, *it);
        }
    } else if (!fields.isNull()) {
        line += ",\"data\":";
        AppendJson(line, fields);
    }
    for (size_t i = t_context.size(); i-- > 0;) {
        const auto& [key, value] = t_context[i];
        if (fields.isObject() && fields.isMember(key.data(), key.data() + key.size())) continue;
        bool shadowed = false;  // an inner scope of the same key was written already
        for (size_t j = i + 1; j < t_context.size(); ++j) shadowed |= t_context[j].first == key;
        if (shadowed) continue;
        line += ',';
        AppendJson(line, Json::Value(key.data(), key.data() + key.size()));
        line += ':';
        AppendJson(line, Json::Value(value));
    }
    line += "}\n";
    // One write(2) per line: O_APPEND makes each line land whole at the end of the file.
    WriteAll(g_fd.load(std::memory_order_relaxed), line);
}

}  // namespace inkstone::lib::base
