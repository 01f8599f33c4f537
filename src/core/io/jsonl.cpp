#include "protege/io/jsonl.hpp"

#include <algorithm>  // for std::min
#include <bit>        // for std::endian
#include <cerrno>    // for errno
#include <cstring>   // for std::strerror

#include <fstream>  // for std::ifstream
#include <vector>   // for std::vector

PROTEGE_NAMESPACE_BEGIN
namespace io {

RecordError::RecordError(const std::string& reason) : InvalidArgument(reason) {}
RecordError::~RecordError() = default;

OnError parse_on_error(std::string_view name) {
  if (name == "strict") return OnError::strict;
  if (name == "skip") return OnError::skip;
  throw InvalidArgument(fmt::format("on_error must be \"strict\" or \"skip\", got \"{}\"", name));
}

std::string_view json_type_name(const nlohmann::json& v) noexcept {
  switch (v.type()) {
    case nlohmann::json::value_t::string: return "string";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return "number";
    case nlohmann::json::value_t::array: return "array";
    case nlohmann::json::value_t::object: return "object";
    case nlohmann::json::value_t::boolean: return "boolean";
    default: return "null";
  }
}

void field_type_error(std::string_view name, std::string_view expected, const nlohmann::json& actual) {
  throw RecordError(fmt::format("field \"{}\": expected {}, got {}", name, expected, json_type_name(actual)));
}

std::string get_string(const nlohmann::json& record, std::string_view name, bool optional) {
  const auto it = record.find(name);
  if (it == record.end() || (optional && it->is_null())) {
    if (optional) return {};
    throw RecordError(fmt::format("field \"{}\": missing", name));
  }
  if (!it->is_string()) field_type_error(name, "string", *it);
  return it->get<std::string>();
}

namespace {

class LineProcessor {
 public:
  LineProcessor(const std::string& name, const RecordHandler& handler, const ReadOptions& options)
      : name_(name), handler_(handler), options_(options) {}

  void process(std::string_view line, std::int64_t line_no) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;
    if (line.size() > options_.max_line_bytes) {
      fail(line_no, 0, fmt::format("line is {} bytes, over the limit of {}", line.size(), options_.max_line_bytes));
      return;
    }
    if (options_.max_depth > 0 && line.size() > options_.max_depth) {
      if (const std::size_t at = too_deep(line, options_.max_depth); at != 0) {
        fail(line_no, static_cast<std::int64_t>(at),
             fmt::format("nesting deeper than {} levels", options_.max_depth));
        return;
      }
    }
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line.begin(), line.end());
    } catch (const nlohmann::json::parse_error& e) {
      fail(line_no, static_cast<std::int64_t>(e.byte), clean_parse_message(e.what()));
      return;
    } catch (const nlohmann::json::exception& e) {  // e.g. out_of_range.406: number overflow (1e999)
      fail(line_no, 0, clean_parse_message(e.what()));
      return;
    }
    if (!value.is_object()) {
      fail(line_no, 1, fmt::format("expected a JSON object, got {}", json_type_name(value)));
      return;
    }
    try {
      handler_(value, line_no);
    } catch (const RecordError& e) {
      fail(line_no, 0, e.what());
    }
  }

  ErrorReport take_report() { return std::move(report_); }

 private:
  // The 1-based column of the first '[' or '{' (outside strings) that opens level max_depth + 1,
  // or 0. One pass, no recursion; run only on lines long enough to nest that deep.
  static std::size_t too_deep(std::string_view line, std::size_t max_depth) noexcept {
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (in_string) {
        if (c == '\\') ++i;
        else if (c == '"') in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '[' || c == '{') {
        if (++depth > max_depth) return i + 1;
      } else if ((c == ']' || c == '}') && depth > 0) {
        --depth;
      }
    }
    return 0;
  }

  static std::string clean_parse_message(const char* raw) {
    // nlohmann messages read "[json.exception.parse_error.101] parse error at line 1, column 5: ...".
    // They quote the last bytes read, which may be invalid UTF-8: escape non-ASCII bytes as \xNN so
    // that the message is always valid text (e.g. for Python).
    std::string escaped;
    for (const char* c = raw; *c != '\0'; ++c) {
      const auto b = static_cast<unsigned char>(*c);
      if (b < 0x80) escaped.push_back(*c);
      else escaped += fmt::format("\\x{:02x}", b);
    }
    std::string_view s(escaped);
    const auto pos = s.find(": ");
    const auto tag = s.find("] ");
    if (pos != std::string_view::npos && tag != std::string_view::npos && tag < pos) {
      return "invalid JSON: " + std::string(s.substr(pos + 2));
    }
    return "invalid JSON: " + std::string(s);
  }

  void fail(std::int64_t line, std::int64_t column, const std::string& reason) {
    if (options_.on_error == OnError::strict) throw ParseError(name_, line, column, reason);
    ++report_.count;
    if (report_.first.size() < options_.max_errors_kept) report_.first.push_back({name_, line, column, reason});
  }

  const std::string& name_;
  const RecordHandler& handler_;
  const ReadOptions& options_;
  ErrorReport report_;
};

}  // namespace

