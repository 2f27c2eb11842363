#pragma once

// tests/data/tf_optimizer_cases.json: three steps of each optimizer's update with every
// intermediate state, worked out in float32 from TensorFlow's functors independently of the code
// under test. Shared by the tests of the update formulas and of the optimizer blocks.

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qs::testing {

inline const nlohmann::json& optimizerCase(const std::string& name) {
  static const nlohmann::json doc = [] {
    std::ifstream in(std::string(QS_TEST_DATA_DIR) + "/tf_optimizer_cases.json");
    return nlohmann::json::parse(in);
  }();
  for (const nlohmann::json& c : doc.at("cases"))
    if (c.at("name") == name) return c;
  FAIL("no case " << name);
  throw;
}

// The values are float32 numbers written as decimals that read back exactly.
inline std::vector<float> caseFloats(const nlohmann::json& j) {
  std::vector<float> v;
  for (const nlohmann::json& x : j) v.push_back(static_cast<float>(x.get<double>()));
  return v;
}

inline float caseFloat(const nlohmann::json& j) {
  return static_cast<float>(j.get<double>());
}

}  // namespace qs::testing
