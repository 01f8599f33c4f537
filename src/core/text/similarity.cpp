// Text similarity: word splitting (64 bytes at a time), word n-gram hashing with a bottom-k cap,
// Jaccard, MinHash and the two near-duplicate indexes. See protege/text/similarity.hpp.
#include "protege/text/similarity.hpp"

#include <algorithm>  // for std::sort, std::unique, std::min
#include <bit>        // for std::endian, std::countr_zero, std::bit_ceil
#include <cstring>    // for std::memcpy
#include <limits>     // for std::numeric_limits

#include "protege/random.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>  // for the 16-byte whitespace scan
#endif

PROTEGE_NAMESPACE_BEGIN
namespace text {

std::size_t utf8_length(std::string_view s) noexcept {
  std::size_t n = 0;
  std::size_t i = 0;
#if defined(__SSE2__)
  // Continuation bytes 0x80..0xBF are -128..-65 as signed bytes: count the bytes above -65, in
  // per-lane byte counters (at most 255 steps) summed with psadbw (no popcount instruction needed).
  const __m128i lim = _mm_set1_epi8(-65);
  const __m128i zero = _mm_setzero_si128();
  while (i + 16 <= s.size()) {
    __m128i acc = zero;
    for (int k = 0; k < 255 && i + 16 <= s.size(); ++k, i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
      acc = _mm_sub_epi8(acc, _mm_cmpgt_epi8(v, lim));  // true lanes are -1
    }
    const __m128i sum = _mm_sad_epu8(acc, zero);
    n += static_cast<std::size_t>(_mm_cvtsi128_si32(sum)) + static_cast<std::size_t>(_mm_cvtsi128_si32(_mm_srli_si128(sum, 8)));
  }
#endif
  for (; i < s.size(); ++i) n += (static_cast<unsigned char>(s[i]) & 0xC0u) != 0x80u;
  return n;
}

bool valid_utf8(std::string_view s) noexcept {
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p < end) {
    if (static_cast<unsigned char>(*p) < 0x80) {
      ++p;
      continue;
    }
    const std::size_t n = utf8_sequence_length(p, static_cast<std::size_t>(end - p));
    if (n == 0) return false;
    p += n;
  }
  return true;
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

constexpr std::uint64_t kWordMix = 0x632BE59BD9B4E019ULL;  // hash_combine's offset (random.hpp)

struct SpaceTable {
  bool v[256] = {};
  constexpr SpaceTable() {
    for (int c = 0; c < 256; ++c) v[c] = is_space(static_cast<char>(c));
  }
};
constexpr SpaceTable kSpace{};

[[maybe_unused]] inline bool space_at(const char* p) noexcept { return kSpace.v[static_cast<unsigned char>(*p)]; }

// The first `r` (<= 8) bytes at p as a little-endian integer, upper bytes zero; `end` bounds the
// readable memory (the whole text), so a full 8-byte load is used when it stays inside.
inline std::uint64_t load_tail(const char* p, std::size_t r, const char* end) noexcept {
  std::uint64_t x = 0;
  if constexpr (std::endian::native == std::endian::little) {
    if (end - p >= 8) {
      std::memcpy(&x, p, 8);
      return r == 0 ? 0 : x & (~std::uint64_t{0} >> (64 - 8 * r));
    }
  }
  std::memcpy(&x, p, r);
  return x;
}

// A fast 64-bit hash of one word (8 bytes at a time). Internal only: it decides duplicate
// detection through set equality, never an output value.
inline std::uint64_t word_hash(const char* w, std::size_t size, const char* end) noexcept {
  std::uint64_t h = 0x243F6A8885A308D3ULL ^ (size * 0x9E3779B97F4A7C15ULL);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t x;
    std::memcpy(&x, w + i, 8);
    h = (h ^ x) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  const std::uint64_t tail = load_tail(w + i, size - i, end);
  h = (h ^ tail) * 0xC4CEB9FE1A85EC53ULL;
  return mix64(h);
}

// Bit i set when byte i of the `len` (<= 64) bytes at p is ASCII whitespace (bytes past len count
// as whitespace).
inline std::uint64_t space_mask(const char* p, std::size_t len) noexcept {
#if defined(__SSE2__)
  alignas(16) char pad[64];
  if (len < 64) {
    std::memset(pad, ' ', sizeof pad);
    std::memcpy(pad, p, len);
    p = pad;
  }
  const __m128i blank = _mm_set1_epi8(' ');
  const __m128i nine = _mm_set1_epi8(9);
  const __m128i four = _mm_set1_epi8(4);
  std::uint64_t mask = 0;
  for (int k = 0; k < 4; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    const __m128i t = _mm_sub_epi8(v, nine);  // \t..\r map to 0..4
    const __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(t, four), t);
    const __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, blank), ctl);
    mask |= static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(m)) & 0xFFFFu) << (16 * k);
  }
  return mask;
