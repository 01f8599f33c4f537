#include "protege/parallel.hpp"

#include <algorithm>           // for std::min, std::max
#include <atomic>              // for std::atomic
#include <chrono>              // for std::chrono::milliseconds
#include <condition_variable>  // for std::condition_variable
#include <deque>               // for std::deque
#include <exception>           // for std::exception_ptr
#include <mutex>               // for std::mutex
#include <new>                 // for placement new
#include <thread>              // for std::thread
#include <unordered_set>       // for std::unordered_set
#include <utility>             // for std::move
#include <vector>              // for std::vector

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>  // for pthread_atfork
#define PROTEGE_HAVE_ATFORK 1
#endif

#include "protege/error.hpp"

PROTEGE_NAMESPACE_BEGIN

int resolve_threads(int requested) noexcept {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// ---------------------------------------------------------------------------------------------
// ThreadPool
// ---------------------------------------------------------------------------------------------
struct ThreadPool::State {
  std::mutex mu;                             // guards everything below
  std::condition_variable cv;                // workers wait here for tasks or stop
  std::deque<std::function<void()>> queue;   // FIFO of tasks
  std::vector<std::thread> workers;          // running workers (empty until the first execute())
  int target = 0;                            // workers wanted
  bool stop = false;                         // workers exit when set
  std::mutex resize_mu;                      // serialises resize() and the destructor

  void worker_loop();
  void start_locked();                       // starts `target` workers; mu held
  void stop_and_join(std::unique_lock<std::mutex>& lock);  // mu held on entry and exit
};

namespace {

thread_local const void* t_current_pool = nullptr;  // the State whose task this thread runs

int pool_size_for(int threads) { return threads >= 0 ? threads : resolve_threads(0) - 1; }

#ifdef PROTEGE_HAVE_ATFORK
// Pools alive in this process, so that fork() leaves the child with consistent, restartable pools:
// before fork every pool's mutex is taken (no other thread holds it at the moment of fork), the
// parent releases them after, and the child releases them and forgets the parent's workers (they
// do not exist in the child; their std::thread objects are leaked, never joined or destroyed).
std::mutex g_registry_mu;
std::unordered_set<ThreadPool::State*>& registry() {
  static auto* set = new std::unordered_set<ThreadPool::State*>();  // outlives static destructors
  return *set;
}
#endif

}  // namespace

#ifdef PROTEGE_HAVE_ATFORK
namespace detail {
struct PoolForkHooks {
  static void prepare() {
    g_registry_mu.lock();
    for (auto* s : registry()) s->mu.lock();
  }
  static void parent() {
    for (auto* s : registry()) s->mu.unlock();
    g_registry_mu.unlock();
  }
  static void child() {
    for (auto* s : registry()) {
      // The parent's workers may be waiting on cv: its internal state counts waiters that do not
      // exist in the child, and signalling it there can block forever. Give the child fresh objects
      // (the old ones are abandoned, never destroyed); resize_mu may have been held by another thread.
      ::new (static_cast<void*>(&s->cv)) std::condition_variable();
      ::new (static_cast<void*>(&s->resize_mu)) std::mutex();
      new std::vector<std::thread>(std::move(s->workers));  // leaked on purpose (see registry())
      s->workers.clear();
      s->queue.clear();  // helpers of calls whose callers exist only in the parent
      s->stop = false;
      s->mu.unlock();
    }
    g_registry_mu.unlock();
  }
  static void install() {
    static const bool once = [] {
      ::pthread_atfork(&prepare, &parent, &child);
      return true;
    }();
    (void)once;
  }
};
}  // namespace detail
#endif

void ThreadPool::State::worker_loop() {
  t_current_pool = this;
  std::unique_lock<std::mutex> lock(mu);
  for (;;) {
    cv.wait(lock, [&] { return stop || !queue.empty(); });
    if (stop) return;
    std::function<void()> task = std::move(queue.front());
    queue.pop_front();
    lock.unlock();
    task();  // tasks never throw (parallel_for's helpers capture exceptions)
    task = nullptr;
    lock.lock();
  }
}

void ThreadPool::State::start_locked() {
  workers.reserve(static_cast<std::size_t>(target));
  while (static_cast<int>(workers.size()) < target) workers.emplace_back([this] { worker_loop(); });
}

void ThreadPool::State::stop_and_join(std::unique_lock<std::mutex>& lock) {
  stop = true;
  cv.notify_all();
  std::vector<std::thread> old = std::move(workers);
  workers.clear();
  lock.unlock();
  for (auto& t : old) t.join();
  lock.lock();
  stop = false;
}

ThreadPool::ThreadPool(int threads) : state_(std::make_unique<State>()) {
  state_->target = pool_size_for(threads);
#ifdef PROTEGE_HAVE_ATFORK
  detail::PoolForkHooks::install();
  std::lock_guard<std::mutex> reg(g_registry_mu);
  registry().insert(state_.get());
#endif
}

ThreadPool::~ThreadPool() {
#ifdef PROTEGE_HAVE_ATFORK
  {
    std::lock_guard<std::mutex> reg(g_registry_mu);
    registry().erase(state_.get());
  }
#endif
  std::lock_guard<std::mutex> serial(state_->resize_mu);
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->queue.clear();
  state_->stop_and_join(lock);
}

void ThreadPool::execute(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->target > 0) {
      if (state_->workers.empty()) state_->start_locked();
      state_->queue.push_back(std::move(task));
      task = nullptr;
    }
  }
  if (task) {
    task();  // no workers: run on the caller
    return;
  }
  state_->cv.notify_one();
}

