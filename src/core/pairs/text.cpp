#include "pairs/text.hpp"

#include <algorithm>  // for std::sort, std::unique, std::min
#include <cstring>    // for std::memcpy
#include <limits>     // for std::numeric_limits

#include "protege/random.hpp"

PROTEGE_NAMESPACE_BEGIN
namespace pairs::detail {

std::size_t utf8_length(std::string_view s) noexcept {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0u) != 0x80u;
  return n;
}

std::string normalize_ws(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (const char c : s) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool is_blank(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return is_space(c); });
}

std::string_view rstrip(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

namespace {

// A fast 64-bit hash of one word (8 bytes at a time). Internal only: it decides duplicate
// detection through set equality, never an output value.
std::uint64_t word_hash(std::string_view w) noexcept {
  std::uint64_t h = 0x243F6A8885A308D3ULL ^ (w.size() * 0x9E3779B97F4A7C15ULL);
  std::size_t i = 0;
  for (; i + 8 <= w.size(); i += 8) {
    std::uint64_t x;
    std::memcpy(&x, w.data() + i, 8);
    h = (h ^ x) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, w.data() + i, w.size() - i);
  h = (h ^ tail) * 0xC4CEB9FE1A85EC53ULL;
  return mix64(h);
}

template <typename F>
void for_each_word(std::string_view s, F&& f) {
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > start) f(s.substr(start, i - start));
  }
}

std::vector<std::uint64_t> ngram_set(const std::vector<std::uint64_t>& words, int n) {
  std::vector<std::uint64_t> out;
  if (words.empty()) return out;
  const std::size_t width = std::min<std::size_t>(static_cast<std::size_t>(n), words.size());
  out.reserve(words.size() - width + 1);
  for (std::size_t start = 0; start + width <= words.size(); ++start) {
    std::uint64_t h = 0x5A17C0DEULL;
    for (std::size_t j = 0; j < width; ++j) h = hash_combine(h, words[start + j]);
    out.push_back(h);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

TextInfo analyze(std::string_view s, int n) {
  thread_local std::vector<std::uint64_t> words;
  words.clear();
  TextInfo info;
  std::uint64_t h = 0x13198A2E03707344ULL;
  for_each_word(s, [&](std::string_view w) {
    const std::uint64_t wh = word_hash(w);
    h = hash_combine(h, wh);
    if (n > 0) words.push_back(wh);
  });
  info.sequence_hash = h;
  if (n > 0) info.shingles = ngram_set(words, n);
  return info;
}

bool equal_normalized(std::string_view a, std::string_view b) noexcept {
  std::size_t i = 0;
  std::size_t j = 0;
  for (;;) {
    while (i < a.size() && is_space(a[i])) ++i;
    while (j < b.size() && is_space(b[j])) ++j;
    if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
    const std::size_t si = i;
    const std::size_t sj = j;
    while (i < a.size() && !is_space(a[i])) ++i;
    while (j < b.size() && !is_space(b[j])) ++j;
    if (a.substr(si, i - si) != b.substr(sj, j - sj)) return false;
  }
}

std::vector<std::uint64_t> shingles(std::string_view s, int n) {
  std::vector<std::uint64_t> words;
  for_each_word(s, [&](std::string_view w) { words.push_back(word_hash(w)); });
  return ngram_set(words, n);
}

double jaccard(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) noexcept {
  if (a.empty() && b.empty()) return 1.0;
  std::size_t inter = 0;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++inter;
      ++i;
      ++j;
    }
  }
  const std::size_t uni = a.size() + b.size() - inter;
  return static_cast<double>(inter) / static_cast<double>(uni);
}

std::vector<std::uint64_t> minhash(const std::vector<std::uint64_t>& sh, int perms) {
  std::vector<std::uint64_t> sig(static_cast<std::size_t>(perms), std::numeric_limits<std::uint64_t>::max());
  for (int p = 0; p < perms; ++p) {
    const std::uint64_t key = mix64(0x6D696E68ULL + static_cast<std::uint64_t>(p));
    std::uint64_t m = std::numeric_limits<std::uint64_t>::max();
    for (const std::uint64_t x : sh) m = std::min(m, mix64(x ^ key));
    sig[static_cast<std::size_t>(p)] = m;
  }
  return sig;
}

double minhash_similarity(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) noexcept {
  if (a.empty()) return 1.0;
  std::size_t eq = 0;
  for (std::size_t i = 0; i < a.size(); ++i) eq += a[i] == b[i];
  return static_cast<double>(eq) / static_cast<double>(a.size());
}

}  // namespace pairs::detail
PROTEGE_NAMESPACE_END