#else
  std::uint64_t mask = 0;
  for (std::size_t i = 0; i < 64; ++i) {
    if (i >= len || space_at(p + i)) mask |= std::uint64_t{1} << i;
  }
  return mask;
#endif
}

// Calls f(word, size) for each word of s (words split on ASCII whitespace), 64 bytes at a time:
// the class changes (space <-> word) of a block are listed first, then the words between them
// are visited (few unpredictable branches per block instead of per word).
template <typename F>
inline void for_each_word(std::string_view s, F&& f) {
  const char* const base = s.data();
  const std::size_t n = s.size();
  bool in_word = false;  // the byte before the current block is a word byte
  std::size_t start = 0;  // start of the open word when in_word
  std::uint32_t pos[64];
  for (std::size_t off = 0; off < n; off += 64) {
    const std::uint64_t sp = space_mask(base + off, std::min<std::size_t>(64, n - off));
    std::uint64_t change = sp ^ ((sp << 1) | (in_word ? 0u : 1u));  // bit i: byte i differs from byte i - 1
    int k = 0;
    while (change != 0) {
      pos[k++] = static_cast<std::uint32_t>(std::countr_zero(change));
      change &= change - 1;
    }
    int i = 0;
    if (in_word && k > 0) {  // the open word ends at the first change
      f(base + start, off + pos[0] - start);
      in_word = false;
      i = 1;
    }
    for (; i + 1 < k; i += 2) f(base + off + pos[i], static_cast<std::size_t>(pos[i + 1] - pos[i]));
    if (i < k) {  // a word starts and runs past the block
      start = off + pos[i];
      in_word = true;
    }
  }
  if (in_word) f(base + start, n - start);
}

// Calls f(word_hash) for each word of s.
template <typename F>
inline void for_each_word_hash(std::string_view s, F&& f) {
  const char* const end = s.data() + s.size();
  for_each_word(s, [&](const char* w, std::size_t size) { f(word_hash(w, size, end)); });
}

}  // namespace

namespace {

// Bottom-k bookkeeping of word_ngrams(): `out` collects word hashes; every kNgramBlock words, the
// n-grams of the block so far are computed in place (by `combine`) and folded into `acc`, the
// sorted `cap` smallest distinct n-gram hashes seen, keeping the last n - 1 word hashes for the
// next block. Memory stays O(kNgramBlock + cap) whatever the text's length; a text with at most
// `cap` distinct n-grams keeps them all.
constexpr std::size_t kNgramBlock = std::size_t{1} << 20;

void fold_bottom_k(std::vector<std::uint64_t>& acc, std::uint64_t* first, std::uint64_t* last, std::size_t cap) {
  std::sort(first, last);
  last = std::unique(first, last);
  std::vector<std::uint64_t> merged;
  merged.reserve(std::min(cap, acc.size() + static_cast<std::size_t>(last - first)));
  std::size_t i = 0;
  while (merged.size() < cap && (i < acc.size() || first != last)) {
    std::uint64_t v;
    if (first == last || (i < acc.size() && acc[i] < *first)) v = acc[i++];
    else if (i < acc.size() && acc[i] == *first) v = (++first, acc[i++]);
    else v = *first++;
    merged.push_back(v);
  }
  acc.swap(merged);
}

template <typename Combine>
class NgramCollector {
 public:
  NgramCollector(int n, std::vector<std::uint64_t>& out, Combine combine, std::size_t cap)
      : n_(n), out_(out), combine_(combine), cap_(cap) {}

