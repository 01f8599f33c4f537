/// @file parallel.hpp
/// Data-parallel helpers shared by the CPU modules: a blocking parallel_for over index ranges that
/// runs on one persistent thread pool (or on an executor the embedding application supplies),
/// thread-count resolution and the progress-callback type.
///
/// **Determinism.** Work is split into contiguous blocks by index only, so results written by
/// index are identical for any thread count, pool size or executor.
///
/// **How a call runs.** parallel_for(n, threads, grain, body) cuts [0, n) into blocks of `grain`
/// indices. The calling thread always takes part: it claims blocks itself and, when more than one
/// participant is wanted, hands `participants − 1` helper tasks to the executor (the process-wide
/// ThreadPool unless one was installed with set_default_executor, or the one passed explicitly).
/// Participants = min(resolve_threads(threads), number of blocks, executor concurrency + 1).
/// Each helper claims blocks from the same counter until none are left. The call returns when every
/// block has run and no helper is still inside `body`; a helper task that starts after the blocks
/// are gone returns at once without touching `body` (it only holds the call's shared bookkeeping).
///
/// **Nested calls.** A `body` may call parallel_for again (on a pool thread or not). The nested
/// call's caller drains its own blocks, and waits only for helpers that are actually running one of
/// its blocks, never for a queued task, so nesting cannot deadlock even when every pool thread is
/// busy; the nested call then simply runs with fewer (at worst one) participants. Its results are
/// the same as at top level.
///
/// **Errors.** An exception thrown by `body` is captured per block; no further blocks are started,
/// and after every running block has finished the exception of the lowest failed block is rethrown
/// on the calling thread.
///
/// Thread safety: all functions may be called from any number of threads at once and re-entrantly;
/// `body` must be safe to call concurrently on disjoint ranges. ThreadPool is thread-safe;
/// set_default_executor / set_default_pool_size may race with running calls (a running call keeps
/// the executor it started with).
#pragma once

#include <cstddef>     // for std::size_t
#include <functional>  // for std::function
#include <memory>      // for std::shared_ptr, std::unique_ptr

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN

/// Progress report: `done` units out of `total`. Called from the calling thread only.
using ProgressCallback = std::function<void(std::size_t done, std::size_t total)>;

/// Where parallel_for runs its helper tasks. Implement it to route protege's CPU work onto an
/// application's own threads (a TBB arena, a task system, a fixed set of threads).
///
/// Contract: execute() must run `task` exactly once, eventually, on some thread (it may run it
/// inline before returning); it must not block waiting for other tasks. A task never throws.
/// If execute() itself throws, parallel_for stops handing out helpers and finishes on the calling
/// thread. The executor must outlive every parallel_for call that uses it (the default executor is
/// held by a shared pointer for the duration of each call).
class PROTEGE_API Executor {
 public:
  virtual ~Executor() = default;
  /// Queues or runs one task. May be called from several threads at once.
  virtual void execute(std::function<void()> task) = 0;
  /// How many tasks it can run at the same time (>= 0; 0: none besides the caller). parallel_for
  /// uses at most concurrency() + 1 participants (the caller included).
  [[nodiscard]] virtual int concurrency() const noexcept = 0;
};

/// A fixed set of worker threads taking tasks from one FIFO queue. Workers are started on the
/// first execute() after construction or resize() (so an idle pool holds no threads), and after
/// fork() in the child process (the parent's threads do not exist there).
/// Thread safety: every member may be called from any thread, except that resize() and the
/// destructor must not be called from one of this pool's own tasks (resize() then throws
/// InvalidArgument; destroying it so is undefined).
class PROTEGE_API ThreadPool final : public Executor {
 public:
  /// @param threads worker threads (< 0: resolve_threads(0) − 1, so that the workers plus the
  ///                calling thread of parallel_for use every hardware thread; 0: no workers, every
  ///                parallel_for runs on its caller)
  explicit ThreadPool(int threads = -1);
  /// Finishes the tasks that are running, drops queued ones, joins the workers.
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Queues `task`; it runs on a worker (or is dropped if the pool is destroyed first; with no
  /// workers it runs inline on the caller).
  void execute(std::function<void()> task) override;
  /// The number of workers.
  [[nodiscard]] int concurrency() const noexcept override;
  /// Same as concurrency().
  [[nodiscard]] int size() const noexcept { return concurrency(); }
  /// Changes the number of workers (< 0 as in the constructor). Blocks until the current workers
  /// have finished the task they are running and stopped; queued tasks are kept and run by the new
  /// workers. Running parallel_for calls are not disturbed (their callers keep working meanwhile).
  /// @throws InvalidArgument when called from one of this pool's tasks
  void resize(int threads);

  /// The pool's queue and workers (defined in parallel.cpp; not part of the API).
  struct State;

 private:
  std::unique_ptr<State> state_;
};

/// Number of worker threads to use for a request: `requested` when > 0, else the number of
/// hardware threads (at least 1).
[[nodiscard]] PROTEGE_API int resolve_threads(int requested) noexcept;

/// The process-wide pool parallel_for uses when no executor was installed. Created on first use
/// with ThreadPool(-1) (hardware threads − 1 workers).
[[nodiscard]] PROTEGE_API ThreadPool& default_thread_pool();

/// Resizes default_thread_pool() (< 0: hardware threads − 1). Requests for more `threads` than
/// size() + 1 in parallel_for are capped there. @throws InvalidArgument as ThreadPool::resize
PROTEGE_API void set_default_pool_size(int threads);

/// Installs `executor` as the one parallel_for uses by default (nullptr: back to
/// default_thread_pool()). Calls already running keep the executor they started with.
PROTEGE_API void set_default_executor(std::shared_ptr<Executor> executor);

/// The executor parallel_for uses by default (default_thread_pool() unless one was installed).
[[nodiscard]] PROTEGE_API std::shared_ptr<Executor> default_executor();

/// Runs `body(begin, end)` over [0, n) split into blocks of at most `grain` indices with up to
/// `threads` participants (resolved with resolve_threads; the calling thread is one of them) on
/// default_executor(). Blocks on the caller until all blocks are done. See the file comment for
/// nesting and error semantics.
/// @param n        number of items
/// @param threads  requested participants (<= 0: hardware threads)
/// @param grain    block size in items (>= 1; 0 is taken as 1)
/// @param body     called with half-open ranges; may throw
/// @param progress optional; called on the calling thread with the number of finished items
/// @throws whatever `body` threw first (by block order)
PROTEGE_API void parallel_for(std::size_t n, int threads, std::size_t grain,
                              const std::function<void(std::size_t, std::size_t)>& body,
                              const ProgressCallback& progress = {});

/// As parallel_for above, with helper tasks handed to `executor` instead of the default one.
PROTEGE_API void parallel_for(Executor& executor, std::size_t n, int threads, std::size_t grain,
                              const std::function<void(std::size_t, std::size_t)>& body,
                              const ProgressCallback& progress = {});

PROTEGE_NAMESPACE_END
