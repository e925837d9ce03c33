// Informer start-up benchmark: how long a v1 ConfigMap Informer takes to fill its cache, and how
// much memory the process needs for it. Prints one JSON line on stdout; bench/informer_startup.sh
// runs it against `kubectl get configmaps -A -o json` and writes docs/benchmarks.md.
//
//   flywheel_bench_informer --kubeconfig PATH [--context NAME] [--namespace NS]
//                           [--keep-managed-fields] [--page-size N]
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "flywheel/kube/config.h"
#include "flywheel/kube/connect.h"
#include "flywheel/kube/informer.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Flags {
  std::string kubeconfig;
  std::string context;
  std::string namespace_name;
  bool keep_managed_fields = false;
  int64_t page_size = 500;
};

void Usage(std::ostream& out) {
  out << "usage: flywheel_bench_informer --kubeconfig PATH [--context NAME] [--namespace NS]\n"
         "                               [--keep-managed-fields] [--page-size N]\n";
}

std::optional<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& name) -> std::optional<std::string> {
      if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
      if (a == name && i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (a == "-h" || a == "--help") {
      Usage(std::cout);
      std::exit(0);
    } else if (a == "--keep-managed-fields") {
      flags.keep_managed_fields = true;
    } else if (a.rfind("--kubeconfig", 0) == 0) {
      auto v = value("--kubeconfig");
      if (!v) return std::nullopt;
      flags.kubeconfig = *v;
    } else if (a.rfind("--context", 0) == 0) {
      auto v = value("--context");
      if (!v) return std::nullopt;
      flags.context = *v;
    } else if (a.rfind("--namespace", 0) == 0 || a == "-n") {
      auto v = a == "-n" ? (i + 1 < args.size() ? std::optional(args[++i]) : std::nullopt)
                         : value("--namespace");
      if (!v) return std::nullopt;
      flags.namespace_name = *v;
    } else if (a.rfind("--page-size", 0) == 0) {
      auto v = value("--page-size");
      if (!v) return std::nullopt;
      flags.page_size = std::stoll(*v);
    } else {
      std::cerr << "unknown flag: " << a << "\n";
      return std::nullopt;
    }
  }
  return flags;
}

// A "VmXXX:   1234 kB" line of /proc/self/status, in KiB (-1 if absent).
int64_t ProcStatusKiB(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

int64_t MaxRssKiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // KiB on Linux
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

// Bytes glibc's allocator has handed out and not got back, over all arenas (mallinfo2 sums
// them), including chunks served by mmap.
int64_t HeapInUse() {
  struct mallinfo2 mi = mallinfo2();
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
}

// Bytes malloc holds free in its arenas (not returned to the kernel).
int64_t HeapFree() { return static_cast<int64_t>(mallinfo2().fordblks); }

// What a heap block of `n` requested bytes costs with glibc malloc on 64-bit: 8 bytes of header,
// 16-byte alignment, 32 bytes minimum.
int64_t Chunk(int64_t n) {
  int64_t c = (n + 8 + 15) / 16 * 16;
  return c < 32 ? 32 : c;
}

// The heap buffer of a std::string of `n` characters (none up to 15: the small-string buffer).
int64_t StringHeap(size_t n) { return n > 15 ? Chunk(static_cast<int64_t>(n) + 1) : 0; }

// A model of the heap the Store spends on one object besides its packed block, with libstdc++ and
// glibc malloc: the node of the object map (32 bytes of red-black links + the key std::string +
// the Entry: block pointer, size, resourceVersion std::string), the key's and the
// resourceVersion's buffers past 15 characters, and one set node (links + a key pointer) per index
// the object is in: its namespace, each owner reference, each string label. Not counted: the
// index maps' own entries (one per distinct namespace, owner UID or label, shared by objects).
struct StoreOverheadModel {
  int64_t heap_bytes = 0;
  int64_t index_nodes = 0;

  void Add(const nlohmann::json& object) {
    constexpr int64_t kLinks = 32;
    constexpr int64_t kEntry = sizeof(void*) + 8 + sizeof(std::string);
    const std::string key = flywheel::kube::ObjectKey(object);
    int64_t nodes = 1;  // the namespace index
    std::string resource_version;
    if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
      resource_version = m->value("resourceVersion", "");
      if (auto refs = m->find("ownerReferences"); refs != m->end() && refs->is_array()) {
        for (const auto& ref : *refs) nodes += ref.is_object() ? 1 : 0;
      }
      if (auto labels = m->find("labels"); labels != m->end() && labels->is_object()) {
        for (const auto& value : *labels) nodes += value.is_string() ? 1 : 0;
      }
    }
    heap_bytes += Chunk(kLinks + static_cast<int64_t>(sizeof(std::string)) + kEntry);
    heap_bytes += StringHeap(key.size()) + StringHeap(resource_version.size());
    heap_bytes += nodes * Chunk(kLinks + static_cast<int64_t>(sizeof(void*)));
    index_nodes += nodes;
  }
};

}  // namespace

