// Safe output files (protege/io/output.hpp): path resolution and checks, temporaries, atomic
// replacement, direct device writes and multi-file results.
#include "protege/io/output.hpp"

#include <cerrno>      // for errno
#include <csignal>     // for kill
#include <cstring>     // for std::strerror
#include <filesystem>  // for std::filesystem
#include <streambuf>   // for std::streambuf
#include <system_error>
#include <utility>  // for std::move

#include <dirent.h>    // for opendir, readdir
#include <fcntl.h>     // for open
#include <sys/stat.h>  // for stat, lstat
#include <unistd.h>    // for write, fsync, close, getpid, readlink

#include "protege/io/jsonl.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace io {
namespace {

namespace fs = std::filesystem;

std::string reason(int err) { return std::strerror(err); }

std::string parent_dir(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// A streambuf over a file descriptor that keeps the errno of the first failed write and hashes
// every byte written (XXH64), so a multi-file result needs no second pass for its manifest.
class FdBuf : public std::streambuf {
 public:
  FdBuf() : buf_(std::size_t{1} << 20) { setp(buf_.data(), buf_.data() + buf_.size()); }
  void attach(int fd) noexcept { fd_ = fd; }
  [[nodiscard]] int error() const noexcept { return err_; }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return written_ + static_cast<std::uint64_t>(pptr() - pbase()); }
  [[nodiscard]] std::string hash() const { return hash_.hex(); }
  bool drain() {
    const auto n = static_cast<std::size_t>(pptr() - pbase());
    const bool ok = n == 0 || write_all(pbase(), n);
    setp(buf_.data(), buf_.data() + buf_.size());
    return ok;
  }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (static_cast<std::size_t>(n) < buf_.size() / 2) return std::streambuf::xsputn(s, n);
    if (!drain() || !write_all(s, static_cast<std::size_t>(n))) return 0;  // large pieces skip the copy
    return n;
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool write_all(const char* p, std::size_t n) {
    if (err_ != 0) return false;
    hash_.update(std::string_view(p, n));
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        err_ = errno;
        return false;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
      written_ += static_cast<std::uint64_t>(w);
    }
    return true;
  }

  std::vector<char> buf_;
  int fd_ = -1;
  int err_ = 0;
  std::uint64_t written_ = 0;
  StreamHash hash_;
};

bool same_file(const struct stat& a, const struct stat& b) noexcept {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Parses the PID of `.NAME.protege-tmp-PID[-N]`; 0 when the suffix is not one.
long temp_pid(std::string_view suffix) {
  long pid = 0;
  std::size_t i = 0;
  for (; i < suffix.size() && suffix[i] >= '0' && suffix[i] <= '9' && i < 10; ++i) pid = pid * 10 + (suffix[i] - '0');
  if (i == 0 || (i < suffix.size() && suffix[i] != '-')) return 0;
  return pid;
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);  // durability of the rename; EINVAL on some file systems is not an error
  ::close(fd);
}

void visit_numbers(const nlohmann::json& value, NumberReport& report) {
  std::vector<const nlohmann::json*> stack{&value};  // iterative: nesting depth costs no C++ stack
  while (!stack.empty()) {
    const nlohmann::json* v = stack.back();
    stack.pop_back();
    if (v->is_number_float()) {
      const double d = v->get<double>();
      if (d != d || d - d != 0.0) ++report.non_finite;  // NaN or ±inf
    } else if (v->is_structured()) {
      for (const auto& child : *v) stack.push_back(&child);
    }
  }
}

}  // namespace

void check_not_input(const std::string& output, const std::vector<std::string>& inputs) {
  struct stat out {};
  if (::stat(output.c_str(), &out) != 0 || !S_ISREG(out.st_mode)) return;  // devices and new files pass
  for (const std::string& input : inputs) {
    struct stat in {};
    if (input.empty() || ::stat(input.c_str(), &in) != 0) continue;
    if (same_file(out, in)) {
      throw InvalidArgument(fmt::format("output {} is the input {} (the same file): write the output to another path",
                                        output, input));
    }
  }
}

