// Metric families kept as tables of plain numbers (include/flywheel/kube/metric_table.h).
#include "flywheel/kube/metric_table.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace flywheel::kube {

namespace {

// The label values as one map key: joined with '\0', which no label value holds.
std::string Key(const std::vector<std::string>& values, size_t expected) {
  if (values.size() != expected) {
    throw std::invalid_argument("metric series needs " + std::to_string(expected) +
                                " label values, got " + std::to_string(values.size()));
  }
  std::string key;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) key.push_back('\0');
    key += values[i];
  }
  return key;
}

// The labels of one series, sorted by name as prometheus-cpp exposes them.
std::vector<prometheus::ClientMetric::Label> Labels(const std::vector<std::string>& names,
                                                    const std::string& key) {
  std::vector<prometheus::ClientMetric::Label> labels;
  labels.reserve(names.size());
  size_t start = 0;
  for (const auto& name : names) {
    const size_t end = std::min(key.find('\0', start), key.size());
    labels.push_back({name, key.substr(start, end - start)});
    start = end + 1;
  }
  std::sort(labels.begin(), labels.end());
  return labels;
}

}  // namespace

SeriesTable::SeriesTable(Type type, std::string name, std::string help,
                         std::vector<std::string> label_names)
    : type_(type),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)) {}

void SeriesTable::Add(const std::vector<std::string>& values) {
  std::string key = Key(values, label_names_.size());
  std::lock_guard lock(mu_);
  rows_.try_emplace(std::move(key), 0.0);
}

void SeriesTable::Increment(const std::vector<std::string>& values, double by) {
  std::string key = Key(values, label_names_.size());
  std::lock_guard lock(mu_);
  rows_[std::move(key)] += by;
}

void SeriesTable::Set(const std::vector<std::string>& values, double value) {
  std::string key = Key(values, label_names_.size());
  std::lock_guard lock(mu_);
  rows_[std::move(key)] = value;
}

void SeriesTable::Remove(const std::vector<std::string>& values) {
  std::string key = Key(values, label_names_.size());
  std::lock_guard lock(mu_);
  rows_.erase(key);
}

std::vector<prometheus::MetricFamily> SeriesTable::Collect() const {
  prometheus::MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type =
      type_ == Type::kCounter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
  std::lock_guard lock(mu_);
  family.metric.reserve(rows_.size());
  for (const auto& [key, value] : rows_) {
    prometheus::ClientMetric metric;
    metric.label = Labels(label_names_, key);
    (type_ == Type::kCounter ? metric.counter.value : metric.gauge.value) = value;
    family.metric.push_back(std::move(metric));
  }
  return {std::move(family)};
}

HistogramTable::HistogramTable(std::string name, std::string help,
                               std::vector<std::string> label_names, std::vector<double> buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {
  if (!std::is_sorted(buckets_.begin(), buckets_.end())) {
    throw std::invalid_argument("histogram " + name_ + ": buckets must ascend");
  }
}

HistogramTable::Row& HistogramTable::RowOf(const std::vector<std::string>& values) {
  auto [it, added] = rows_.try_emplace(Key(values, label_names_.size()));
  if (added) it->second.counts = std::make_unique<uint64_t[]>(buckets_.size() + 1);
  return it->second;
}

void HistogramTable::Add(const std::vector<std::string>& values) {
  std::lock_guard lock(mu_);
  (void)RowOf(values);
}

void HistogramTable::Observe(const std::vector<std::string>& values, double value) {
  // The first bucket whose upper bound is >= value (Prometheus' `le`), else +Inf.
  const size_t bucket =
      std::lower_bound(buckets_.begin(), buckets_.end(), value) - buckets_.begin();
  std::lock_guard lock(mu_);
  Row& row = RowOf(values);
  row.counts[bucket]++;
  row.sum += value;
}

std::vector<prometheus::MetricFamily> HistogramTable::Collect() const {
  prometheus::MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type = prometheus::MetricType::Histogram;
  std::lock_guard lock(mu_);
  family.metric.reserve(rows_.size());
  for (const auto& [key, row] : rows_) {
    prometheus::ClientMetric metric;
    metric.label = Labels(label_names_, key);
    uint64_t cumulative = 0;
    metric.histogram.bucket.reserve(buckets_.size() + 1);
    for (size_t i = 0; i <= buckets_.size(); ++i) {
      cumulative += row.counts[i];
      metric.histogram.bucket.push_back(
          {cumulative,
           i < buckets_.size() ? buckets_[i] : std::numeric_limits<double>::infinity()});
    }
    metric.histogram.sample_count = cumulative;
    metric.histogram.sample_sum = row.sum;
    family.metric.push_back(std::move(metric));
  }
  return {std::move(family)};
}

}  // namespace flywheel::kube
