/// @file parallel.hpp
/// Data-parallel helpers shared by the CPU modules: a blocking parallel_for over index ranges,
/// thread-count resolution and the progress-callback type.
///
/// Work is split into contiguous blocks by index only, so results written by index are identical
/// for any thread count. An exception thrown by any worker is captured and the first one (lowest
/// block) is rethrown on the calling thread after all workers have stopped.
///
/// Thread safety: the functions are reentrant; `body` must be safe to call concurrently on
/// disjoint ranges.
#pragma once

#include <cstddef>     // for std::size_t
#include <functional>  // for std::function

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN

/// Progress report: `done` units out of `total`. Called from the calling thread only.
using ProgressCallback = std::function<void(std::size_t done, std::size_t total)>;

/// Number of worker threads to use for a request: `requested` when > 0, else the number of
/// hardware threads (at least 1).
[[nodiscard]] PROTEGE_API int resolve_threads(int requested) noexcept;

/// Runs `body(begin, end)` over [0, n) split into blocks of at most `grain` indices on up to
/// `threads` threads (resolved with resolve_threads). Blocks on the caller until all finish.
/// @param n        number of items
/// @param threads  requested threads (<= 0: hardware threads)
/// @param grain    block size in items (>= 1)
/// @param body     called with half-open ranges; may throw
/// @param progress optional; called on the calling thread with the number of finished items
/// @throws whatever `body` threw first (by block order)
PROTEGE_API void parallel_for(std::size_t n, int threads, std::size_t grain,
                              const std::function<void(std::size_t, std::size_t)>& body,
                              const ProgressCallback& progress = {});

PROTEGE_NAMESPACE_END
