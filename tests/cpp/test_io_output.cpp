// protege::io output rules: never over an input, symbolic links written through, devices and FIFOs
// written directly, recognisable temporaries cleaned after a kill, modes from the umask, errors
// with path and reason, several files committed as one result, non-finite numbers, deep nesting.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protege/io/jsonl.hpp"
#include "protege/io/output.hpp"

namespace io = protege::io;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// A fresh folder under the system temp folder, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("protege-io-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this) & 0xffff));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A PID that no longer runs: a child that has exited and been reaped.
long dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return static_cast<long>(child);
}

std::size_t count_temps(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().find(".protege-tmp-") != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("an output that is an input is refused and the input stays intact", "[io][output]") {
  TempDir d;
  const fs::path in = d.path / "in.jsonl";
  spit(in, "{\"a\":1}\n");
  CHECK_THROWS_WITH(io::AtomicWriter(in.string(), {in.string()}),
                    Catch::Contains("is the input") && Catch::Contains(in.string()));
  // The same file through a hard link and through a symbolic link.
  fs::create_hard_link(in, d.path / "hard.jsonl");
  fs::create_symlink(in, d.path / "soft.jsonl");
  CHECK_THROWS_AS(io::AtomicWriter((d.path / "hard.jsonl").string(), {in.string()}), protege::InvalidArgument);
  CHECK_THROWS_AS(io::AtomicWriter((d.path / "soft.jsonl").string(), {in.string()}), protege::InvalidArgument);
  CHECK(slurp(in) == "{\"a\":1}\n");
  CHECK(count_temps(d.path) == 0);
  // A different file and a missing input pass.
  io::AtomicWriter ok((d.path / "out.jsonl").string(), {in.string(), (d.path / "missing").string()});
  ok.commit();
}

TEST_CASE("a symbolic link is written through to its target and stays a link", "[io][output]") {
  TempDir d;
  fs::create_directories(d.path / "real");
  const fs::path target = d.path / "real" / "data.jsonl";
  spit(target, "old\n");
  const fs::path link = d.path / "link.jsonl";
  fs::create_symlink("real/data.jsonl", link);  // relative link
  {
    io::AtomicWriter w(link.string());
    CHECK(w.target() == target.lexically_normal().string());
    w.write_line({{"new", true}});
    w.commit();
  }
  CHECK(fs::is_symlink(fs::symlink_status(link)));
  CHECK(slurp(target) == "{\"new\":true}\n");
  CHECK(count_temps(d.path / "real") == 0);
  // A dangling link: its target is created.
  const fs::path dangling = d.path / "dangling.jsonl";
  fs::create_symlink(d.path / "real" / "fresh.jsonl", dangling);
  io::AtomicWriter w(dangling.string());
  w.write("x\n");
  w.commit();
  CHECK(fs::is_symlink(fs::symlink_status(dangling)));
  CHECK(slurp(d.path / "real" / "fresh.jsonl") == "x\n");
}

TEST_CASE("character devices are written directly; /dev/full reports the path and ENOSPC", "[io][output]") {
  {
    io::AtomicWriter w("/dev/null");
    CHECK(w.direct());
    CHECK(w.temp_path().empty());
    w.write_line({{"a", 1}});
    w.commit();
  }
  struct stat st {};
  REQUIRE(::stat("/dev/null", &st) == 0);
  CHECK(S_ISCHR(st.st_mode));  // still the device, not a regular file
  if (::access("/dev/full", W_OK) == 0) {
    io::AtomicWriter w("/dev/full");
    for (int i = 0; i < 100000; ++i) w.write_line({{"i", i}});
    CHECK_THROWS_WITH(w.commit(), Catch::Contains("/dev/full") && Catch::Contains("No space left on device"));
  }
}

TEST_CASE("a FIFO is written directly (no rename over it)", "[io][output]") {
  TempDir d;
  const fs::path fifo = d.path / "pipe";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string got;
  std::thread reader([&] { got = slurp(fifo); });
  {
    io::AtomicWriter w(fifo.string());
    CHECK(w.direct());
    w.write_line({{"x", 2}});
    w.commit();
  }
  reader.join();
  CHECK(got == "{\"x\":2}\n");
  CHECK(fs::is_fifo(fs::status(fifo)));
}

TEST_CASE("directories are refused; missing output folders are created", "[io][output]") {
  TempDir d;
  CHECK_THROWS_WITH(io::AtomicWriter(d.path.string()), Catch::Contains("is a directory"));
  const fs::path deep = d.path / "a" / "b" / "out.jsonl";
  io::AtomicWriter w(deep.string());
  w.write("1\n");
  w.commit();
  CHECK(slurp(deep) == "1\n");
}

TEST_CASE("temporaries are named .NAME.protege-tmp-PID and stale ones are removed by the next writer",
          "[io][output]") {
  TempDir d;
  const fs::path out = d.path / "out.jsonl";
  CHECK(io::temp_path_for(out.string(), 42) == (d.path / ".out.jsonl.protege-tmp-42").string());
  const fs::path stale = io::temp_path_for(out.string(), dead_pid());
  const fs::path live = io::temp_path_for(out.string(), static_cast<long>(::getppid()));  // a running process
  const fs::path other = io::temp_path_for((d.path / "other.jsonl").string(), dead_pid());
  spit(stale, "torn");
  spit(live, "in progress");
  spit(other, "another output's");
  {
    io::AtomicWriter w(out.string());
    CHECK(fs::path(w.temp_path()).filename().string() == ".out.jsonl.protege-tmp-" + std::to_string(::getpid()));
    CHECK(fs::exists(w.temp_path()));
  }  // dropped without commit: its temporary is removed
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(live));   // its writer may still run
  CHECK(fs::exists(other));  // cleaned by the next writer of other.jsonl only
  CHECK_FALSE(fs::exists(out));
  CHECK(count_temps(d.path) == 2);
}

