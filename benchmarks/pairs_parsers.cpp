// Parser comparison on the pairs JSONL input: the hand-written grouped-record fast path of the
// pairs reader (src/core/pairs/fast_record.cpp) against maintained parsers decoding the same
// fields (id, prompt, gold, completions, scores): nlohmann_json's DOM, nlohmann_json's SAX
// interface, and simdjson's On-Demand API (https://github.com/simdjson/simdjson, when built with
// -DWITH_SIMDJSON). Every parser's decoded fields are checked against the fast path's.
//
// Build (from the repository root; the fast path is internal, so it is compiled in):
//   g++ -std=c++20 -O2 -DNDEBUG -Iinclude -Isrc/core benchmarks/pairs_parsers.cpp \
//       src/core/pairs/fast_record.cpp -o /tmp/pairs_parsers [-DWITH_SIMDJSON -lsimdjson]
// Run on an input written by benchmarks/bench_pairs.py's generator:
//   /tmp/pairs_parsers FILE.jsonl [repeats]
// Prints MB/s per parser (median of `repeats` passes over the whole file).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pairs/fast_record.hpp"

#if defined(WITH_SIMDJSON)
#include <simdjson.h>
#endif

namespace {

using protege::pairs::FieldNames;
using protege::pairs::detail::FastRecord;
using nlohmann::json;

// The decoded fields every parser produces (owned strings, to compare).
struct Rec {
  std::string id, prompt, gold;
  std::vector<std::string> completions;
  std::vector<double> scores;
  bool operator==(const Rec&) const = default;
};

std::string scalar_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

Rec from_dom(const json& j) {
  Rec r;
  r.id = scalar_text(j.at("id"));
  r.prompt = j.at("prompt").get<std::string>();
  r.gold = scalar_text(j.at("gold"));
  for (const auto& c : j.at("completions")) r.completions.push_back(c.get<std::string>());
  if (j.contains("scores")) {
    for (const auto& s : j.at("scores")) r.scores.push_back(s.get<double>());
  }
  return r;
}

// SAX: the top-level keys id/prompt/gold (string or integer), completions (array of strings),
// scores (array of numbers).
struct Sax : nlohmann::json_sax<json> {
  Rec* r = nullptr;
  int depth = 0;
  std::string cur;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t v) override { return scalar(std::to_string(v), static_cast<double>(v)); }
  bool number_unsigned(number_unsigned_t v) override { return scalar(std::to_string(v), static_cast<double>(v)); }
  bool number_float(number_float_t v, const string_t& s) override { return scalar(s, v); }
  bool string(string_t& v) override {
    if (depth == 1) {
      if (cur == "id") r->id = std::move(v);
      else if (cur == "prompt") r->prompt = std::move(v);
      else if (cur == "gold") r->gold = std::move(v);
    } else if (depth == 2 && cur == "completions") {
      r->completions.push_back(std::move(v));
    }
    return true;
  }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return ++depth, true; }
  bool key(string_t& k) override {
    if (depth == 1) cur = std::move(k);
    return true;
  }
  bool end_object() override { return --depth, true; }
  bool start_array(std::size_t) override { return ++depth, true; }
  bool end_array() override { return --depth, true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  bool scalar(const std::string& text, double v) {
    if (depth == 1 && cur == "id") r->id = text;
    else if (depth == 1 && cur == "gold") r->gold = text;
    else if (depth == 2 && cur == "scores") r->scores.push_back(v);
    return true;
  }
};

Rec from_fast(const FastRecord& f) {
  Rec r{f.id, f.prompt, f.gold, {}, f.scores};
  for (const auto c : f.completions) r.completions.emplace_back(c);
  return r;
}

#if defined(WITH_SIMDJSON)
Rec from_simdjson(simdjson::ondemand::parser& parser, simdjson::padded_string_view line) {
  Rec r;
  simdjson::ondemand::document doc = parser.iterate(line);
  for (auto field : doc.get_object()) {
    const std::string_view k = field.unescaped_key();
    auto v = field.value();
    if (k == "id" || k == "gold") {
      std::string& out = k == "id" ? r.id : r.gold;
      if (v.type() == simdjson::ondemand::json_type::string) out = std::string(std::string_view(v.get_string()));
      else out = std::string(simdjson::to_json_string(v).value());
    } else if (k == "prompt") {
      r.prompt = std::string(std::string_view(v.get_string()));
    } else if (k == "completions") {
      for (auto c : v.get_array()) r.completions.emplace_back(std::string_view(c.get_string()));
    } else if (k == "scores") {
      for (auto s : v.get_array()) r.scores.push_back(double(s.get_double()));
    }
  }
  return r;
}

// The same walk without copying any string (views into the parser's buffer, valid until the
// next document): an upper bound for a simdjson reader, which would still have to copy the
// completions out.
std::size_t simdjson_views(simdjson::ondemand::parser& parser, simdjson::padded_string_view line) {
  std::size_t n = 0;
  simdjson::ondemand::document doc = parser.iterate(line);
  for (auto field : doc.get_object()) {
    const std::string_view k = field.unescaped_key();
    auto v = field.value();
    if (k == "id" || k == "gold") {
      n += v.type() == simdjson::ondemand::json_type::string ? std::string_view(v.get_string()).size()
                                                              : simdjson::to_json_string(v).value().size();
    } else if (k == "prompt") {
      n += std::string_view(v.get_string()).size();
    } else if (k == "completions") {
      for (auto c : v.get_array()) n += std::string_view(c.get_string()).size();
    } else if (k == "scores") {
      for (auto x : v.get_array()) n += double(x.get_double()) > 0;
    }
  }
  return n;
}
#endif