int ThreadPool::concurrency() const noexcept {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->target;
}

void ThreadPool::resize(int threads) {
  PROTEGE_CHECK(t_current_pool != state_.get(), "ThreadPool::resize: called from one of the pool's own tasks");
  std::lock_guard<std::mutex> serial(state_->resize_mu);
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->stop_and_join(lock);
  state_->target = pool_size_for(threads);
  if (!state_->queue.empty() && state_->target > 0) {
    state_->start_locked();
    state_->cv.notify_all();
  }
  if (state_->target == 0) {  // queued tasks still must run once: on this thread
    std::deque<std::function<void()>> left = std::move(state_->queue);
    state_->queue.clear();
    lock.unlock();
    for (auto& t : left) t();
  }
}

// ---------------------------------------------------------------------------------------------
// default executor
// ---------------------------------------------------------------------------------------------
namespace {

std::mutex g_executor_mu;
std::shared_ptr<Executor> g_executor;  // guarded by g_executor_mu; null: the default pool

}  // namespace

ThreadPool& default_thread_pool() {
  static ThreadPool pool(-1);
  return pool;
}

void set_default_pool_size(int threads) { default_thread_pool().resize(threads); }

void set_default_executor(std::shared_ptr<Executor> executor) {
  std::lock_guard<std::mutex> lock(g_executor_mu);
  g_executor = std::move(executor);
}

std::shared_ptr<Executor> default_executor() {
  {
    std::lock_guard<std::mutex> lock(g_executor_mu);
    if (g_executor) return g_executor;
  }
  return std::shared_ptr<Executor>(std::shared_ptr<Executor>{}, &default_thread_pool());  // non-owning
}

// ---------------------------------------------------------------------------------------------
// parallel_for
// ---------------------------------------------------------------------------------------------
namespace {

using Body = std::function<void(std::size_t, std::size_t)>;

// The bookkeeping of one parallel_for call, shared with its helper tasks (a helper that starts
// after the call returned touches only this, never `body`).
struct Call {
  Call(std::size_t n_, std::size_t grain_, std::size_t blocks_, const Body* body_, bool wake_)
      : n(n_), grain(grain_), blocks(blocks_), body(body_), wake_on_block(wake_), errors(blocks_) {}