int main(int argc, char** argv) {
  auto flags = ParseFlags(argc, argv);
  if (!flags || flags->kubeconfig.empty()) {
    Usage(std::cerr);
    return 2;
  }
  namespace kube = flywheel::kube;

  kube::LoadOptions lo;
  lo.kubeconfig = flags->kubeconfig;
  lo.context = flags->context;
  auto config = kube::LoadKubeconfig(lo);
  if (!config.ok()) {
    std::cerr << "kubeconfig: " << config.status().ToString() << "\n";
    return 1;
  }
  auto client = kube::Connect(*config);
  if (!client.ok()) {
    std::cerr << "connect: " << client.status().ToString() << "\n";
    return 1;
  }

  const int64_t rss_before_kib = ProcStatusKiB("VmRSS");
  const int64_t heap_before = HeapInUse();
  const double cpu_before = CpuSeconds();
  const auto t0 = Clock::now();

  kube::InformerOptions options{.api_version = "v1",
                                .kind = "ConfigMap",
                                .namespace_name = flags->namespace_name,
                                .page_size = flags->page_size};
  if (flags->keep_managed_fields) {
    options.transform = [](json&) {};
    options.drop_managed_fields = false;
  }
  kube::Informer informer(std::move(*client), std::move(options));
  std::jthread run([&](std::stop_token stop) { informer.Run(stop); });
  if (!informer.WaitForSync(run.get_stop_token())) {
    std::cerr << "informer stopped before it synced\n";
    return 1;
  }
  const auto t1 = Clock::now();
  const double cpu_to_sync = CpuSeconds() - cpu_before;
  // Everything below reads the process's high-water marks before doing anything that allocates.
  const int64_t maxrss_kib = MaxRssKiB();
  const int64_t vmhwm_kib = ProcStatusKiB("VmHWM");
  const int64_t rss_after_kib = ProcStatusKiB("VmRSS");
  const int64_t heap_after = HeapInUse();
  const int64_t heap_free_after = HeapFree();

  run.request_stop();
  run.join();
  // How much of the RSS is memory malloc holds free: what is left once it gives it back.
  malloc_trim(0);
  const int64_t rss_trimmed_kib = ProcStatusKiB("VmRSS");

  // Read back one Get at a time: Store::List() would unpack every object at once and hold all the
  // trees, which is not what the cache costs. Each Get is timed (that is the unpack). The heap
  // the fresh trees take is measured over batches held together, not per Get: mallinfo2 walks
  // malloc's free lists (milliseconds a call on this heap), and chunks parked in malloc's
  // per-thread cache count as in use, which hid a sixth of a tree measured one at a time.
  const auto& store = informer.store();
  const std::vector<std::string> keys = store.Keys();
  const auto n = static_cast<int64_t>(keys.size());
  constexpr size_t kBatch = 64;
  std::vector<kube::ObjectPtr> held;
  held.reserve(kBatch);
  StoreOverheadModel store_model;
  int64_t packed_bytes = 0;
  int64_t packed_heap = 0;
  int64_t compact_bytes = 0;
  int64_t tree_heap = 0;
  Clock::duration unpack_time{};
  for (size_t first = 0; first < keys.size(); first += kBatch) {
    const size_t last = std::min(keys.size(), first + kBatch);
    const int64_t heap_before_batch = HeapInUse();
    for (size_t i = first; i < last; ++i) {
      const auto get_start = Clock::now();
      held.push_back(store.Get(keys[i]));
      unpack_time += Clock::now() - get_start;
    }
    tree_heap += HeapInUse() - heap_before_batch;
    for (const auto& o : held) {
      if (o == nullptr) continue;
      const auto packed = static_cast<int64_t>(json::to_msgpack(*o).size());
      packed_bytes += packed;
      packed_heap += Chunk(packed);
      compact_bytes += static_cast<int64_t>(o->dump().size());
      store_model.Add(*o);
    }
    held.clear();
  }
  auto per = [n](int64_t total) { return n > 0 ? total / n : 0; };

  nlohmann::ordered_json out = {
      {"objects", n},
      {"namespace", flags->namespace_name.empty() ? "(all)" : flags->namespace_name},
      {"managed_fields", flags->keep_managed_fields ? "kept" : "dropped"},
      {"page_size", flags->page_size},
      {"sync_seconds", std::chrono::duration<double>(t1 - t0).count()},
      {"cpu_seconds_to_sync", cpu_to_sync},
      {"rss_before_start_kib", rss_before_kib},
      {"peak_rss_kib", maxrss_kib},
      {"vmhwm_kib", vmhwm_kib},
      {"rss_after_sync_kib", rss_after_kib},
      {"peak_rss_growth_per_object_bytes", per((vmhwm_kib - rss_before_kib) * 1024)},
      {"heap_retained_bytes", heap_after - heap_before},
      {"heap_retained_per_object_bytes", per(heap_after - heap_before)},
      {"heap_free_held_bytes", heap_free_after},
      {"rss_after_malloc_trim_kib", rss_trimmed_kib},
      {"cached_compact_json_bytes", compact_bytes},
      {"cached_compact_json_per_object_bytes", per(compact_bytes)},
      {"cached_packed_bytes", packed_bytes},
      {"cached_packed_per_object_bytes", per(packed_bytes)},
      {"get_unpack_microseconds_per_object",
       n > 0 ? std::chrono::duration<double, std::micro>(unpack_time).count() / n : 0.0},
      {"get_tree_heap_per_object_bytes", per(tree_heap)},
      {"model",
       {{"packed_heap_per_object_bytes", per(packed_heap)},
        {"store_overhead_per_object_bytes", per(store_model.heap_bytes)},
        {"index_nodes_per_object",
         n > 0 ? static_cast<double>(store_model.index_nodes) / n : 0.0}}},
  };
  std::cout << out.dump() << std::endl;
  return 0;
}
