/// @file output.hpp
/// Safe output files shared by every command: one writer, one set of rules.
///
/// - **Atomic replacement.** A regular-file output is written to a temporary file in the same
///   folder, named `.NAME.protege-tmp-PID` (recognisable, hidden), fsynced and renamed over
///   NAME, then the folder is fsynced. A writer destroyed without commit() removes its temporary
///   file; temporary files of the same output left by a killed process (whose PID no longer
///   runs) are removed by the next writer of that output.
/// - **Never over an input.** An output that is the same file (same device and inode) as one of
///   the inputs given, or whose temporary would land there, is refused before anything is written.
/// - **Symbolic links are written through**: the link is kept and its final target is replaced
///   (atomically, in the target's folder).
/// - **Devices and FIFOs are written directly** (no temporary, no rename): `-o /dev/null`,
///   `-o /dev/stdout`, a named pipe. `/dev/full` therefore reports "No space left on device".
///   Sockets (a standard output that is one) are written directly too; block devices and
///   directories are refused.
/// - **Missing folders are created** (like `mkdir -p`, modes 0777 & ~umask).
/// - **File modes** are 0666 & ~umask, as for any file a program creates.
/// - **Errors** (IoError) name the path and the system's reason (strerror(errno)).
/// - **Several files as one result** (OutputSet): every temporary is written first; then they are
///   renamed in the order they were added, the manifest last, and the manifest records each
///   other file's XXH64 hash and size, so a reader can always tell a complete set.
///
/// Thread safety: a writer is used by one thread at a time; distinct writers are independent.
#pragma once

#include <cstddef>   // for std::size_t
#include <cstdint>   // for std::uint64_t
#include <memory>    // for std::unique_ptr
#include <ostream>   // for std::ostream
#include <string>    // for std::string
#include <string_view>
#include <vector>    // for std::vector

#include <nlohmann/json.hpp>  // for nlohmann::json

#include "protege/config.hpp"
#include "protege/error.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace io {

/// Where and how an output path is written.
struct OutputTarget {
  std::string requested;  ///< the path as given
  std::string path;       ///< the file actually written: `requested` with symbolic links followed
  bool direct = false;    ///< a character device or FIFO: written in place, no temporary file
  bool exists = false;    ///< `path` exists already
};

/// Resolves `path` for writing and applies the rules above: follows symbolic links, classifies
/// devices, FIFOs and sockets, refuses directories and block devices, and refuses a path that is
/// the same file as one of `inputs` (inputs that do not exist are ignored).
/// @throws InvalidArgument for a refused path (the message names it and why)
/// @throws IoError when the path cannot be examined
[[nodiscard]] PROTEGE_API OutputTarget resolve_output(const std::string& path,
                                                      const std::vector<std::string>& inputs = {});

/// Throws InvalidArgument when `output` is the same file (device and inode, symbolic links
/// followed) as one of `inputs`; `output` and inputs that do not exist pass.
PROTEGE_API void check_not_input(const std::string& output, const std::vector<std::string>& inputs);

/// The temporary file name for `path`: `DIR/.NAME.protege-tmp-PID`.
[[nodiscard]] PROTEGE_API std::string temp_path_for(const std::string& path, long pid);

/// Removes `DIR/.NAME.protege-tmp-PID` files of `path` whose process no longer runs; returns how
/// many were removed. Errors are ignored (cleaning is best effort).
PROTEGE_API std::size_t remove_stale_temps(const std::string& path);

/// Counts numbers that could not be written as JSON (NaN, ±inf) and were written as `null`.
/// Serialising with dump_line() adds to it.
struct NumberReport {
  std::uint64_t non_finite = 0;  ///< numbers replaced by null
};

/// One compact JSON line (no newline): keys sorted, UTF-8 kept, invalid UTF-8 replaced by
/// U+FFFD, non-finite numbers written as `null` and counted in `report` (when given).
[[nodiscard]] PROTEGE_API std::string dump_line(const nlohmann::json& value, NumberReport* report = nullptr);

/// Writes one output file safely (see the file comment). Not thread-safe.
class PROTEGE_API AtomicWriter {
 public:
  /// Resolves and checks `path` against `inputs`, creates missing folders, removes stale
  /// temporaries of this output and opens the temporary (or the device) for writing.
  /// @throws InvalidArgument for a refused path, IoError naming the path and reason otherwise.
  explicit AtomicWriter(std::string path, const std::vector<std::string>& inputs = {});
  ~AtomicWriter();
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  /// The stream to write to (buffered; a failed write is reported by the next flush or commit).
  std::ostream& stream() noexcept;
  /// Appends dump_line(value) and a newline; non-finite numbers are counted in numbers().
  void write_line(const nlohmann::json& value);
  /// Appends raw bytes.
  void write(std::string_view bytes);
  /// Flushes and starts writing to the storage device without waiting (Linux:
  /// sync_file_range; a no-op elsewhere and for devices). @throws IoError naming path and reason.
  void start_writeback();
  /// Flushes and fsyncs the temporary file without renaming it. @throws IoError.
  void finish();
  /// Renames the finished temporary into place and fsyncs the folder (finish() first when not
  /// done). For a device or FIFO: flushes. @throws IoError naming both paths and the reason.
  void commit();
  /// The final path as given.
  [[nodiscard]] const std::string& path() const noexcept;
  /// The file written in the end (symbolic links followed).
  [[nodiscard]] const std::string& target() const noexcept;
  /// The temporary file ("" for a device or FIFO).
  [[nodiscard]] const std::string& temp_path() const noexcept;
  /// Non-finite numbers written as null by write_line().
  [[nodiscard]] const NumberReport& numbers() const noexcept;
  /// Bytes written so far.
  [[nodiscard]] std::uint64_t bytes() const noexcept;
  /// XXH64 (as io::hash_bytes) of the bytes written so far and flushed (all of them after finish()).
  [[nodiscard]] std::string content_hash() const;
  /// True for a character device or FIFO written in place.
  [[nodiscard]] bool direct() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Several output files committed as one result: add() each file, write to the writers, then
/// commit(manifest). Nothing is renamed until every temporary is complete; then the files are
/// renamed in the order they were added and the manifest (`MANIFEST_PATH`) last, with
/// `manifest["files"]` listing each other file's name, XXH64 hash and size. A set destroyed
/// before commit() removes every temporary. Not thread-safe.
class PROTEGE_API OutputSet {
 public:
  /// @param inputs files no output may be (checked for every path added, before writing).
  explicit OutputSet(std::vector<std::string> inputs = {});
  ~OutputSet();
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;

  /// Checks every path (outputs distinct from each other and from the inputs) before any is
  /// opened. Optional: add() checks each path too.
  void check(const std::vector<std::string>& paths) const;
  /// Opens the writer of `path` (see AtomicWriter). @throws as AtomicWriter.
  AtomicWriter& add(const std::string& path);
  /// Finishes every file, writes the manifest to `manifest_path` with a "files" entry, and renames
  /// all into place (manifest last). @throws IoError; before the first rename nothing is replaced.
  void commit(const std::string& manifest_path, nlohmann::json manifest);
  /// Finishes every file, then renames them in the order added (no manifest). @throws IoError.
  void commit_without_manifest();

 private:
  std::vector<std::string> inputs_;
  std::vector<std::unique_ptr<AtomicWriter>> writers_;
};

/// Writes `manifest` as pretty JSON to `PATH.manifest.json` atomically (a single file; prefer
/// OutputSet for a result of several files).
PROTEGE_API void write_manifest(const std::string& output_path, const nlohmann::json& manifest);

}  // namespace io
PROTEGE_NAMESPACE_END