  void add(std::uint64_t word_hash) {
    out_.push_back(word_hash);
    if (out_.size() == kNgramBlock + static_cast<std::size_t>(n_) - 1) flush();
  }

  // The n-grams in `out` (bottom-k of them, sorted, when the text was long or had more than
  // `cap` of them).
  void finish() {
    if (!blocked_) {
      if (out_.empty()) return;
      const std::size_t width = std::min<std::size_t>(static_cast<std::size_t>(n_), out_.size());
      const std::size_t count = out_.size() - width + 1;
      combine_(out_.data(), count, width);
      out_.resize(count);
      if (out_.size() > cap_) {
        std::vector<std::uint64_t> acc;
        fold_bottom_k(acc, out_.data(), out_.data() + out_.size(), cap_);
        out_.swap(acc);
      }
      return;
    }
    const std::size_t width = static_cast<std::size_t>(n_);
    if (out_.size() >= width) {
      const std::size_t count = out_.size() - width + 1;
      combine_(out_.data(), count, width);
      fold_bottom_k(acc_, out_.data(), out_.data() + count, cap_);
    }
    out_.swap(acc_);
  }

 private:
  void flush() {
    const std::size_t width = static_cast<std::size_t>(n_);
    const std::size_t count = out_.size() - width + 1;
    std::uint64_t* m = out_.data();
    combine_(m, count, width);  // in place, left to right: m[count..] (the last n - 1 words) untouched
    fold_bottom_k(acc_, m, m + count, cap_);
    std::copy(m + count, m + out_.size(), m);
    out_.resize(width - 1);
    blocked_ = true;
  }

