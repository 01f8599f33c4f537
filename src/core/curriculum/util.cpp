// Internal helpers of the curriculum module (see util.hpp).
#include "curriculum/util.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string.h>  // for memrchr (GNU)
#include <string>

#include "answers/text_util.hpp"
#include "protege/parallel.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace curriculum::detail {

using ::protege::detail::to_lower;
using ::protege::detail::trim;

namespace {
// Position of the last case-insensitive occurrence of `needle` (any case) in `s` before `end`.
std::size_t rfind_icase_before(std::string_view s, std::string_view needle, std::size_t end) {
  if (needle.size() > end) return std::string_view::npos;
  if (needle.empty()) return end;
  // Candidates are the positions whose byte matches the needle's first byte in either case;
  // for a non-letter first byte (e.g. '<') memrchr finds them.
  const char lo = to_lower(needle[0]);
  const char up = (lo >= 'a' && lo <= 'z') ? static_cast<char>(lo - 'a' + 'A') : lo;
  const auto rest_matches = [&](std::size_t i) {
    for (std::size_t k = 1; k < needle.size(); ++k) {
      if (to_lower(s[i + k]) != to_lower(needle[k])) return false;
    }
    return true;
  };
  std::size_t limit = end - needle.size() + 1;  // candidates lie in [0, limit)
  if (lo == up) {
    while (limit > 0) {
      const void* hit = ::memrchr(s.data(), lo, limit);
      if (hit == nullptr) return std::string_view::npos;
      const auto i = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
      if (rest_matches(i)) return i;
      limit = i;
    }
    return std::string_view::npos;
  }
  for (std::size_t i = limit; i-- > 0;) {
    if ((s[i] == lo || s[i] == up) && rest_matches(i)) return i;
  }
  return std::string_view::npos;
}
}  // namespace

std::optional<std::string_view> last_tag_content(std::string_view text, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  return last_tag_between(text, open, close);
}

std::optional<std::string_view> last_tag_between(std::string_view text, std::string_view open, std::string_view close) {
  // An open tag before any close is also before the last close, so the last close decides.
  const std::size_t c = rfind_icase_before(text, close, text.size());
  if (c == std::string_view::npos) return std::nullopt;
  const std::size_t o = rfind_icase_before(text, open, c);
  if (o == std::string_view::npos) return std::nullopt;
  const std::size_t b = o + open.size();
  return text.substr(b, c - b);
}

namespace {
std::optional<double> parse_plain(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  std::size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  bool digits = false;
  bool dot = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    std::size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    std::size_t k = j;
    while (k < s.size() && s[k] >= '0' && s[k] <= '9') ++k;
    if (k > j) i = k;
  }
  if (i != s.size()) return std::nullopt;
  std::string buf(s.substr(s[0] == '+' ? 1 : 0));
  char* end = nullptr;
  double v = std::strtod(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}
}  // namespace

std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  if (auto v = parse_plain(s)) return v;
  std::size_t slash = s.find('/');
  if (slash != std::string_view::npos && parse_plain(s.substr(slash + 1))) return parse_plain(s.substr(0, slash));
  return std::nullopt;
}

namespace {

inline bool kv_less(const KeyValue& a, const KeyValue& b) noexcept {
  return a.key < b.key || (a.key == b.key && a.value < b.value);
}

void insertion_sort(KeyValue* a, std::size_t m) noexcept {
  for (std::size_t i = 1; i < m; ++i) {
    const KeyValue x = a[i];
    std::size_t j = i;
    while (j > 0 && kv_less(x, a[j - 1])) {
      a[j] = a[j - 1];
      --j;
    }
    a[j] = x;
  }
}

// Sorts a run by (key, value): insertion sort when short, else std::sort.
void sort_run(KeyValue* a, std::size_t m) {
  if (m <= 24) insertion_sort(a, m);
  else std::sort(a, a + m, kv_less);
}

}  // namespace

// Sorts one bucket by (key, value): the key bits at and above `shift` are equal in it. A counting
// pass on the next `sb` bits, with sb chosen so that the sub-runs hold ~8 rows on average for
// uniform keys (at most 12 bits: the counters stay in L1), then each sub-run sorted on its own:
// short ones by insertion sort / std::sort, long ones (skewed keys) by the same pass on the next
// bits. O(m) expected for uniform keys; a total order, so the result is unique.
void sort_bucket(KeyValue* a, std::size_t m, unsigned shift, std::vector<KeyValue>& scratch) {
  if (m <= 256 || shift == 0) {
    sort_run(a, m);
    return;
  }
  unsigned sb = static_cast<unsigned>(std::bit_width(m)) - 3;
  sb = std::min({sb, 12U, shift});
  const unsigned s2 = shift - sb;
  const std::size_t radix = std::size_t{1} << sb;
  const std::uint64_t mask = radix - 1;
  std::uint32_t count[(1U << 12) + 1];
  std::fill(count, count + radix + 1, 0U);
  for (std::size_t i = 0; i < m; ++i) ++count[((a[i].key >> s2) & mask) + 1];
  for (std::size_t d = 0; d < radix; ++d) count[d + 1] += count[d];
  if (scratch.size() < m) scratch.resize(m);
  KeyValue* t = scratch.data();
  {
    std::uint32_t fill[1U << 12];
    std::copy(count, count + radix, fill);
    for (std::size_t i = 0; i < m; ++i) t[fill[(a[i].key >> s2) & mask]++] = a[i];
  }
  std::copy(t, t + m, a);
  for (std::size_t d = 0; d < radix; ++d) {
    const std::size_t len = count[d + 1] - count[d];
    if (len > 1) sort_bucket(a + count[d], len, s2, scratch);
  }
}

