/// @file cuda_error.hpp
/// Internal: the bridge from CUDA translation units (which do not include fmt) to protege::CudaError.
#pragma once

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

/// Throws protege::CudaError("EXPR failed: NAME (MESSAGE) at FILE:LINE").
[[noreturn]] PROTEGE_API void throw_cuda_error(const char* expr, const char* error_name, const char* error_string,
                                               const char* file, int line);

}  // namespace detail
PROTEGE_NAMESPACE_END
