#include "protege/log.hpp"

#include <atomic>  // for std::atomic
#include <memory>  // for std::shared_ptr
#include <mutex>   // for std::mutex

PROTEGE_NAMESPACE_BEGIN

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::warning)};
std::mutex g_mutex;
std::shared_ptr<const LogCallback> g_callback;  // guarded by g_mutex
std::atomic<bool> g_has_callback{false};
}  // namespace

void set_log_callback(LogCallback callback) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (callback) {
    g_callback = std::make_shared<const LogCallback>(std::move(callback));
    g_has_callback = true;
  } else {
    g_callback.reset();
    g_has_callback = false;
  }
}

void set_log_level(LogLevel level) noexcept { g_level = static_cast<int>(level); }

LogLevel log_level() noexcept { return static_cast<LogLevel>(g_level.load()); }

bool log_enabled(LogLevel level) noexcept {
  return g_has_callback.load(std::memory_order_relaxed) && static_cast<int>(level) >= g_level.load();
}

void log_message(LogLevel level, std::string_view message) {
  std::shared_ptr<const LogCallback> cb;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    cb = g_callback;
  }
  if (cb && static_cast<int>(level) >= g_level.load()) (*cb)(level, message);
}

PROTEGE_NAMESPACE_END
