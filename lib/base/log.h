#pragma once
/// Structured logging: one JSON object per line, written with a single write(2) on an O_APPEND
/// descriptor so lines from many threads and processes never interleave.
/// Thread-safe. Never pass secrets (keys, tokens, passwords) as fields.
#include <json/value.h>

#include <string>
#include <string_view>

#include "lib/base/config.h"

namespace inkstone::lib::base {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

/// Opens the configured file (or uses stderr). Safe to call again (re-configures).
/// Throws ConfigError when the file cannot be opened or the level is unknown.
void LogInit(const LogConfig& config);
/// Reopens the log file (SIGUSR1, after logrotate). No-op for stderr. On failure keeps the old
/// file and logs `log.reopen_failed` to it.
void LogReopen();
/// `{"ts":"2026-11-26T08:00:00.123Z","level":"info","event":<event>, ...fields}`
/// Output is ASCII (non-ASCII escaped, invalid UTF-8 replaced by U+FFFD). A field named `ts`,
/// `level` or `event` is written as `fields.<name>`; non-object `fields` go under `data`.
/// Lock-free (atomics and write(2) only), so it is safe in a child forked from any state.
/// Every line also carries the fields of the calling thread's open LogContext scopes (unless
/// `fields` has the same key), so a line written deep in a provider names its request.
void Log(LogLevel level, std::string_view event, const Json::Value& fields = Json::Value());

/// A field added to every Log line this thread writes while the scope lives: the dispatcher
/// opens `request_id` for each request, the generation service `generation_id`. Scopes nest;
/// the innermost value of a key wins. `key` must outlive the scope (a string literal). Not
/// copyable; destroy in reverse order (RAII).
class LogContext {
  public:
    LogContext(std::string_view key, std::string value);
    ~LogContext();
    LogContext(const LogContext&) = delete;
    LogContext& operator=(const LogContext&) = delete;
};

}  // namespace inkstone::lib::base
