// CUDA error checking for protege's kernels: every runtime call and launch goes through these
// macros, which turn a failure into protege::CudaError (never exit()).
#pragma once

#include <cuda_runtime.h>

#include "protege/detail/cuda_error.hpp"

#define PROTEGE_CUDA_CHECK(expr)                                                                       \
  do {                                                                                                 \
    const cudaError_t protege_cuda_status_ = (expr);                                                   \
    if (protege_cuda_status_ != cudaSuccess) {                                                         \
      ::protege::detail::throw_cuda_error(#expr, cudaGetErrorName(protege_cuda_status_),               \
                                          cudaGetErrorString(protege_cuda_status_), __FILE__, __LINE__); \
    }                                                                                                  \
  } while (false)

/// Checks the most recent kernel launch.
#define PROTEGE_CUDA_CHECK_LAUNCH() PROTEGE_CUDA_CHECK(cudaGetLastError())
