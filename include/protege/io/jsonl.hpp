/// @file jsonl.hpp
/// JSON Lines input and atomic output shared by every module: a reader with an error policy
/// (`strict` throws ParseError with file:line:column, `skip` counts and keeps the first errors),
/// field accessors whose errors name the field, and content hashes for manifests. Output files are
/// written with io::AtomicWriter / io::OutputSet (protege/io/output.hpp).
///
/// Thread safety: free functions are reentrant. AtomicWriter is not thread-safe.
#pragma once

#include <cstddef>     // for std::size_t
#include <cstdint>     // for std::int64_t
#include <functional>  // for std::function
#include <string>      // for std::string
#include <string_view> // for std::string_view
#include <vector>      // for std::vector

#include <nlohmann/json.hpp>  // for nlohmann::json

#include "protege/config.hpp"
#include "protege/error.hpp"
#include "protege/io/output.hpp"  // AtomicWriter, OutputSet, write_manifest (kept reachable from here)

PROTEGE_NAMESPACE_BEGIN
namespace io {

/// What to do with a malformed line.
enum class OnError : std::uint8_t {
  strict = 0,  ///< throw ParseError naming file:line:column and the reason
  skip = 1,    ///< count it, keep the first `max_errors_kept` in the report, go on
};

/// "strict" or "skip"; anything else throws InvalidArgument naming the allowed values.
[[nodiscard]] PROTEGE_API OnError parse_on_error(std::string_view name);

/// One skipped line.
struct LineError {
  std::string file;         ///< source name
  std::int64_t line = 0;    ///< 1-based line
  std::int64_t column = 0;  ///< 1-based byte column, 0 when the whole record is at fault
  std::string reason;       ///< e.g. `field "completions": expected array, got string`
};

/// Errors met while reading in `skip` mode.
struct ErrorReport {
  std::size_t count = 0;         ///< number of skipped lines
  std::vector<LineError> first;  ///< the first skipped lines (at most the reader's max_errors_kept)
};

/// Reader options.
struct ReadOptions {
  OnError on_error = OnError::strict;        ///< policy for malformed lines
  std::size_t max_errors_kept = 100;         ///< how many LineErrors the report keeps
  std::size_t max_line_bytes = std::size_t{1} << 30;  ///< longer lines are errors (default 1 GiB)
  /// Lines whose arrays/objects nest deeper are errors (0: no limit). Bounds the stack any
  /// recursive consumer (serialisation, conversion to Python objects) needs.
  std::size_t max_depth = 512;
};

/// Thrown by record handlers (and the field accessors below) for a well-formed JSON line whose
/// content is wrong; the reader turns it into a ParseError / LineError with the line number.
class PROTEGE_API RecordError : public InvalidArgument {
 public:
  /// @param reason e.g. `field "gold": expected string, got number`
  explicit RecordError(const std::string& reason);
  ~RecordError() override;
  RecordError(const RecordError&) = default;
  RecordError& operator=(const RecordError&) = default;
};

/// Handler called for each JSON object line: the parsed object and its 1-based line number.
using RecordHandler = std::function<void(nlohmann::json& record, std::int64_t line)>;

/// Reads a JSONL file. Blank lines are skipped; each other line must be a JSON object.
/// @throws IoError when the file cannot be opened or read
/// @throws ParseError (strict mode) at the first malformed line or RecordError from `handler`
/// @return the errors met in skip mode (count 0 in strict mode)
PROTEGE_API ErrorReport read_jsonl(const std::string& path, const RecordHandler& handler,
                                   const ReadOptions& options = {});

/// As read_jsonl over in-memory text; `name` is used in messages.
PROTEGE_API ErrorReport read_jsonl_text(std::string_view text, const std::string& name,
                                        const RecordHandler& handler, const ReadOptions& options = {});

/// "string", "number", "array", "object", "boolean" or "null".
[[nodiscard]] PROTEGE_API std::string_view json_type_name(const nlohmann::json& value) noexcept;

/// The string field `name`; throws RecordError when missing (unless `optional`, then "") or not a
/// string.
[[nodiscard]] PROTEGE_API std::string get_string(const nlohmann::json& record, std::string_view name,
                                                 bool optional = false);

/// Throws RecordError `field "NAME": expected EXPECTED, got TYPE`.
[[noreturn]] PROTEGE_API void field_type_error(std::string_view name, std::string_view expected,
                                               const nlohmann::json& actual);

/// XXH64 (xxHash, 64-bit, seed 0) of a file's bytes, as 16 hex digits (for manifests): a
/// published, platform-independent hash, about 20x faster than byte-wise FNV-1a. O(size).
/// @throws IoError.
[[nodiscard]] PROTEGE_API std::string file_hash(const std::string& path);

/// XXH64 (seed 0) of `data` as 16 hex digits; file_hash() of a file with these bytes. O(size).
[[nodiscard]] PROTEGE_API std::string hash_bytes(std::string_view data);

/// XXH64 (seed 0) of data given in pieces: hex() is hash_bytes() of their concatenation, so a
/// reader can hash a file while it reads it. Not thread-safe (one per stream). O(bytes).
class PROTEGE_API StreamHash {
 public:
  /// Hashes the next bytes.
  void update(std::string_view data) noexcept;
  /// The hash of everything so far, as 16 hex digits.
  [[nodiscard]] std::string hex() const;

 private:
  std::uint64_t v_[4] = {0x9E3779B185EBCA87ULL + 0xC2B2AE3D27D4EB4FULL, 0xC2B2AE3D27D4EB4FULL, 0,
                         0 - 0x9E3779B185EBCA87ULL};  // the XXH64 seeds of the four lanes
  unsigned char buf_[32] = {};
  std::size_t fill_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace io
PROTEGE_NAMESPACE_END
