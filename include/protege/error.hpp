/// @file error.hpp
/// The protege error hierarchy and the PROTEGE_CHECK macro.
///
/// Every error protege raises on bad input derives from protege::Error (itself a
/// std::runtime_error). Library code never calls exit() or abort() on user error.
///
/// | class                 | raised when                                             | Python class               |
/// |-----------------------|---------------------------------------------------------|----------------------------|
/// | InvalidArgument       | an argument or option is out of its domain              | protege.InvalidArgument (ValueError) |
/// | ParseError            | a file or string cannot be parsed (has file/line/column) | protege.ParseError (ValueError)      |
/// | IoError               | a file cannot be opened, read, written or renamed        | protege.IoError (OSError)            |
/// | NotCompiledWithCuda   | a CUDA path is requested from a CPU-only build           | protege.NotCompiledWithCuda (RuntimeError) |
/// | CudaError             | a CUDA runtime call or kernel launch failed              | protege.CudaError (RuntimeError)     |
///
/// Thread safety: the classes are immutable after construction and safe to share.
#pragma once

#include <cstdint>    // for int64_t
#include <stdexcept>  // for std::runtime_error
#include <string>     // for std::string

#include <fmt/format.h>  // for fmt::format

#include "protege/config.hpp"

PROTEGE_NAMESPACE_BEGIN

/// Root of every exception protege throws on purpose.
class PROTEGE_API Error : public std::runtime_error {
 public:
  /// @param message full human-readable message (already formatted).
  explicit Error(const std::string& message);
  ~Error() override;
  Error(const Error&) = default;
  Error& operator=(const Error&) = default;
};

/// An argument, option or configuration value outside its documented domain.
class PROTEGE_API InvalidArgument : public Error {
 public:
  /// @param message names the argument, the expected value and the actual value.
  explicit InvalidArgument(const std::string& message);
  ~InvalidArgument() override;
  InvalidArgument(const InvalidArgument&) = default;
  InvalidArgument& operator=(const InvalidArgument&) = default;
};

/// Input text that cannot be parsed. Carries the position when there is one.
///
/// what() reads `FILE:LINE:COLUMN: REASON` (missing parts are left out).
class PROTEGE_API ParseError : public Error {
 public:
  /// @param file   source name ("" when parsing a string in memory)
  /// @param line   1-based line, 0 when unknown
  /// @param column 1-based column, 0 when unknown
  /// @param reason what is wrong, e.g. `field "gold": expected string, got number`
  ParseError(std::string file, std::int64_t line, std::int64_t column, std::string reason);
  ~ParseError() override;
  ParseError(const ParseError&) = default;
  ParseError& operator=(const ParseError&) = default;

  /// Source name, "" for in-memory text.
  [[nodiscard]] const std::string& file() const noexcept { return file_; }
  /// 1-based line, 0 when unknown.
  [[nodiscard]] std::int64_t line() const noexcept { return line_; }
  /// 1-based column, 0 when unknown.
  [[nodiscard]] std::int64_t column() const noexcept { return column_; }
  /// The reason without the position prefix.
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  std::string file_;
  std::int64_t line_;
  std::int64_t column_;
  std::string reason_;
};

/// A file that cannot be opened, read, written or atomically renamed.
class PROTEGE_API IoError : public Error {
 public:
  /// @param message names the path and the operating-system reason.
  explicit IoError(const std::string& message);
  ~IoError() override;
  IoError(const IoError&) = default;
  IoError& operator=(const IoError&) = default;
};

/// A CUDA code path was requested from a build configured without PROTEGE_ENABLE_CUDA.
class PROTEGE_API NotCompiledWithCuda : public Error {
 public:
  /// @param what_needed the feature that needs CUDA.
  explicit NotCompiledWithCuda(const std::string& what_needed);
  ~NotCompiledWithCuda() override;
  NotCompiledWithCuda(const NotCompiledWithCuda&) = default;
  NotCompiledWithCuda& operator=(const NotCompiledWithCuda&) = default;
};

/// A CUDA runtime call or kernel launch returned an error.
class PROTEGE_API CudaError : public Error {
 public:
  /// @param message the failing call, the CUDA error name and string, file:line.
  explicit CudaError(const std::string& message);
  ~CudaError() override;
  CudaError(const CudaError&) = default;
  CudaError& operator=(const CudaError&) = default;
};

PROTEGE_NAMESPACE_END

/// Throws protege::InvalidArgument with "check `COND` failed: MESSAGE" when COND is false.
/// The message is a fmt format string followed by its arguments.
#define PROTEGE_CHECK(cond, ...)                                                         \
  do {                                                                                   \
    if (!(cond)) [[unlikely]] {                                                          \
      throw ::protege::InvalidArgument(                                                  \
          ::fmt::format("check `{}` failed: {}", #cond, ::fmt::format(__VA_ARGS__)));    \
    }                                                                                    \
  } while (false)

/// Internal invariant: throws protege::Error naming file and line. For bugs, not user input.
#define PROTEGE_ASSERT(cond)                                                                  \
  do {                                                                                        \
    if (!(cond)) [[unlikely]] {                                                               \
      throw ::protege::Error(                                                                 \
          ::fmt::format("internal error: `{}` failed at {}:{}", #cond, __FILE__, __LINE__));  \
    }                                                                                         \
  } while (false)