template <typename F>
double median_seconds(int repeats, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[(t.size() - 1) / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE.jsonl [repeats]\n", argv[0]);
    return 2;
  }
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  std::ifstream in(argv[1], std::ios::binary);
  std::vector<std::string> lines;
  std::size_t bytes = 0;
  for (std::string l; std::getline(in, l);) {
    bytes += l.size() + 1;
    lines.push_back(std::move(l));
  }
  const double mb = static_cast<double>(bytes) / (1 << 20);
  const FieldNames fields{};

  // Reference decode (fast path) and agreement checks.
  std::vector<Rec> ref;
  std::size_t fast_taken = 0;
  for (const auto& l : lines) {
    std::string copy = l;
    FastRecord f;
    if (protege::pairs::detail::parse_grouped_fast(copy.data(), copy.size(), fields, f)) {
      ++fast_taken;
      ref.push_back(from_fast(f));
    } else {
      ref.push_back(from_dom(json::parse(l)));
    }
  }
  std::size_t dom_ok = 0, sax_ok = 0, simd_ok = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    dom_ok += from_dom(json::parse(lines[i])) == ref[i];
    Rec r;
    Sax sax;
    sax.r = &r;
    json::sax_parse(lines[i], &sax);
    sax_ok += r == ref[i];
  }
#if defined(WITH_SIMDJSON)
  simdjson::ondemand::parser sj;
  std::vector<simdjson::padded_string> padded;
  padded.reserve(lines.size());
  for (const auto& l : lines) padded.emplace_back(l);
  for (std::size_t i = 0; i < lines.size(); ++i) simd_ok += from_simdjson(sj, padded[i]) == ref[i];
#endif

  std::size_t sink = 0;
  std::string scratch;
  FastRecord fr;
  // Each timed pass copies every line once (the fast path decodes in place); the copy is timed
  // for every parser alike.
  const double t_fast = median_seconds(repeats, [&] {
    for (const auto& l : lines) {
      scratch.assign(l);
      sink += protege::pairs::detail::parse_grouped_fast(scratch.data(), scratch.size(), fields, fr) ? fr.completions.size() : 0;
    }
  });
  const double t_dom = median_seconds(repeats, [&] {
    for (const auto& l : lines) {
      scratch.assign(l);
      sink += json::parse(scratch).at("completions").size();
    }
  });
  const double t_sax = median_seconds(repeats, [&] {
    Rec r;
    Sax sax;
    sax.r = &r;
    for (const auto& l : lines) {
      scratch.assign(l);
      r.completions.clear();
      r.scores.clear();
      json::sax_parse(scratch, &sax);
      sink += r.completions.size();
    }
  });
#if defined(WITH_SIMDJSON)
  const double t_simd = median_seconds(repeats, [&] {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      scratch.assign(lines[i]);
      scratch.reserve(scratch.size() + simdjson::SIMDJSON_PADDING);
      sink += from_simdjson(sj, simdjson::padded_string_view(scratch.data(), scratch.size(), scratch.capacity()))
                  .completions.size();
    }
  });
#endif
  std::printf("input: %zu lines, %.1f MB; fast path took %zu lines; median of %d passes\n", lines.size(), mb,
              fast_taken, repeats);
  std::printf("%-36s %10s %10s %16s\n", "parser", "seconds", "MB/s", "agrees (lines)");
  std::printf("%-36s %10.3f %10.1f %16zu\n", "hand-written fast path", t_fast, mb / t_fast, lines.size());
  std::printf("%-36s %10.3f %10.1f %16zu\n", "nlohmann DOM (parse only)", t_dom, mb / t_dom, dom_ok);
  std::printf("%-36s %10.3f %10.1f %16zu\n", "nlohmann SAX (fields decoded)", t_sax, mb / t_sax, sax_ok);
#if defined(WITH_SIMDJSON)
  const double t_views = median_seconds(repeats, [&] {
    for (const auto& l : lines) {
      scratch.assign(l);
      scratch.reserve(scratch.size() + simdjson::SIMDJSON_PADDING);
      sink += simdjson_views(sj, simdjson::padded_string_view(scratch.data(), scratch.size(), scratch.capacity()));
    }
  });
  std::printf("%-36s %10.3f %10.1f %16zu\n", "simdjson On-Demand (fields decoded)", t_simd, mb / t_simd, simd_ok);
  std::printf("%-36s %10.3f %10.1f %16s\n", "simdjson On-Demand (views, no copy)", t_views, mb / t_views, "-");
#else
  (void)simd_ok;
  std::printf("simdjson On-Demand: not built (-DWITH_SIMDJSON -lsimdjson)\n");
#endif
  std::fprintf(stderr, "(checksum %zu)\n", sink);
  return 0;
}
