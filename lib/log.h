#pragma once
/// Structured logging: one JSON object per line, written with a single write(2) on an O_APPEND
/// descriptor so lines from many threads and processes never interleave.
/// Thread-safe. Never pass secrets (keys, tokens, passwords) as fields.
#include <json/value.h>

#include <string>
#include <string_view>

#include "lib/config.h"

namespace inkstone::lib {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

/// Opens the configured file (or uses stderr). Safe to call again (re-configures).
void LogInit(const LogConfig& config);
/// Reopens the log file (SIGUSR1, after logrotate). No-op for stderr.
void LogReopen();
/// `{"ts":"2026-11-26T08:00:00.123Z","level":"info","event":<event>, ...fields}`
void Log(LogLevel level, std::string_view event, const Json::Value& fields = Json::Value());

}  // namespace inkstone::lib
