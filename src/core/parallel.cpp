#include "protege/parallel.hpp"

#include <algorithm>           // for std::min, std::max
#include <atomic>              // for std::atomic
#include <chrono>              // for std::chrono::milliseconds
#include <condition_variable>  // for std::condition_variable
#include <exception>           // for std::exception_ptr
#include <mutex>               // for std::mutex
#include <thread>              // for std::thread
#include <vector>              // for std::vector

PROTEGE_NAMESPACE_BEGIN

int resolve_threads(int requested) noexcept {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

void parallel_for(std::size_t n, int threads, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& body,
                  const ProgressCallback& progress) {
  if (n == 0) {
    if (progress) progress(0, 0);
    return;
  }
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t blocks = (n + grain - 1) / grain;
  const auto workers =
      static_cast<std::size_t>(std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(threads)), blocks));

  std::vector<std::exception_ptr> errors(blocks);
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done_items{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::condition_variable cv;
  std::size_t finished_workers = 0;

  auto run = [&] {
    for (;;) {
      const std::size_t b = next.fetch_add(1, std::memory_order_relaxed);
      if (b >= blocks || failed.load(std::memory_order_relaxed)) break;
      const std::size_t begin = b * grain;
      const std::size_t end = std::min(n, begin + grain);
      try {
        body(begin, end);
      } catch (...) {
        errors[b] = std::current_exception();
        failed.store(true, std::memory_order_relaxed);
      }
      done_items.fetch_add(end - begin, std::memory_order_relaxed);
      if (progress) cv.notify_one();
    }
  };

  if (workers <= 1) {
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::size_t begin = b * grain;
      const std::size_t end = std::min(n, begin + grain);
      body(begin, end);
      if (progress) progress(end, n);
    }
    return;
  }

  std::vector<std::thread> pool;
  pool.reserve(workers);
  for (std::size_t w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      run();
      {
        std::lock_guard<std::mutex> lock(mu);
        ++finished_workers;
      }
      cv.notify_one();
    });
  }
  if (progress) {
    std::unique_lock<std::mutex> lock(mu);
    std::size_t last = static_cast<std::size_t>(-1);
    while (finished_workers < workers) {
      cv.wait_for(lock, std::chrono::milliseconds(100));
      const std::size_t d = done_items.load(std::memory_order_relaxed);
      if (d != last) {
        last = d;
        lock.unlock();
        progress(d, n);
        lock.lock();
      }
    }
  }
  for (auto& t : pool) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  if (progress) progress(n, n);
}

PROTEGE_NAMESPACE_END