OutputTarget resolve_output(const std::string& path, const std::vector<std::string>& inputs) {
  if (path.empty()) throw InvalidArgument("output path is empty");
  OutputTarget t;
  t.requested = path;
  struct stat fst {};
  if (::stat(path.c_str(), &fst) == 0 && !S_ISREG(fst.st_mode)) {
    // Not a regular file (links followed): written in place through the path as given, which
    // keeps names like /dev/stdout -> /proc/self/fd/1 -> pipe:[N] working.
    const char* refused = S_ISDIR(fst.st_mode) ? "a directory" : S_ISBLK(fst.st_mode) ? "a block device" : nullptr;
    if (refused != nullptr) {
      throw InvalidArgument(fmt::format(
          "output {} is {}: protege writes regular files, character devices (/dev/null) and FIFOs", path, refused));
    }
    t.exists = true;
    t.direct = true;  // character device, FIFO or socket
    t.path = path;
    return t;
  }
  std::string p = path;
  for (int hops = 0;; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) break;
      throw IoError(fmt::format("cannot examine output {}: {}", p, reason(errno)));
    }
    if (S_ISLNK(st.st_mode)) {
      if (hops >= 40) throw InvalidArgument(fmt::format("output {}: too many levels of symbolic links", path));
      std::vector<char> buf(4096);
      const ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size() - 1);
      if (n < 0) throw IoError(fmt::format("cannot read the symbolic link {}: {}", p, reason(errno)));
      const fs::path link(std::string(buf.data(), static_cast<std::size_t>(n)));
      p = link.is_absolute() ? link.string() : (fs::path(p).parent_path() / link).lexically_normal().string();
      continue;
    }
    t.exists = true;  // a regular file (anything else was handled above)
    break;
  }
  t.path = p;
  check_not_input(t.path, inputs);
  return t;
}

std::string temp_path_for(const std::string& path, long pid) {
  const fs::path p(path);
  return (p.parent_path() / fmt::format(".{}.protege-tmp-{}", p.filename().string(), pid)).string();
}

