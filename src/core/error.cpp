#include "protege/error.hpp"

#include <utility>  // for std::move

PROTEGE_NAMESPACE_BEGIN

namespace {
std::string position_message(const std::string& file, std::int64_t line, std::int64_t column,
                             const std::string& reason) {
  std::string out;
  if (!file.empty()) out += file;
  if (line > 0) {
    out += (out.empty() ? "line " : ":") + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  if (!out.empty()) out += ": ";
  return out + reason;
}
}  // namespace

Error::Error(const std::string& message) : std::runtime_error(message) {}
Error::~Error() = default;

InvalidArgument::InvalidArgument(const std::string& message) : Error(message) {}
InvalidArgument::~InvalidArgument() = default;

ParseError::ParseError(std::string file, std::int64_t line, std::int64_t column,
                       std::string reason)
    : Error(position_message(file, line, column, reason)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      reason_(std::move(reason)) {}
ParseError::~ParseError() = default;

IoError::IoError(const std::string& message) : Error(message) {}
IoError::~IoError() = default;

NotCompiledWithCuda::NotCompiledWithCuda(const std::string& what_needed)
    : Error(what_needed + " needs CUDA, but protege was built without PROTEGE_ENABLE_CUDA") {}
NotCompiledWithCuda::~NotCompiledWithCuda() = default;

CudaError::CudaError(const std::string& message) : Error(message) {}
CudaError::~CudaError() = default;

PROTEGE_NAMESPACE_END
