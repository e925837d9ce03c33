// Metric families kept as tables of plain numbers (include/flywheel/kube/metric_table.h).
#include "flywheel/kube/metric_table.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string_view>

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

// The indexes of `names` in the order of the names (prometheus-cpp exposes labels sorted).
std::vector<size_t> SortedOrder(const std::vector<std::string>& names) {
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return names[a] < names[b]; });
  return order;
}

// A number as prometheus::TextSerializer writes it: an ostream at precision max_digits10 - 1
// (the "%.16g" form), "Nan", "+Inf" and "-Inf".
void AppendNumber(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "Nan";
  } else if (std::isinf(value)) {
    out += value < 0 ? "-Inf" : "+Inf";
  } else {
    char buffer[64];
    const int n = std::snprintf(buffer, sizeof buffer, "%.*g",
                                std::numeric_limits<double>::max_digits10 - 1, value);
    out.append(buffer, static_cast<size_t>(n));
  }
}

void AppendCount(std::string& out, uint64_t value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

// A label value escaped as the text format wants: backslash, double quote and newline.
void AppendEscaped(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\\':
      case '"':
        out += '\\';
        out += c;
        break;
      default:
        out += c;
    }
  }
}

// "# HELP" (when there is help) and "# TYPE" lines.
void AppendHeader(std::string& out, const std::string& name, const std::string& help,
                  const char* type) {
  if (!help.empty()) out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// Writes `name``suffix`{labels[,le="..."]} with the row's label values (split from its key)
// in `order`, then a space.
class SeriesHead {
 public:
  SeriesHead(const std::vector<std::string>& names, const std::vector<size_t>& order)
      : names_(names), order_(order), values_(names.size()) {}

  // Takes the label values of the row whose key is `key`.
  void Row(std::string_view key) {
    size_t start = 0;
    for (auto& value : values_) {
      const size_t end = std::min(key.find('\0', start), key.size());
      value = key.substr(start, end - start);
      start = end + 1;
    }
  }

  void Append(std::string& out, const std::string& name, std::string_view suffix = {},
              std::string_view le = {}) const {
    out.append(name).append(suffix);
    if (!order_.empty() || !le.empty()) {
      out += '{';
      const char* separator = "";
      for (size_t i : order_) {
        out.append(separator).append(names_[i]).append("=\"");
        AppendEscaped(out, values_[i]);
        out += '"';
        separator = ",";
      }
      if (!le.empty()) out.append(separator).append("le=\"").append(le).append("\"");
      out += '}';
    }
    out += ' ';
  }

 private:
  const std::vector<std::string>& names_;
  const std::vector<size_t>& order_;
  std::vector<std::string_view> values_;
};

std::vector<std::string> BucketText(const std::vector<double>& buckets) {
  std::vector<std::string> text;
  for (double bound : buckets) {
    text.emplace_back();
    AppendNumber(text.back(), bound);
  }
  text.emplace_back("+Inf");
  return text;
}

}  // namespace

SeriesTable::SeriesTable(Type type, std::string name, std::string help,
                         std::vector<std::string> label_names)
    : type_(type),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      label_order_(SortedOrder(label_names_)) {}

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

void SeriesTable::WriteText(std::string& out) const {
  AppendHeader(out, name_, help_, type_ == Type::kCounter ? "counter" : "gauge");
  SeriesHead head(label_names_, label_order_);
  std::lock_guard lock(mu_);
  for (const auto& [key, value] : rows_) {
    head.Row(key);
    head.Append(out, name_);
    AppendNumber(out, value);
    out += '\n';
  }
}

HistogramTable::HistogramTable(std::string name, std::string help,
                               std::vector<std::string> label_names, std::vector<double> buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      label_order_(SortedOrder(label_names_)),
      buckets_(std::move(buckets)),
      bucket_text_(BucketText(buckets_)) {
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

void HistogramTable::WriteText(std::string& out) const {
  AppendHeader(out, name_, help_, "histogram");
  SeriesHead head(label_names_, label_order_);
  std::lock_guard lock(mu_);
  for (const auto& [key, row] : rows_) {
    head.Row(key);
    uint64_t count = 0;
    for (size_t i = 0; i <= buckets_.size(); ++i) count += row.counts[i];
    head.Append(out, name_, "_count");
    AppendCount(out, count);
    out += '\n';
    head.Append(out, name_, "_sum");
    AppendNumber(out, row.sum);
    out += '\n';
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= buckets_.size(); ++i) {
      cumulative += row.counts[i];
      head.Append(out, name_, "_bucket", bucket_text_[i]);
      AppendCount(out, cumulative);
      out += '\n';
    }
  }
}

}  // namespace flywheel::kube
