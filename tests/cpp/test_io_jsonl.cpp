// protege::io JSONL reader: strict/skip policy, positions in messages, record errors, atomic writes.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "protege/io/jsonl.hpp"

namespace io = protege::io;

TEST_CASE("strict mode names name:line:column for invalid JSON", "[io]") {
  const std::string text = "{\"a\": 1}\n{\"a\": oops}\n";
  int seen = 0;
  try {
    (void)io::read_jsonl_text(text, "in.jsonl", [&](nlohmann::json&, std::int64_t) { ++seen; });
    FAIL("expected a ParseError");
  } catch (const protege::ParseError& e) {
    CHECK(e.file() == "in.jsonl");
    CHECK(e.line() == 2);
    CHECK(e.column() > 0);
    CHECK(std::string(e.what()).rfind("in.jsonl:2:", 0) == 0);
    CHECK(e.reason().rfind("invalid JSON: ", 0) == 0);
  }
  CHECK(seen == 1);
}

TEST_CASE("a number that overflows a double is a parse error, not a crash", "[io]") {
  const std::string text = "{\"scores\": [1e999]}\n{\"scores\": [1]}\n";
  CHECK_THROWS_AS(io::read_jsonl_text(text, "x", [](nlohmann::json&, std::int64_t) {}), protege::ParseError);
  io::ReadOptions skip;
  skip.on_error = io::OnError::skip;
  int ok = 0;
  const auto report = io::read_jsonl_text(text, "x", [&](nlohmann::json&, std::int64_t) { ++ok; }, skip);
  CHECK(ok == 1);
  REQUIRE(report.count == 1);
  CHECK(report.first[0].line == 1);
  CHECK(report.first[0].reason.find("overflow") != std::string::npos);
}

TEST_CASE("skip mode counts every bad line and keeps the first ones", "[io]") {
  const std::string text = "[1]\n\n{\"a\": 1}\n\xff\n{\"a\": \"x\"}\n";
  io::ReadOptions opt;
  opt.on_error = io::OnError::skip;
  opt.max_errors_kept = 2;
  std::vector<std::int64_t> lines;
  const auto report = io::read_jsonl_text(
      text, "f",
      [&](nlohmann::json& r, std::int64_t line) {
        if (!r["a"].is_number()) io::field_type_error("a", "number", r["a"]);
        lines.push_back(line);
      },
      opt);
  CHECK(lines == std::vector<std::int64_t>{3});
  CHECK(report.count == 3);
  REQUIRE(report.first.size() == 2);
  CHECK(report.first[0].line == 1);
  CHECK(report.first[0].reason == "expected a JSON object, got array");
  CHECK(report.first[1].line == 4);
}

TEST_CASE("record errors carry the field name", "[io]") {
  try {
    (void)io::read_jsonl_text("{\"gold\": 3}\n", "g.jsonl",
                              [](nlohmann::json& r, std::int64_t) { (void)io::get_string(r, "gold"); });
    FAIL("expected a ParseError");
  } catch (const protege::ParseError& e) {
    CHECK(std::string(e.what()) == "g.jsonl:1: field \"gold\": expected string, got number");
  }
  CHECK_THROWS_WITH(io::parse_on_error("lenient"), "on_error must be \"strict\" or \"skip\", got \"lenient\"");
}

TEST_CASE("AtomicWriter leaves no file without commit and replaces it on commit", "[io]") {
  const std::string path = "protege_test_atomic.jsonl";
  std::remove(path.c_str());
  {
    io::AtomicWriter w(path);
    w.write_line({{"a", 1}});
  }
  CHECK_FALSE(std::ifstream(path).good());
  {
    io::AtomicWriter w(path);
    w.write_line({{"a", 1}});
    w.commit();
  }
  std::ifstream in(path);
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(line == "{\"a\":1}");
  std::remove(path.c_str());
}

TEST_CASE("AtomicWriter: start_writeback between writes changes neither content nor atomicity", "[io]") {
  const std::string path = "protege_test_writeback.jsonl";
  std::remove(path.c_str());
  std::string expected;
  {
    io::AtomicWriter w(path);
    for (int i = 0; i < 3000; ++i) {
      w.write_line({{"i", i}});
      expected += "{\"i\":" + std::to_string(i) + "}\n";
      if (i % 1000 == 999) w.start_writeback();
    }
    w.start_writeback();
    CHECK_FALSE(std::ifstream(path).good());  // nothing at PATH before commit
    w.commit();
  }
  std::ifstream in(path, std::ios::binary);
  const std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(got == expected);
  {
    io::AtomicWriter w(path);  // dropped after a writeback: the committed file stays as it was
    w.write_line({{"x", 1}});
    w.start_writeback();
  }
  std::ifstream again(path, std::ios::binary);
  CHECK(std::string((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>()) == expected);
  std::remove(path.c_str());
}

TEST_CASE("file_hash is XXH64 (seed 0) of the bytes", "[io]") {
  // Reference values from the xxhash package (python-xxhash 4.1.0).
  CHECK(protege::io::hash_bytes("") == "ef46db3751d8e999");
  CHECK(protege::io::hash_bytes("a") == "d24ec4f1a98c6e5b");
  CHECK(protege::io::hash_bytes("abc") == "44bc2cf5ad770999");
  CHECK(protege::io::hash_bytes("0123456789abcdef0123456789abcdef") == "642a94958e71e6c5");
  CHECK(protege::io::hash_bytes("The quick brown fox jumps over the lazy dog, 12345678901") == "bf7407e6dad16b3a");
  std::string big(100003, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7 + 3) % 256);
  CHECK(protege::io::hash_bytes(big) == "924a64f3ae9ea839");
  const std::string path = "protege_test_file_hash.bin";
  {
    std::ofstream out(path, std::ios::binary);
    out << big;
  }
  CHECK(protege::io::file_hash(path) == "924a64f3ae9ea839");  // streamed in 1 MiB reads
  std::remove(path.c_str());
}