TEST_CASE("new files get mode 0666 & ~umask", "[io][output]") {
  TempDir d;
  for (const mode_t mask : {mode_t{022}, mode_t{077}, mode_t{002}}) {
    const mode_t old = ::umask(mask);
    const fs::path p = d.path / ("m" + std::to_string(mask));
    {
      io::AtomicWriter w(p.string());
      w.write("x");
      w.commit();
    }
    ::umask(old);
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == (0666 & ~mask));
  }
}

TEST_CASE("OutputSet: renames in order with the manifest last, recording the others' hashes", "[io][output]") {
  TempDir d;
  const fs::path rows = d.path / "out.jsonl";
  const fs::path stats = d.path / "out.jsonl.stats.json";
  const fs::path manifest = d.path / "out.jsonl.manifest.json";
  {
    io::OutputSet set({(d.path / "in.jsonl").string()});
    set.add(rows.string()).write("{\"a\":1}\n");
    set.add(stats.string()).write("{}\n");
    CHECK_FALSE(fs::exists(rows));
    set.commit(manifest.string(), {{"tool", "test"}});
  }
  const auto m = nlohmann::json::parse(slurp(manifest));
  REQUIRE(m["files"].size() == 2);
  CHECK(m["files"][0]["path"] == "out.jsonl");
  CHECK(m["files"][0]["xxh64"] == io::hash_bytes("{\"a\":1}\n"));
  CHECK(m["files"][0]["bytes"] == 8);
  CHECK(m["files"][1]["path"] == "out.jsonl.stats.json");
  CHECK(m["files"][1]["xxh64"] == io::file_hash(stats.string()));
  CHECK(m["tool"] == "test");
  CHECK(count_temps(d.path) == 0);
}

TEST_CASE("OutputSet: a failure before the renames replaces nothing", "[io][output]") {
  if (::access("/dev/full", W_OK) != 0) return;
  TempDir d;
  const fs::path rows = d.path / "out.jsonl";
  const fs::path manifest = d.path / "out.jsonl.manifest.json";
  spit(rows, "old rows\n");
  spit(manifest, "old manifest\n");
  {
    io::OutputSet set;
    set.add(rows.string()).write("new rows\n");
    io::AtomicWriter& full = set.add("/dev/full");  // the second file fails (disk full)
    for (int i = 0; i < 300000; ++i) full.write("0123456789");
    CHECK_THROWS_WITH(set.commit(manifest.string(), nlohmann::json::object()), Catch::Contains("No space left"));
  }
  CHECK(slurp(rows) == "old rows\n");
  CHECK(slurp(manifest) == "old manifest\n");
  CHECK(count_temps(d.path) == 0);
  io::OutputSet twice;
  CHECK_THROWS_WITH(twice.check({rows.string(), (d.path / "." / "out.jsonl").string()}), Catch::Contains("named twice"));
}

TEST_CASE("dump_line writes non-finite numbers as null and counts them", "[io][output]") {
  io::NumberReport report;
  const nlohmann::json v = {{"a", std::nan("")}, {"b", {1.5, HUGE_VAL, -HUGE_VAL}}, {"c", 2}};
  CHECK(io::dump_line(v, &report) == "{\"a\":null,\"b\":[1.5,null,null],\"c\":2}");
  CHECK(report.non_finite == 3);
}

TEST_CASE("reader: nesting deeper than max_depth is a line error with its column; a BOM is skipped",
          "[io][output]") {
  const std::string deep = "{\"x\":" + std::string(600, '[') + std::string(600, ']') + "}";
  const std::string shallow = "{\"x\":" + std::string(100, '[') + std::string(100, ']') + ",\"s\":\"" +
                              std::string(900, '[') + "\"}";
  std::vector<std::int64_t> lines;
  io::ReadOptions skip;
  skip.on_error = io::OnError::skip;
  const auto report = io::read_jsonl_text("\xEF\xBB\xBF{\"a\":1}\n" + deep + "\n" + shallow + "\n", "t.jsonl",
                                          [&](nlohmann::json&, std::int64_t line) { lines.push_back(line); }, skip);
  CHECK(lines == std::vector<std::int64_t>{1, 3});
  REQUIRE(report.count == 1);
  CHECK(report.first[0].line == 2);
  CHECK(report.first[0].column == 5 + 512);  // '{' is level 1: the 512th '[' (column 517) opens level 513
  CHECK(report.first[0].reason == "nesting deeper than 512 levels");
}
