#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace flywheel::kube {

// A metric family that writes its own text exposition, without building prometheus-cpp's
// MetricFamily and ClientMetric objects first (one label-string copy per series per scrape, for
// thousands of series). Collect() stays for whoever wants the objects.
class MetricTable : public prometheus::Collectable {
 public:
  // Appends the family's text exposition to `out`: byte for byte what
  // prometheus::TextSerializer writes for Collect().
  virtual void WriteText(std::string& out) const = 0;
};

// A counter or gauge metric family kept as a table: one row of plain numbers per label tuple,
// behind one mutex. Made for series per object (each Release, Pipeline or RollbackPolicy, times
// each result), of which an operator holds thousands: prometheus-cpp's own families keep about
// 460 bytes per counter series and 750 per histogram (docs/benchmarks.md); a row here is the
// joined label values and a double. Exposed through kube::RuntimeMetrics::Register.
class SeriesTable : public MetricTable {
 public:
  enum class Type { kCounter, kGauge };
  // `label_names` in any order; values are always given in this order.
  SeriesTable(Type type, std::string name, std::string help, std::vector<std::string> label_names);

  // Creates the series at 0 unless it exists (a counter that starts at 0 is counted by
  // increase() from its first event).
  void Add(const std::vector<std::string>& values);
  void Increment(const std::vector<std::string>& values, double by = 1);
  void Set(const std::vector<std::string>& values, double value);
  // Drops the series (an object that is gone); nothing when it does not exist.
  void Remove(const std::vector<std::string>& values);

  std::vector<prometheus::MetricFamily> Collect() const override;
  void WriteText(std::string& out) const override;

 private:
  const Type type_;
  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::vector<size_t> label_order_;  // indexes into label_names_, sorted by name
  mutable std::mutex mu_;
  std::map<std::string, double, std::less<>> rows_;  // by the label values joined with '\0'
};

// A histogram metric family kept as a table (see SeriesTable): per label tuple, the count of
// observations in each bucket and their sum.
class HistogramTable : public MetricTable {
 public:
  // `buckets`: the upper bounds, ascending (+Inf is implied).
  HistogramTable(std::string name, std::string help, std::vector<std::string> label_names,
                 std::vector<double> buckets);

  // Creates the series with no observation unless it exists.
  void Add(const std::vector<std::string>& values);
  void Observe(const std::vector<std::string>& values, double value);

  std::vector<prometheus::MetricFamily> Collect() const override;
  void WriteText(std::string& out) const override;

 private:
  struct Row {
    double sum = 0;
    std::unique_ptr<uint64_t[]> counts;  // per bucket, +Inf last; not cumulative
  };
  Row& RowOf(const std::vector<std::string>& values);

  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::vector<size_t> label_order_;  // as in SeriesTable
  const std::vector<double> buckets_;
  const std::vector<std::string> bucket_text_;  // each bound as exposed in `le`, "+Inf" last
  mutable std::mutex mu_;
  std::map<std::string, Row, std::less<>> rows_;
};

}  // namespace flywheel::kube