  int n_;
  std::vector<std::uint64_t>& out_;
  Combine combine_;
  std::size_t cap_;
  std::vector<std::uint64_t> acc_;
  bool blocked_ = false;
};

// NgramHash::mixed: word hash mixed by splitmix64, n-grams chained by splitmix64.
std::uint64_t ngrams_mixed(std::string_view s, int n, std::vector<std::uint64_t>& out, std::size_t cap) {
  // The sequence hash is only a pre-filter before equal_normalized(), so any hash of the word
  // sequence will do: a multiply chain over the mixed word hashes.
  std::uint64_t h = 0x13198A2E03707344ULL;
  std::uint64_t words = 0;
  // out first holds the mixed word hashes m_j, then (in place, left to right) the n-gram hashes.
  const auto combine = [](std::uint64_t* m, std::size_t count, std::size_t width) {
    if (width == 3) {  // the default n, unrolled (same values as the general loop)
      for (std::size_t start = 0; start < count; ++start) {
        m[start] = mix64(mix64(mix64(0x5A17C0DEULL ^ m[start]) ^ m[start + 1]) ^ m[start + 2]);
      }
    } else {
      for (std::size_t start = 0; start < count; ++start) {
        std::uint64_t g = 0x5A17C0DEULL;
        for (std::size_t j = 0; j < width; ++j) g = mix64(g ^ m[start + j]);
        m[start] = g;
      }
    }
  };
  NgramCollector<decltype(combine)> grams(n, out, combine, cap);
  for_each_word_hash(s, [&](std::uint64_t wh) {
    const std::uint64_t m = mix64(wh + kWordMix);
    h = (h ^ m) * 0x9E3779B97F4A7C15ULL;
    ++words;
    if (n > 0) grams.add(m);
  });
  if (n > 0) grams.finish();
  return mix64(h ^ words);
}

// murmur3's 64-bit finaliser (full avalanche, two multiplies).
inline std::uint64_t fmix64(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

// A 64-bit hash of one word: 8 bytes at a time folded by multiply, then fmix64. Words of at most
// 8 bytes (most of them) take one masked load, without the loop; as fmix64 is a bijection, two
// such words of the same length never collide.
inline std::uint64_t word_key(const char* w, std::size_t size, const char* end) noexcept {
  if (size <= 8) [[likely]] return fmix64((size * 0x9E3779B97F4A7C15ULL) ^ load_tail(w, size, end));
  std::uint64_t h = size * 0x9E3779B97F4A7C15ULL;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t x;
    std::memcpy(&x, w + i, 8);
    h = (h ^ x) * 0x87C37B91114253D5ULL;
  }
  return fmix64(h ^ load_tail(w + i, size - i, end));
}

inline std::uint64_t rotl(std::uint64_t x, unsigned r) noexcept { return r == 0 ? x : (x << r) | (x >> (64 - r)); }

// NgramHash::keys: word_key per word, n-grams combined by XOR of rotations.
std::uint64_t ngrams_keys(std::string_view s, int n, std::vector<std::uint64_t>& out, std::size_t cap) {
  std::uint64_t h = 0x13198A2E03707344ULL;
  std::uint64_t words = 0;
  const char* const end = s.data() + s.size();
  // g = XOR over j of rotl(m[start + j], 21 j mod 64): a bijection of each word hash for fixed
  // others, so two distinct n-grams of random word hashes collide with probability 2^-64.
  const auto combine = [](std::uint64_t* m, std::size_t count, std::size_t width) {
    if (width == 3) {
      for (std::size_t start = 0; start < count; ++start) m[start] = m[start] ^ rotl(m[start + 1], 21) ^ rotl(m[start + 2], 42);
    } else {
      for (std::size_t start = 0; start < count; ++start) {
        std::uint64_t g = m[start];
        for (std::size_t j = 1; j < width; ++j) g ^= rotl(m[start + j], static_cast<unsigned>((21 * j) % 64));
        m[start] = g;
      }
    }
  };
  NgramCollector<decltype(combine)> grams(n, out, combine, cap);
  for_each_word(s, [&](const char* w, std::size_t size) {
    const std::uint64_t m = word_key(w, size, end);
    h = (h ^ m) * 0x9E3779B97F4A7C15ULL;
    ++words;
    if (n > 0) grams.add(m);
  });
  if (n > 0) grams.finish();
  return fmix64(h ^ words);
}

}  // namespace

std::uint64_t word_ngrams(std::string_view s, int n, NgramHash kind, std::vector<std::uint64_t>& out,
                          std::size_t max_shingles) {
  out.clear();
  if (max_shingles == 0) max_shingles = 1;
  return kind == NgramHash::mixed ? ngrams_mixed(s, n, out, max_shingles) : ngrams_keys(s, n, out, max_shingles);
}

ShingleSet shingle_set(std::string_view s, int n, NgramHash kind, std::size_t max_shingles) {
  ShingleSet set;
  set.sequence_hash = word_ngrams(s, n, kind, set.shingles, max_shingles);
  std::sort(set.shingles.begin(), set.shingles.end());
  set.shingles.erase(std::unique(set.shingles.begin(), set.shingles.end()), set.shingles.end());
  return set;
}

