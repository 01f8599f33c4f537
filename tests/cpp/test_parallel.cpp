// parallel_for and the thread pool: determinism for any thread count and pool size, resizing,
// exceptions, nested and concurrent calls, executor injection.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "protege/error.hpp"
#include "protege/parallel.hpp"

#if defined(__unix__)
#include <sys/wait.h>  // for waitpid
#include <unistd.h>    // for fork, _exit
#endif

using namespace protege;

namespace {

// A value per index that depends on the index only (splitmix64).
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::vector<std::uint64_t> fill(Executor& ex, std::size_t n, int threads, std::size_t grain) {
  std::vector<std::uint64_t> out(n, 0);
  parallel_for(ex, n, threads, grain, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) out[i] = mix(i);
  });
  return out;
}

std::vector<std::uint64_t> reference(std::size_t n) {
  std::vector<std::uint64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = mix(i);
  return out;
}

// Waits until `count` participants have arrived or `timeout` passed; returns whether all arrived.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  bool arrive_and_wait(int count, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu);
    ++arrived;
    cv.notify_all();
    return cv.wait_for(lock, timeout, [&] { return arrived >= count; });
  }
};

// Largest number of bodies running at once during a parallel_for over `blocks` slow blocks.
int peak_concurrency(Executor& ex, int threads, std::size_t blocks) {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};
  parallel_for(ex, blocks, threads, 1, [&](std::size_t, std::size_t) {
    const int v = ++now;
    int p = peak.load();
    while (v > p && !peak.compare_exchange_weak(p, v)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    --now;
  });
  return peak.load();
}

// Runs each task on a new std::thread (joined in the destructor) and counts them.
class SpawningExecutor final : public Executor {
 public:
  explicit SpawningExecutor(int concurrency) : concurrency_(concurrency) {}
  ~SpawningExecutor() override {
    for (auto& t : threads_) t.join();
  }
  void execute(std::function<void()> task) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++tasks;
    threads_.emplace_back(std::move(task));
  }
  [[nodiscard]] int concurrency() const noexcept override { return concurrency_; }
  std::atomic<int> tasks{0};

 private:
  int concurrency_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

// Refuses every task.
class RefusingExecutor final : public Executor {
 public:
  void execute(std::function<void()>) override {
    ++refused;
    throw std::runtime_error("no capacity");
  }
  [[nodiscard]] int concurrency() const noexcept override { return 4; }
  int refused = 0;
};

}  // namespace

TEST_CASE("parallel_for: identical results for any thread count, grain and pool size", "[parallel]") {
  const std::size_t n = 10007;
  const auto ref = reference(n);
  for (int pool_size : {0, 1, 3}) {
    ThreadPool pool(pool_size);
    CHECK(pool.size() == pool_size);
    for (int threads : {1, 2, 4, 8}) {
      for (std::size_t grain : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, n + 5}) {
        CHECK(fill(pool, n, threads, grain) == ref);
      }
    }
  }
  std::vector<std::uint64_t> out(n);  // the default pool
  parallel_for(n, 0, 64, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) out[i] = mix(i);
  });
  CHECK(out == ref);
  bool called = false;
  parallel_for(0, 4, 1, [&](std::size_t, std::size_t) { called = true; });
  CHECK_FALSE(called);
}

TEST_CASE("ThreadPool: runs up to size + 1 participants at once; resize changes that", "[parallel][pool]") {
  ThreadPool pool(3);
  // Four participants (caller + 3 workers) must be inside the body at the same time.
  Gate gate;
  std::atomic<int> met{0};
  parallel_for(pool, 4, 4, 1, [&](std::size_t, std::size_t) {
    if (gate.arrive_and_wait(4, std::chrono::seconds(20))) ++met;
  });
  CHECK(met.load() == 4);

  pool.resize(1);
  CHECK(pool.size() == 1);
  CHECK(peak_concurrency(pool, 8, 24) <= 2);  // capped at size + 1
  CHECK(fill(pool, 5000, 8, 3) == reference(5000));

  pool.resize(0);
  CHECK(pool.size() == 0);
  CHECK(peak_concurrency(pool, 8, 8) == 1);
  CHECK(fill(pool, 5000, 8, 3) == reference(5000));

  pool.resize(2);
  Gate gate3;
  std::atomic<int> met3{0};
  parallel_for(pool, 3, 3, 1, [&](std::size_t, std::size_t) {
    if (gate3.arrive_and_wait(3, std::chrono::seconds(20))) ++met3;
  });
  CHECK(met3.load() == 3);

  // Queued tasks survive a resize and run on the new workers.
  std::atomic<int> ran{0};
  std::mutex block_mu;
  std::unique_lock<std::mutex> hold(block_mu);
  for (int i = 0; i < 2; ++i) pool.execute([&] { std::lock_guard<std::mutex> l(block_mu); });  // keep both busy
  for (int i = 0; i < 5; ++i) pool.execute([&] { ++ran; });
  hold.unlock();
  pool.resize(1);
  for (int i = 0; i < 2000 && ran.load() < 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(ran.load() == 5);
}

TEST_CASE("ThreadPool: resize from one of its own tasks is refused", "[parallel][pool]") {
  ThreadPool pool(1);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::string what;
  pool.execute([&] {
    try {
      pool.resize(2);
    } catch (const InvalidArgument& e) {
      what = e.what();
    }
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  REQUIRE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return done; }));
  CHECK(what.find("own tasks") != std::string::npos);
  CHECK(pool.size() == 1);
}

