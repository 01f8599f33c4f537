// Checks a few math rationales against their gold answers with protege's answers module.
// Build against an installed protege:  cmake -S examples/cpp -B build/example -DCMAKE_PREFIX_PATH=<prefix>
#include <cstdio>
#include <string_view>
#include <vector>

#include <protege/answers/answers.hpp>
#include <protege/version.hpp>

int main() {
  namespace ans = protege::answers;
  const std::vector<std::string_view> texts = {
      "Natalia sold 48/2 = <<48/2=24>>24 clips in May, so 48+24 = 72 in total.\n#### 72",
      "The area is $\\boxed{\\dfrac{1}{2}}$.",
      "So the answer is 1,234 dollars.",
      "I am not sure.",
  };
  const std::vector<std::string_view> golds = {"72", "0.5", "1234", "7"};
  const auto results = ans::check_batch(texts, golds, ans::Options{}, /*threads=*/2);
  int correct = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    std::printf("%zu: %-12s extracted=\"%s\"\n", i, std::string(ans::to_string(results[i].outcome)).c_str(),
                results[i].extracted.c_str());
    correct += results[i].outcome == ans::Outcome::correct;
  }
  std::printf("protege %s: %d/%zu correct\n", PROTEGE_VERSION_STRING, correct, results.size());
  // The first three are right and the last has no answer.
  return correct == 3 && results[3].outcome == ans::Outcome::wrong && !results[3].has_answer ? 0 : 1;
}
