// SeriesTable and HistogramTable expose exactly what prometheus-cpp's own families expose for
// the same series and observations, so moving a family to a table changes no scrape.
#include "flywheel/kube/metric_table.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>

namespace flywheel::kube {
namespace {

std::string Text(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

// The exposition's lines, sorted: prometheus-cpp orders series by a hash, tables by label values.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(MetricTableTest, CountersAndGaugesExposeWhatPrometheusCppWould) {
  prometheus::Registry registry;
  auto& counter = prometheus::BuildCounter().Name("runs_total").Help("Runs").Register(registry);
  auto& gauge = prometheus::BuildGauge().Name("value").Help("Last value").Register(registry);
  SeriesTable runs(SeriesTable::Type::kCounter, "runs_total", "Runs", {"result", "namespace"});
  SeriesTable value(SeriesTable::Type::kGauge, "value", "Last value", {"policy"});

  counter.Add({{"result", "failed"}, {"namespace", "ci"}});
  runs.Add({"failed", "ci"});
  counter.Add({{"result", "ok"}, {"namespace", "ci"}}).Increment(2);
  runs.Increment({"ok", "ci"}, 2);
  counter.Add({{"result", "ok"}, {"namespace", "ci"}}).Increment();
  runs.Increment({"ok", "ci"});
  runs.Add({"ok", "ci"});  // an existing series keeps its value
  gauge.Add({{"policy", "a \"quoted\"\\name"}}).Set(0.25);
  value.Set({"a \"quoted\"\\name"}, 0.25);
  gauge.Add({{"policy", "gone"}}).Set(1);
  value.Set({"gone"}, 1);
  gauge.Remove(&gauge.Add({{"policy", "gone"}}));
  value.Remove({"gone"});
  value.Remove({"never there"});

  std::vector<prometheus::MetricFamily> tables = runs.Collect();
  for (auto& f : value.Collect()) tables.push_back(std::move(f));
  const std::string expected = Text(registry.Collect());
  EXPECT_EQ(Lines(Text(tables)), Lines(expected)) << expected;
  EXPECT_NE(expected.find("runs_total{namespace=\"ci\",result=\"ok\"} 3"), std::string::npos)
      << "labels come out sorted by name:\n"
      << expected;
}

TEST(MetricTableTest, HistogramsExposeWhatPrometheusCppWould) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildHistogram().Name("d_seconds").Help("D").Register(registry);
  const prometheus::Histogram::BucketBoundaries buckets{0.5, 1, 5};
  HistogramTable table("d_seconds", "D", {"step"}, {0.5, 1, 5});

  family.Add({{"step", "none"}}, buckets);
  table.Add({"none"});
  for (double v : {0.1, 0.5, 0.7, 1.0, 4.9, 5.0, 5.1, 1000.0}) {
    family.Add({{"step", "build"}}, buckets).Observe(v);
    table.Observe({"build"}, v);
  }
  table.Add({"build"});  // an existing series keeps its observations

  const std::string expected = Text(registry.Collect());
  EXPECT_EQ(Lines(Text(table.Collect())), Lines(expected)) << expected;
  EXPECT_NE(expected.find("d_seconds_bucket{step=\"build\",le=\"1\"} 4"), std::string::npos)
      << "an observation equal to a bound is in that bucket:\n"
      << expected;
}

// What a scrape gets (WriteText, no MetricFamily in between) is byte for byte what
// prometheus-cpp's serializer writes for the same table's Collect(): numbers of every shape,
// escaped label values, labels given out of name order, no labels at all, an empty table.
TEST(MetricTableTest, WriteTextIsTheSerializersTextOfCollect) {
  SeriesTable gauge(SeriesTable::Type::kGauge, "value", "Last value", {"zone", "policy"});
  const std::vector<double> numbers = {0,
                                       -0.0,
                                       1,
                                       -1,
                                       0.1,
                                       1.0 / 3,
                                       2.5e-9,
                                       1e21,
                                       123456789012345678.0,
                                       0.05,
                                       1e300,
                                       -7.25e-300,
                                       std::numeric_limits<double>::infinity(),
                                       -std::numeric_limits<double>::infinity(),
                                       std::numeric_limits<double>::quiet_NaN()};
  for (size_t i = 0; i < numbers.size(); ++i) {
    gauge.Set({"z" + std::to_string(i), "p\"q\"\\r\nnew line"}, numbers[i]);
  }
  gauge.Set({"", ""}, 4);  // empty label values
  SeriesTable plain(SeriesTable::Type::kCounter, "plain_total", "", {});
  plain.Increment({}, 3);
  SeriesTable empty(SeriesTable::Type::kCounter, "none_total", "Nothing yet", {"x"});
  HistogramTable histogram("d_seconds", "D", {"step", "pipeline"}, {0.005, 0.1, 1.0 / 3, 2.5, 60});
  histogram.Add({"none", "a"});
  for (double v : {0.001, 0.2, 0.3333, 2.5, 59.9, 1e6}) histogram.Observe({"build", "a"}, v);

  for (const MetricTable* table :
       std::vector<const MetricTable*>{&gauge, &plain, &empty, &histogram}) {
    std::string written = "# earlier text\n";
    table->WriteText(written);
    EXPECT_EQ(written, "# earlier text\n" + Text(table->Collect()));
  }
}

TEST(MetricTableTest, AWrongNumberOfLabelValuesIsAProgrammingError) {
  SeriesTable runs(SeriesTable::Type::kCounter, "runs_total", "Runs", {"a", "b"});
  EXPECT_THROW(runs.Increment({"only one"}), std::invalid_argument);
  EXPECT_THROW(HistogramTable("h", "H", {"a"}, {2, 1}), std::invalid_argument);
}

}  // namespace
}  // namespace flywheel::kube
