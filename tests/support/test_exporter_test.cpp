// The test exporter's counters: the ratio of 500s is the one set, whatever time passed, and
// changing it keeps the counts so far (counters never go down).
#include "test_exporter.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "net.h"

namespace flywheel::testing {
namespace {

// The samples of an exposition text: "name{labels}" -> value.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  std::stringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

TEST(TestExporterTest, ServesCountersSplitByTheRatioAndTheVersion) {
  TestExporter exporter(/*requests_per_second=*/1000, /*error_ratio=*/0.25, "A");
  std::string scraped = LoopbackGet(exporter.port(), "/metrics");
  ASSERT_EQ(scraped.rfind("200 ", 0), 0u) << scraped;
  auto first = Samples(scraped.substr(4));
  const double ok = first.at("http_requests_total{code=\"200\"}");
  const double errors = first.at("http_requests_total{code=\"500\"}");
  EXPECT_NEAR(errors * 3, ok, 0.01);  // a 25% ratio, rounded to the printed 3 decimals
  EXPECT_EQ(first.at("app_info{version=\"A\"}"), 1);

  exporter.SetErrorRatio(0);
  exporter.SetVersion("B");
  auto second = Samples(exporter.Scrape());
  EXPECT_GE(second.at("http_requests_total{code=\"200\"}"), ok);
  EXPECT_GE(second.at("http_requests_total{code=\"500\"}"), errors);
  EXPECT_EQ(second.count("app_info{version=\"A\"}"), 0u);
  EXPECT_EQ(second.at("app_info{version=\"B\"}"), 1);
}

}  // namespace
}  // namespace flywheel::testing
