// Curriculum: hard-share schedules and rebuilding schedules / distributions from their values.
#include <catch2/catch.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "protege/curriculum/category.hpp"
#include "protege/curriculum/schedule.hpp"
#include "protege/error.hpp"

using namespace protege;
using namespace protege::curriculum;

TEST_CASE("Schedule: list, linear, geometric and callable values by hand", "[curriculum][schedule]") {
  CHECK(Schedule::list({0.0, 0.5, 1.0}).values() == std::vector<double>{0.0, 0.5, 1.0});
  const auto lin = Schedule::linear(0.2, 0.8, 4);
  REQUIRE(lin.rounds() == 4);
  CHECK(lin.kind() == "linear");
  CHECK(lin.hard_share(1) == Approx(0.4));
  CHECK(lin.hard_share(3) == Approx(0.8));
  CHECK(Schedule::geometric(0.25, 2.0, 4, 0.9).values() == std::vector<double>{0.25, 0.5, 0.9, 0.9});
  std::vector<std::size_t> calls;
  const auto cb = Schedule::callable(
      [&](std::size_t r) {
        calls.push_back(r);
        return 0.1 * static_cast<double>(r);
      },
      3);
  CHECK(cb.kind() == "callable");
  CHECK(calls == std::vector<std::size_t>{0, 1, 2});
  CHECK(cb.hard_share(2) == Approx(0.2));
  CHECK_THROWS_WITH(Schedule::callable([](std::size_t r) { return r == 1 ? 2.0 : 0.5; }, 2), Catch::Contains("round 1"));
  CHECK_THROWS_WITH(Schedule::callable([](std::size_t) -> double { throw std::runtime_error("user fn"); }, 2),
                    "user fn");
  CHECK_THROWS_AS(Schedule::callable([](std::size_t) { return 0.5; }, 0), InvalidArgument);
  CHECK_THROWS_WITH(lin.hard_share(4), Catch::Contains("outside"));
}

TEST_CASE("Schedule::from_values and Distribution::from_normalised rebuild what they were given",
          "[curriculum][schedule]") {
  const auto geo = Schedule::geometric(0.3, 1.5, 3);
  const auto back = Schedule::from_values(geo.values(), geo.kind());
  CHECK(back.values() == geo.values());
  CHECK(back.kind() == "geometric");
  CHECK_THROWS_WITH(Schedule::from_values({0.5}, "cosine"), Catch::Contains("kind"));
  CHECK_THROWS_WITH(Schedule::from_values({1.5}, "list"), Catch::Contains("round 0"));

  const auto d = Distribution::from_pairs({{"A", 1.0}, {"B", 2.0}});  // renormalised: sum 3
  REQUIRE(d.renormalised());
  const auto r = Distribution::from_normalised(d.names(), d.ratios(), d.renormalised(), d.input_sum());
  CHECK(r.names() == d.names());
  CHECK(r.ratios() == d.ratios());  // bit for bit, not divided again
  CHECK(r.renormalised());
  CHECK(r.input_sum() == 3.0);
  const auto def = Distribution::default_recipe();
  CHECK(Distribution::from_normalised(def.names(), def.ratios(), false, def.input_sum()).ratios() == def.ratios());
  CHECK_THROWS_WITH(Distribution::from_normalised({"A", "B"}, {0.5, 0.6}, false, 1.1), Catch::Contains("sum to 1"));
  CHECK_THROWS_WITH(Distribution::from_normalised({"A"}, {0.5, 0.5}, false, 1.0), Catch::Contains("1 names but 2"));
  CHECK_THROWS_WITH(Distribution::from_normalised({"A", "A"}, {0.5, 0.5}, false, 1.0), Catch::Contains("duplicate"));
}