TEST_CASE("parallel_for: the exception of the lowest failed block reaches the caller", "[parallel][errors]") {
  ThreadPool pool(3);
  for (int threads : {1, 2, 4}) {
    std::atomic<int> calls{0};
    try {
      parallel_for(pool, 100, threads, 1, [&](std::size_t b, std::size_t) {
        ++calls;
        if (b == 3 || b == 7) throw InvalidArgument("block " + std::to_string(b));
      });
      FAIL("no exception");
    } catch (const InvalidArgument& e) {
      CHECK(std::string(e.what()) == "block 3");
    }
    CHECK(calls.load() < 100);  // later blocks are not started once one failed
    CHECK(fill(pool, 1000, threads, 10) == reference(1000));  // the pool still works
  }
}

TEST_CASE("parallel_for: nested calls finish with the same results, even with every worker busy", "[parallel][nested]") {
  const std::size_t outer = 16;
  const std::size_t inner = 2000;
  std::vector<std::uint64_t> ref(outer * inner);
  for (std::size_t i = 0; i < ref.size(); ++i) ref[i] = mix(i);
  for (int pool_size : {0, 1, 2}) {
    ThreadPool pool(pool_size);
    for (int threads : {1, 2, 4}) {
      std::vector<std::uint64_t> out(outer * inner, 0);
      parallel_for(pool, outer, threads, 1, [&](std::size_t o0, std::size_t o1) {
        for (std::size_t o = o0; o < o1; ++o) {
          parallel_for(pool, inner, threads, 100, [&](std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) out[o * inner + i] = mix(o * inner + i);
          });
        }
      });
      CHECK(out == ref);
    }
  }
  // On the default pool too, and an exception from a nested call reaches the outermost caller.
  CHECK_THROWS_WITH(parallel_for(8, 4, 1,
                                 [&](std::size_t o, std::size_t) {
                                   parallel_for(100, 4, 10, [&](std::size_t b, std::size_t) {
                                     if (o == 5 && b == 50) throw InvalidArgument("inner 5/50");
                                   });
                                 }),
                    "inner 5/50");
}

TEST_CASE("parallel_for: concurrent calls from several threads share the pool", "[parallel]") {
  ThreadPool pool(2);
  const auto ref = reference(20000);
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) {
        if (fill(pool, 20000, 1 + t, 50 + static_cast<std::size_t>(rep)) == ref) ++ok;
      }
    });
  }
  for (auto& c : callers) c.join();
  CHECK(ok.load() == 20);
}

TEST_CASE("parallel_for: an injected executor runs the helpers", "[parallel][executor]") {
  const auto ref = reference(30000);
  {
    SpawningExecutor ex(3);
    CHECK(fill(ex, 30000, 4, 100) == ref);
    CHECK(ex.tasks.load() == 3);  // caller + 3 helpers
    CHECK(fill(ex, 30000, 2, 100) == ref);
    CHECK(ex.tasks.load() == 4);
  }
  {
    auto ex = std::make_shared<SpawningExecutor>(1);
    set_default_executor(ex);
    CHECK(default_executor().get() == ex.get());
    std::vector<std::uint64_t> out(30000);
    parallel_for(out.size(), 8, 100, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) out[i] = mix(i);
    });
    set_default_executor(nullptr);
    CHECK(out == ref);
    CHECK(ex->tasks.load() == 1);  // capped by its concurrency
    CHECK(default_executor().get() == &default_thread_pool());
  }
  RefusingExecutor refusing;  // an executor that throws: the caller does all the work
  CHECK(fill(refusing, 30000, 4, 100) == ref);
  CHECK(refusing.refused == 1);
}

TEST_CASE("parallel_for: progress is reported on the caller, ends at (n, n)", "[parallel][progress]") {
  ThreadPool pool(2);
  for (int threads : {1, 3}) {
    std::vector<std::pair<std::size_t, std::size_t>> seen;
    const auto caller = std::this_thread::get_id();
    bool other_thread = false;
    parallel_for(
        pool, 1000, threads, 10, [](std::size_t, std::size_t) { std::this_thread::sleep_for(std::chrono::microseconds(50)); },
        [&](std::size_t d, std::size_t t) {
          if (std::this_thread::get_id() != caller) other_thread = true;
          seen.emplace_back(d, t);
        });
    CHECK_FALSE(other_thread);
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.back() == std::make_pair(std::size_t{1000}, std::size_t{1000}));
    for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i].first >= seen[i - 1].first);
  }
}

TEST_CASE("default pool: sized to hardware threads - 1, resizable", "[parallel][pool]") {
  const int before = default_thread_pool().size();
  CHECK(before == resolve_threads(0) - 1);
  set_default_pool_size(3);
  CHECK(default_thread_pool().size() == 3);
  std::vector<std::uint64_t> out(9000);
  parallel_for(out.size(), 4, 10, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) out[i] = mix(i);
  });
  CHECK(out == reference(9000));
  set_default_pool_size(-1);
  CHECK(default_thread_pool().size() == before);
}

#if defined(__unix__)
TEST_CASE("ThreadPool: after fork() the child starts its own workers", "[parallel][pool]") {
  ThreadPool pool(2);
  REQUIRE(fill(pool, 5000, 3, 7) == reference(5000));  // the parent's workers are running
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // the child: three participants must meet, so the workers exist here too
    Gate gate;
    std::atomic<int> met{0};
    parallel_for(pool, 3, 3, 1, [&](std::size_t, std::size_t) {
      if (gate.arrive_and_wait(3, std::chrono::seconds(20))) ++met;
    });
    const bool ok = met.load() == 3 && fill(pool, 5000, 3, 7) == reference(5000);
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(fill(pool, 5000, 3, 7) == reference(5000));  // and the parent's pool still works
}
#endif