ErrorReport read_jsonl_text(std::string_view text, const std::string& name, const RecordHandler& handler,
                            const ReadOptions& options) {
  LineProcessor proc(name, handler, options);
  std::int64_t line_no = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    proc.process(text.substr(start, end - start), ++line_no);
    start = end + 1;
  }
  return proc.take_report();
}

ErrorReport read_jsonl(const std::string& path, const RecordHandler& handler, const ReadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("cannot open {} for reading: {}", path, std::strerror(errno)));
  LineProcessor proc(path, handler, options);
  std::string line;
  std::int64_t line_no = 0;
  while (std::getline(in, line)) proc.process(line, ++line_no);
  if (in.bad()) throw IoError(fmt::format("error while reading {}", path));
  return proc.take_report();
}

namespace {

// XXH64 (the published xxHash 64-bit algorithm, seed 0), streamed over 32-byte stripes.
constexpr std::uint64_t kP1 = 0x9E3779B185EBCA87ULL;
constexpr std::uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
constexpr std::uint64_t kP3 = 0x165667B19E3779F9ULL;
constexpr std::uint64_t kP4 = 0x85EBCA77C2B2AE63ULL;
constexpr std::uint64_t kP5 = 0x27D4EB2F165667C5ULL;

constexpr std::uint64_t rotl64(std::uint64_t x, int r) noexcept { return (x << r) | (x >> (64 - r)); }

std::uint64_t read_le64(const unsigned char* p) noexcept {
  std::uint64_t v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, 8);
  } else {
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  }
  return v;
}

std::uint32_t read_le32(const unsigned char* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

constexpr std::uint64_t xxh_round(std::uint64_t acc, std::uint64_t lane) noexcept {
  return rotl64(acc + lane * kP2, 31) * kP1;
}

constexpr std::uint64_t xxh_merge(std::uint64_t h, std::uint64_t v) noexcept {
  return (h ^ xxh_round(0, v)) * kP1 + kP4;
}

void stripe(std::uint64_t* v, const unsigned char* p) noexcept {
  for (int i = 0; i < 4; ++i) v[i] = xxh_round(v[i], read_le64(p + 8 * i));
}

}  // namespace

void StreamHash::update(std::string_view data) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  total_ += n;
  if (fill_ > 0) {
    const std::size_t take = std::min(n, sizeof buf_ - fill_);
    if (take > 0) std::memcpy(buf_ + fill_, p, take);
    fill_ += take;
    p += take;
    n -= take;
    if (fill_ < sizeof buf_) return;
    stripe(v_, buf_);
    fill_ = 0;
  }
  for (; n >= 32; p += 32, n -= 32) stripe(v_, p);
  if (n > 0) std::memcpy(buf_, p, n);  // p may be null for empty input
  fill_ = n;
}

std::string StreamHash::hex() const {
  std::uint64_t h = 0;
  if (total_ >= 32) {
    h = rotl64(v_[0], 1) + rotl64(v_[1], 7) + rotl64(v_[2], 12) + rotl64(v_[3], 18);
    for (const std::uint64_t v : v_) h = xxh_merge(h, v);
  } else {
    h = kP5;
  }
  h += total_;
  const unsigned char* p = buf_;
  std::size_t n = fill_;
  for (; n >= 8; p += 8, n -= 8) h = rotl64(h ^ xxh_round(0, read_le64(p)), 27) * kP1 + kP4;
  if (n >= 4) {
    h = rotl64(h ^ (static_cast<std::uint64_t>(read_le32(p)) * kP1), 23) * kP2 + kP3;
    p += 4;
    n -= 4;
  }
  for (; n > 0; ++p, --n) h = rotl64(h ^ (*p * kP5), 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return fmt::format("{:016x}", h);
}

std::string hash_bytes(std::string_view data) {
  StreamHash h;
  h.update(data);
  return h.hex();
}

std::string file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("cannot open {} for reading: {}", path, std::strerror(errno)));
  StreamHash h;
  std::vector<char> buf(std::size_t{1} << 20);
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    h.update(std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
  }
  if (in.bad()) throw IoError(fmt::format("error while reading {}", path));
  return h.hex();
}

}  // namespace io
PROTEGE_NAMESPACE_END