std::size_t remove_stale_temps(const std::string& path) {
  const std::string dir = parent_dir(path);
  const std::string prefix = fmt::format(".{}.protege-tmp-", fs::path(path).filename().string());
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  std::size_t removed = 0;
  const long self = static_cast<long>(::getpid());
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) continue;
    const long pid = temp_pid(name.substr(prefix.size()));
    if (pid <= 0 || pid == self) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // that writer still runs
    if (::unlink((fs::path(dir) / std::string(name)).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

std::string dump_line(const nlohmann::json& value, NumberReport* report) {
  if (report != nullptr) visit_numbers(value, *report);
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct AtomicWriter::Impl {
  std::string path;
  OutputTarget target;
  std::string tmp;
  int fd = -1;
  FdBuf buf;
  std::ostream out{&buf};
  NumberReport numbers;
  bool finished = false;
  bool committed = false;
  int sync_fd = -1;

  [[noreturn]] void write_failed() const {
    const int err = buf.error() != 0 ? buf.error() : EIO;
    throw IoError(fmt::format("cannot write {}: {}", target.path, reason(err)));
  }
};

AtomicWriter::AtomicWriter(std::string path, const std::vector<std::string>& inputs) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = std::move(path);
  m.target = resolve_output(m.path, inputs);
  if (m.target.direct) {
    m.fd = ::open(m.target.path.c_str(), O_WRONLY | O_CLOEXEC);
    if (m.fd < 0) throw IoError(fmt::format("cannot open {} for writing: {}", m.target.path, reason(errno)));
  } else {
    const std::string dir = parent_dir(m.target.path);
    std::error_code ec;
    fs::create_directories(dir, ec);  // like mkdir -p; an existing folder is no error
    if (ec) throw IoError(fmt::format("cannot create the output folder {}: {}", dir, ec.message()));
    (void)remove_stale_temps(m.target.path);
    const long pid = static_cast<long>(::getpid());
    for (int attempt = 0; m.fd < 0; ++attempt) {
      m.tmp = temp_path_for(m.target.path, pid);
      if (attempt > 0) m.tmp += fmt::format("-{}", attempt);  // another writer of this output in this process
      m.fd = ::open(m.tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);  // mode 0666 & ~umask
      if (m.fd < 0 && (errno != EEXIST || attempt > 1000)) {
        throw IoError(fmt::format("cannot create {} (for {}): {}", m.tmp, m.target.path, reason(errno)));
      }
    }
  }
  m.buf.attach(m.fd);
}

AtomicWriter::~AtomicWriter() {
  Impl& m = *impl_;
  if (m.sync_fd >= 0) ::close(m.sync_fd);
  if (m.fd >= 0) ::close(m.fd);
  if (!m.committed && !m.tmp.empty()) ::unlink(m.tmp.c_str());
}

std::ostream& AtomicWriter::stream() noexcept { return impl_->out; }

void AtomicWriter::write_line(const nlohmann::json& value) {
  impl_->out << dump_line(value, &impl_->numbers) << '\n';
}

void AtomicWriter::write(std::string_view bytes) {
  impl_->out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void AtomicWriter::start_writeback() {
  Impl& m = *impl_;
  m.out.flush();
  if (!m.out || m.buf.error() != 0) m.write_failed();
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
  if (!m.target.direct) (void)::sync_file_range(m.fd, 0, 0, SYNC_FILE_RANGE_WRITE);  // advisory
#endif
}

void AtomicWriter::finish() {
  Impl& m = *impl_;
  if (m.finished) return;
  m.out.flush();
  if (!m.out || m.buf.error() != 0) m.write_failed();
  if (!m.target.direct && ::fsync(m.fd) != 0) {
    throw IoError(fmt::format("cannot write {} (fsync): {}", m.target.path, reason(errno)));
  }
  const int fd = m.fd;
  m.fd = -1;
  if (::close(fd) != 0 && !m.target.direct) {
    throw IoError(fmt::format("cannot write {} (close): {}", m.target.path, reason(errno)));
  }
  m.finished = true;
}

void AtomicWriter::commit() {
  Impl& m = *impl_;
  finish();
  if (m.committed) return;
  if (!m.target.direct) {
    if (std::rename(m.tmp.c_str(), m.target.path.c_str()) != 0) {
      throw IoError(fmt::format("cannot rename {} to {}: {}", m.tmp, m.target.path, reason(errno)));
    }
    fsync_dir(parent_dir(m.target.path));
  }
  m.committed = true;
}

const std::string& AtomicWriter::path() const noexcept { return impl_->path; }
const std::string& AtomicWriter::target() const noexcept { return impl_->target.path; }
const std::string& AtomicWriter::temp_path() const noexcept { return impl_->tmp; }
const NumberReport& AtomicWriter::numbers() const noexcept { return impl_->numbers; }
std::uint64_t AtomicWriter::bytes() const noexcept { return impl_->buf.bytes(); }
std::string AtomicWriter::content_hash() const { return impl_->buf.hash(); }
bool AtomicWriter::direct() const noexcept { return impl_->target.direct; }

OutputSet::OutputSet(std::vector<std::string> inputs) : inputs_(std::move(inputs)) {}
OutputSet::~OutputSet() = default;

namespace {
// One spelling per file for comparing targets: absolute, "." and ".." removed.
std::string canonical_name(const std::string& path) { return fs::absolute(fs::path(path)).lexically_normal().string(); }
}  // namespace

void OutputSet::check(const std::vector<std::string>& paths) const {
  std::vector<std::string> targets;
  for (const std::string& p : paths) {
    const std::string name = canonical_name(resolve_output(p, inputs_).path);
    for (const std::string& seen : targets) {
      if (seen == name) throw InvalidArgument(fmt::format("output {} is named twice in one result", p));
    }
    targets.push_back(name);
  }
}

AtomicWriter& OutputSet::add(const std::string& path) {
  const std::string name = canonical_name(resolve_output(path, inputs_).path);
  for (const auto& w : writers_) {
    if (canonical_name(w->target()) == name) {
      throw InvalidArgument(fmt::format("output {} is named twice in one result", path));
    }
  }
  writers_.push_back(std::make_unique<AtomicWriter>(path, inputs_));
  return *writers_.back();
}

void OutputSet::commit(const std::string& manifest_path, nlohmann::json manifest) {
  std::vector<std::string> all_inputs = inputs_;
  for (const auto& w : writers_) all_inputs.push_back(w->target());
  AtomicWriter mw(manifest_path, all_inputs);  // the manifest may not be one of the files it lists
  const fs::path base = fs::absolute(fs::path(manifest_path)).parent_path();
  nlohmann::json files = nlohmann::json::array();
  for (const auto& w : writers_) {
    w->finish();
    const fs::path abs = fs::absolute(fs::path(w->path()));
    std::string name = abs.lexically_relative(base).string();
    if (name.empty() || name.rfind("..", 0) == 0) name = w->path();
    files.push_back({{"path", name}, {"bytes", w->bytes()}, {"xxh64", w->direct() ? nlohmann::json() : nlohmann::json(w->content_hash())}});
  }
  manifest["files"] = std::move(files);
  mw.stream() << manifest.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  mw.finish();
  for (const auto& w : writers_) w->commit();  // in the order added; the manifest last
  mw.commit();
}

void OutputSet::commit_without_manifest() {
  for (const auto& w : writers_) w->finish();
  for (const auto& w : writers_) w->commit();
}

void write_manifest(const std::string& output_path, const nlohmann::json& manifest) {
  AtomicWriter w(output_path + ".manifest.json");
  w.stream() << manifest.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  w.commit();
}

}  // namespace io
PROTEGE_NAMESPACE_END
