// /metrics scrape benchmark: the text exposition of an operator holding the per-object series of
// many Pipelines and Releases, written by the tables themselves (kube::RuntimeMetrics::Serialize,
// MetricTable::WriteText) against the baseline in the same run: the same families turned into
// prometheus-cpp MetricFamily objects (Collect) and written by prometheus::TextSerializer, which
// is what the scrape did before. Both texts must be equal. No cluster: the metrics objects only.
//
//   flywheel_bench_metrics [--pipelines N] [--releases N] [--scrapes N]
//
// Prints one JSON line per way: CPU seconds per scrape (median), bytes and count of allocations
// per scrape, and the peak of bytes allocated at once during a scrape above what was allocated
// before it (this binary counts every operator new and delete).
#include <malloc.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iostream>
#include <new>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "flywheel/kube/metric_table.h"
#include "flywheel/kube/metrics.h"
#include "flywheel/pipeline/metrics.h"
#include "flywheel/release/metrics.h"

namespace {

// Every allocation through operator new, counted (the bench is single-threaded while measuring).
std::atomic<int64_t> g_live{0}, g_peak{0}, g_bytes{0}, g_count{0};

void* Counted(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  const auto size = static_cast<int64_t>(malloc_usable_size(p));
  const int64_t live = g_live.fetch_add(size) + size;
  int64_t peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
  g_bytes.fetch_add(size);
  g_count.fetch_add(1);
  return p;
}

void Uncounted(void* p) {
  if (p == nullptr) return;
  g_live.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)));
  std::free(p);
}

}  // namespace

void* operator new(size_t n) { return Counted(n); }
void* operator new[](size_t n) { return Counted(n); }
void operator delete(void* p) noexcept { Uncounted(p); }
void operator delete[](void* p) noexcept { Uncounted(p); }
void operator delete(void* p, size_t) noexcept { Uncounted(p); }
void operator delete[](void* p, size_t) noexcept { Uncounted(p); }

namespace {

using flywheel::kube::MetricTable;
using flywheel::kube::RuntimeMetrics;
using nlohmann::json;

double CpuNow() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

struct Scrape {
  double cpu_s = 0;
  int64_t bytes = 0, count = 0, peak = 0;
  size_t text = 0;
};

template <typename F>
Scrape Measure(F&& scrape, std::string* text) {
  const int64_t live = g_live.load(), bytes = g_bytes.load(), count = g_count.load();
  g_peak.store(live);
  const double c0 = CpuNow();
  std::string out = scrape();
  Scrape s{CpuNow() - c0, g_bytes.load() - bytes, g_count.load() - count, g_peak.load() - live,
           out.size()};
  *text = std::move(out);
  return s;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Flag(int argc, char** argv, const std::string& name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return std::atoi(argv[i + 1]);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int pipelines = Flag(argc, argv, "--pipelines", 1000);
  const int releases = Flag(argc, argv, "--releases", 1000);
  const int scrapes = Flag(argc, argv, "--scrapes", 15);
  if (pipelines < 0 || releases < 0 || scrapes < 1) {
    std::cerr << "usage: flywheel_bench_metrics [--pipelines N] [--releases N] [--scrapes N]\n";
    return 2;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  RuntimeMetrics runtime(registry);
  runtime.AddController("pipeline", 4);
  runtime.AddController("release", 4);
  flywheel::pipeline::PipelineMetrics pm(runtime);
  flywheel::release::ReleaseMetrics rm(runtime);
  std::vector<std::shared_ptr<const MetricTable>> tables;
  for (int i = 0; i < pipelines; ++i) {
    const std::string ns = "team-" + std::to_string(i % 20), name = "app-" + std::to_string(i);
    pm.AddPipeline(ns, name);
    pm.ObserveRun(ns, name, "Succeeded", 95.0 + i % 60);
    for (const char* step : {"clone", "build", "test", "build-image"}) {
      pm.ObserveStep(ns, name, step, 3.0 + i % 40);
    }
  }
  for (int i = 0; i < releases; ++i) {
    const std::string ns = "team-" + std::to_string(i % 20), name = "app-" + std::to_string(i);
    rm.AddRelease(ns, name);
    rm.ObserveSync(ns, name, "Synced", 0.05 + (i % 10) / 100.0);
    rm.ObserveDeployment(ns, name);
    rm.ObserveLeadTime(ns, name, 300.0 + i);
    rm.SetHealth(ns, name, "Healthy");
  }

  // The baseline: what RuntimeMetrics::Serialize did before the tables wrote their own text:
  // Collect() of every table appended to the registry's families, then the serializer.
  size_t last_size = 0;
  auto through_objects = [&] {
    std::string buffer;
    buffer.reserve(last_size + last_size / 8 + 4096);  // as Serialize reserves
    std::ostringstream out(std::move(buffer));
    std::vector<prometheus::MetricFamily> families = registry->Collect();
    for (const auto& table : runtime.Tables()) {
      for (auto& f : table->Collect()) families.push_back(std::move(f));
    }
    prometheus::TextSerializer().Serialize(out, families);
    std::string text = std::move(out).str();
    last_size = text.size();
    return text;
  };
  auto written_by_tables = [&] { return runtime.Serialize(); };

  std::string a, b;
  (void)Measure(through_objects, &a);  // warm-up of both, and the texts compared
  (void)Measure(written_by_tables, &b);
  if (a != b) {
    std::cerr << "the two ways wrote different texts (" << a.size() << " and " << b.size()
              << " bytes)\n";
    return 1;
  }
  for (const auto& [label, way] : std::vector<std::pair<std::string, std::function<std::string()>>>{
           {"serializer", through_objects}, {"tables", written_by_tables}}) {
    std::vector<double> cpu;
    Scrape last;
    for (int i = 0; i < scrapes; ++i) {
      std::string text;
      last = Measure(way, &text);
      cpu.push_back(last.cpu_s);
    }
    std::cout << json{{"way", label},
                      {"pipelines", pipelines},
                      {"releases", releases},
                      {"text_bytes", last.text},
                      {"cpu_s_median", Median(cpu)},
                      {"allocated_bytes", last.bytes},
                      {"allocations", last.count},
                      {"peak_bytes", last.peak}}
                     .dump()
              << std::endl;
  }
  return 0;
}