bool equal_normalized(std::string_view a, std::string_view b) noexcept {
  if (a == b) return true;  // the common case of duplicates: byte-identical copies
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

double jaccard(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) noexcept {
  if (a.empty() && b.empty()) return 1.0;
  std::size_t inter = 0;
  std::size_t i = 0;
  std::size_t j = 0;
  const std::size_t na = a.size();
  const std::size_t nb = b.size();
  while (i < na && j < nb) {  // branch-free merge
    const std::uint64_t x = a[i];
    const std::uint64_t y = b[j];
    inter += static_cast<std::size_t>(x == y);
    i += static_cast<std::size_t>(x <= y);
    j += static_cast<std::size_t>(y <= x);
  }
  return jaccard_from_counts(inter, na, nb);
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

// ---- ShingleIndex ----

// Invariant: every slot not listed in touched_ is empty, so emptying the index only clears the
// slots the last prompt used.
void ShingleIndex::reset(std::size_t expected) {
  for (const std::uint32_t i : touched_) slots_[i] = Slot{};
  touched_.clear();
  // The first table is sized for at most kMaxShingles shingles (grow() doubles it when a prompt
  // has more), so a size estimate from a huge completion does not reserve memory up front.
  expected = std::min(expected, kMaxShingles);
  cap_ = std::max<std::size_t>(256, std::bit_ceil(2 * expected + 1));
  if (slots_.size() < cap_) slots_.resize(cap_);
  used_ = 0;
}

void ShingleIndex::grow() {
  std::vector<Slot> old;
  old.reserve(touched_.size());
  for (const std::uint32_t i : touched_) {
    old.push_back(slots_[i]);
    slots_[i] = Slot{};
  }
  cap_ *= 2;
  if (slots_.size() < cap_) slots_.resize(cap_);
  touched_.clear();
  for (const Slot& s : old) {
    std::size_t i = s.key & (cap_ - 1);
    while (slots_[i].mask != 0) i = (i + 1) & (cap_ - 1);
    slots_[i] = s;
    touched_.push_back(static_cast<std::uint32_t>(i));
  }
}

std::size_t ShingleIndex::add(const std::vector<std::uint64_t>& hashes, unsigned bit, std::uint64_t others,
                              std::uint32_t* inter) {
  const std::uint64_t me = std::uint64_t{1} << bit;
  std::size_t distinct = 0;
  for (const std::uint64_t h : hashes) {
    if (2 * (used_ + 1) > cap_) grow();
    std::size_t i = h & (cap_ - 1);
    for (;;) {
      Slot& s = slots_[i];
      if (s.mask == 0) {
        s.key = h;
        s.mask = me;
        touched_.push_back(static_cast<std::uint32_t>(i));
        ++used_;
        ++distinct;
        break;
      }
      if (s.key == h) {
        if ((s.mask & me) == 0) {
          ++distinct;
          for (std::uint64_t m = s.mask & others; m != 0; m &= m - 1) ++inter[std::countr_zero(m)];
          s.mask |= me;
        }
        break;
      }
      i = (i + 1) & (cap_ - 1);
    }
  }
  return distinct;
}

// ---- CorpusIndex ----

ShingleSet CorpusIndex::fingerprint(std::string_view s) const {
  return shingle_set(s, n_, NgramHash::keys, static_cast<std::size_t>(-1));
}

void CorpusIndex::add(const ShingleSet& doc) {
  const auto id = static_cast<std::uint32_t>(sizes_.size());
  sequences_.insert(doc.sequence_hash);
  sizes_.push_back(doc.shingles.size());
  for (const std::uint64_t x : doc.shingles) postings_[x].push_back(id);
}

bool CorpusIndex::contains(const ShingleSet& doc) const { return sequences_.count(doc.sequence_hash) > 0; }

double CorpusIndex::best_jaccard(const ShingleSet& doc) const {
  std::unordered_map<std::uint32_t, std::size_t> shared;
  for (const std::uint64_t x : doc.shingles) {
    const auto it = postings_.find(x);
    if (it == postings_.end()) continue;
    for (const std::uint32_t d : it->second) ++shared[d];
  }
  double best = 0.0;
  for (const auto& [d, inter] : shared) best = std::max(best, jaccard_from_counts(inter, doc.shingles.size(), sizes_[d]));
  return best;
}

}  // namespace text
PROTEGE_NAMESPACE_END