  const std::size_t n;
  const std::size_t grain;
  const std::size_t blocks;
  const Body* const body;   // valid while the caller is inside parallel_for
  const bool wake_on_block;  // the caller reports progress: wake it after each block
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done_items{0};
  std::atomic<bool> failed{false};
  std::vector<std::exception_ptr> errors;  // one slot per block, written by its runner only
  std::mutex mu;
  std::condition_variable cv;
  std::size_t in_flight = 0;  // helpers between arrive() and leave(); guarded by mu

  // Claims and runs one block; false when none is left (or a block failed).
  bool run_one() {
    if (failed.load()) return false;
    const std::size_t b = next.fetch_add(1);
    if (b >= blocks) return false;
    const std::size_t begin = b * grain;
    const std::size_t end = std::min(n, begin + grain);
    try {
      (*body)(begin, end);
    } catch (...) {
      errors[b] = std::current_exception();
      failed.store(true);
    }
    done_items.fetch_add(end - begin);
    if (wake_on_block) cv.notify_all();
    return true;
  }

  void helper() {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++in_flight;  // before claiming: the caller waits for every helper that may hold a block
    }
    while (run_one()) {
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      --in_flight;
    }
    cv.notify_all();
  }
};

// Runs nothing besides the caller: parallel_for over it is the serial loop.
class InlineExecutor final : public Executor {
 public:
  void execute(std::function<void()> task) override { task(); }
  [[nodiscard]] int concurrency() const noexcept override { return 0; }
};

void run_serial(std::size_t n, std::size_t grain, std::size_t blocks, const Body& body,
                const ProgressCallback& progress) {
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t begin = b * grain;
    const std::size_t end = std::min(n, begin + grain);
    body(begin, end);
    if (progress) progress(end, n);
  }
}

}  // namespace

void parallel_for(Executor& executor, std::size_t n, int threads, std::size_t grain, const Body& body,
                  const ProgressCallback& progress) {
  if (n == 0) {
    if (progress) progress(0, 0);
    return;
  }
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t blocks = (n + grain - 1) / grain;
  const auto cap = static_cast<std::size_t>(std::max(0, executor.concurrency())) + 1;
  const std::size_t participants =
      std::min({static_cast<std::size_t>(resolve_threads(threads)), blocks, cap});
  if (participants <= 1) {
    run_serial(n, grain, blocks, body, progress);
    return;
  }

  auto call = std::make_shared<Call>(n, grain, blocks, &body, static_cast<bool>(progress));
  for (std::size_t h = 1; h < participants; ++h) {
    try {
      executor.execute([call] { call->helper(); });
    } catch (...) {
      break;  // the executor refused: the caller and the helpers already handed out finish the work
    }
  }

  std::size_t last = static_cast<std::size_t>(-1);
  const auto report = [&] {
    const std::size_t d = call->done_items.load();
    if (d != last) {
      last = d;
      progress(d, n);
    }
  };
  while (call->run_one()) {
    if (progress) report();
  }
  // No block is handed out from here on (and a helper starting later sees none left).
  call->next.fetch_add(blocks);
  {
    std::unique_lock<std::mutex> lock(call->mu);
    while (call->in_flight > 0) {
      if (progress) {
        call->cv.wait_for(lock, std::chrono::milliseconds(100));
        lock.unlock();
        report();
        lock.lock();
      } else {
        call->cv.wait(lock);
      }
    }
  }
  for (auto& e : call->errors) {
    if (e) std::rethrow_exception(e);
  }
  if (progress) progress(n, n);
}

void parallel_for(std::size_t n, int threads, std::size_t grain, const Body& body, const ProgressCallback& progress) {
  if (resolve_threads(threads) <= 1 || n <= std::max<std::size_t>(grain, 1)) {  // one block or one thread:
    InlineExecutor inline_executor;                                              // leave the pool alone
    parallel_for(inline_executor, n, threads, grain, body, progress);
    return;
  }
  const std::shared_ptr<Executor> executor = default_executor();  // kept for the whole call
  parallel_for(*executor, n, threads, grain, body, progress);
}

PROTEGE_NAMESPACE_END
