// Informer start-up benchmark: how long a v1 ConfigMap Informer takes to fill its cache, and how
// much memory the process needs for it. Prints one JSON line on stdout; bench/informer_startup.sh
// runs it against `kubectl get configmaps -A -o json` and writes docs/benchmarks.md.
//
//   flywheel_bench_informer --kubeconfig PATH [--context NAME] [--namespace NS]
//                           [--keep-managed-fields] [--page-size N]
#include <malloc.h>
#include <sys/resource.h>

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

// A model of the heap an nlohmann::json tree occupies with libstdc++ and glibc, to say where the
// memory goes. Values are 16 bytes inline in their parent; an object is a heap std::map (48 B)
// with one 80-byte red-black node per member (links 32 + key std::string 32 + value 16); an array
// is a heap std::vector (24 B) plus its buffer; a string is a heap std::string (32 B) plus a
// buffer when longer than 15 characters (no small-string optimisation past that).
struct TreeModel {
  int64_t values = 0;         // json values, including the root
  int64_t members = 0;        // object members (map nodes)
  int64_t strings = 0;        // string values
  int64_t payload_bytes = 0;  // characters of keys and string values
  int64_t heap_bytes = 0;     // modelled allocator bytes

  void String(const std::string& s, bool is_key) {
    payload_bytes += static_cast<int64_t>(s.size());
    if (!is_key) heap_bytes += Chunk(32);  // the std::string object itself
    if (s.size() > 15) heap_bytes += Chunk(static_cast<int64_t>(s.capacity()) + 1);
  }

  void Add(const json& j) {
    ++values;
    switch (j.type()) {
      case json::value_t::object:
        heap_bytes += Chunk(48);
        for (auto it = j.begin(); it != j.end(); ++it) {
          ++members;
          heap_bytes += Chunk(80);
          String(it.key(), true);
          Add(it.value());
        }
        break;
      case json::value_t::array: {
        heap_bytes += Chunk(24);
        const auto& arr = j.get_ref<const json::array_t&>();
        if (arr.capacity() > 0) heap_bytes += Chunk(static_cast<int64_t>(arr.capacity()) * 16);
        for (const auto& e : arr) Add(e);
        break;
      }
      case json::value_t::string:
        ++strings;
        String(j.get_ref<const std::string&>(), false);
        break;
      default:
        break;
    }
  }
};

// The modelled heap of the Store around each object: the shared_ptr control block with the
// json root (make_shared: 16 + 16), the key in the object map (node 32 + string 32 + shared_ptr
// 16), and the key again in the namespace index and in one index entry per label (set node 32 +
// string 32 each).
int64_t StoreOverheadModel(const json& object) {
  const std::string key = flywheel::kube::ObjectKey(object);
  const int64_t key_heap = key.size() > 15 ? Chunk(static_cast<int64_t>(key.size()) + 1) : 0;
  int64_t labels = 0;
  if (auto m = object.find("metadata"); m != object.end()) {
    if (auto l = m->find("labels"); l != m->end() && l->is_object()) labels = l->size();
  }
  int64_t bytes = Chunk(32);                       // control block + root value
  bytes += Chunk(80) + key_heap;                   // objects_ node
  bytes += (1 + labels) * (Chunk(64) + key_heap);  // by_namespace_ + by_label_ set nodes
  return bytes;
}

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

  const auto objects = informer.store().List();
  const auto n = static_cast<int64_t>(objects.size());
  TreeModel model;
  int64_t store_model = 0;
  int64_t compact_bytes = 0;
  for (const auto& o : objects) {
    model.Add(*o);
    store_model += StoreOverheadModel(*o);
    compact_bytes += static_cast<int64_t>(o->dump().size());
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
      {"model",
       {{"json_values_per_object", per(model.values)},
        {"object_members_per_object", per(model.members)},
        {"strings_per_object", per(model.strings)},
        {"payload_chars_per_object", per(model.payload_bytes)},
        {"json_heap_per_object_bytes", per(model.heap_bytes)},
        {"store_heap_per_object_bytes", per(store_model)}}},
  };
  std::cout << out.dump() << std::endl;
  return 0;
}
