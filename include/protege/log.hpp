/// @file log.hpp
/// protege's logging: silent by default; the host installs a callback and a level.
///
/// Thread safety: every function here may be called from any thread. set_log_callback swaps the
/// callback under a mutex; a message being delivered at that moment still goes to the callback it
/// started with (held by a shared pointer), so a replaced callback may receive at most the messages
/// already in flight. The level is an atomic. The callback is called from whichever thread logs,
/// possibly several at once, so it must be thread-safe itself.
#pragma once

#include <functional>   // for std::function
#include <string_view>  // for std::string_view

#include <fmt/format.h>  // for fmt::format

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN

/// Severity of a log message.
enum class LogLevel : int { debug = 10, info = 20, warning = 30, error = 40, off = 100 };

/// Receives every message at or above the current level.
using LogCallback = std::function<void(LogLevel level, std::string_view message)>;

/// Installs `callback` (an empty function silences protege again).
PROTEGE_API void set_log_callback(LogCallback callback);
/// Messages below `level` are dropped before formatting. Default: warning.
PROTEGE_API void set_log_level(LogLevel level) noexcept;
/// The current level.
[[nodiscard]] PROTEGE_API LogLevel log_level() noexcept;
/// True when a callback is installed and `level` passes the threshold.
[[nodiscard]] PROTEGE_API bool log_enabled(LogLevel level) noexcept;
/// Sends an already formatted message.
PROTEGE_API void log_message(LogLevel level, std::string_view message);

/// Formats and sends a message if logging at `level` is enabled.
template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (log_enabled(level)) log_message(level, fmt::format(format, std::forward<Args>(args)...));
}

PROTEGE_NAMESPACE_END