void radix_sort(std::vector<std::uint64_t>& keys, std::vector<std::uint32_t>& values, int threads) {
  // Keys are uniform hashes: one MSD scatter pass on the top bits into cache-sized buckets, then
  // each bucket sorted by (key, value) independently (in parallel). Result: ascending keys, ties
  // by value: a total order, so it does not depend on how the scatter is split. O(n) expected.
  const std::size_t n = keys.size();
  if (n < 2) return;
  unsigned bits = 1;  // top-level buckets of ~16 Ki pairs, at most 2^11 (as sort_generated)
  while (bits < 11 && (std::size_t{1} << (bits + 14)) < n) ++bits;
  const unsigned shift = 64 - bits;
  const std::size_t buckets = std::size_t{1} << bits;
  // Scatter in a fixed number of chunks (own histograms), in parallel.
  const std::size_t chunks = n < (std::size_t{1} << 20) ? 1 : 8;
  const std::size_t per = (n + chunks - 1) / chunks;
  std::vector<std::uint32_t> hist(chunks * buckets, 0);
  ::protege::parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      std::uint32_t* h = hist.data() + c * buckets;
      const std::size_t e = std::min(n, (c + 1) * per);
      for (std::size_t i = c * per; i < e; ++i) ++h[keys[i] >> shift];
    }
  });
  std::vector<std::size_t> start(buckets + 1, 0);
  std::vector<std::size_t> fill(chunks * buckets);
  std::size_t pos = 0;
  for (std::size_t b = 0; b < buckets; ++b) {
    start[b] = pos;
    for (std::size_t c = 0; c < chunks; ++c) {
      fill[c * buckets + b] = pos;
      pos += hist[c * buckets + b];
    }
  }
  start[buckets] = pos;
  std::vector<std::uint32_t>().swap(hist);
  std::vector<KeyValue> tmp(n);
  ::protege::parallel_for(chunks, threads, 1, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      std::size_t* f = fill.data() + c * buckets;
      const std::size_t e = std::min(n, (c + 1) * per);
      for (std::size_t i = c * per; i < e; ++i) tmp[f[keys[i] >> shift]++] = KeyValue{keys[i], values[i]};
    }
  });
  ::protege::parallel_for(buckets, threads, std::max<std::size_t>(1, buckets / 64), [&](std::size_t b0, std::size_t b1) {
    std::vector<KeyValue> scratch;
    for (std::size_t b = b0; b < b1; ++b) sort_bucket(tmp.data() + start[b], start[b + 1] - start[b], shift, scratch);
    for (std::size_t i = start[b0]; i < start[b1]; ++i) {
      keys[i] = tmp[i].key;
      values[i] = tmp[i].value;
    }
  });
}

void select_smallest(std::vector<std::pair<std::uint64_t, std::uint32_t>>& keyed, std::size_t k) {
  const std::size_t n = keyed.size();
  if (k == 0 || k >= n) return;
  if (n < 4096) {
    std::nth_element(keyed.begin(), keyed.begin() + static_cast<std::ptrdiff_t>(k), keyed.end());
    return;
  }
  std::vector<std::size_t> hist(65536, 0);
  for (const auto& kv : keyed) ++hist[kv.first >> 48];
  std::size_t below = 0;
  std::size_t b = 0;
  while (below + hist[b] < k) below += hist[b++];
  // Buckets < b are selected whole; bucket b contributes k - below.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> boundary;
  boundary.reserve(hist[b]);
  std::size_t w = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t bucket = keyed[i].first >> 48;
    if (bucket < b) {
      keyed[w++] = keyed[i];
    } else if (bucket == b) {
      boundary.push_back(keyed[i]);
    }
  }
  const std::size_t need = k - below;
  std::nth_element(boundary.begin(), boundary.begin() + static_cast<std::ptrdiff_t>(need), boundary.end());
  for (std::size_t i = 0; i < need; ++i) keyed[w++] = boundary[i];
  // The tail (positions >= k) is not needed by callers; keep the vector size.
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = to_lower(c);
  return out;
}

}  // namespace curriculum::detail
PROTEGE_NAMESPACE_END
