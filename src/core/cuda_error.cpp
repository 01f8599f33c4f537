#include "protege/detail/cuda_error.hpp"

#include "protege/error.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace detail {

void throw_cuda_error(const char* expr, const char* error_name, const char* error_string, const char* file,
                      int line) {
  throw CudaError(fmt::format("{} failed: {} ({}) at {}:{}", expr, error_name, error_string, file, line));
}

}  // namespace detail
PROTEGE_NAMESPACE_END
