// InformerSet: informers started on demand by name, once each, all stopped and joined together.
#include "flywheel/kube/informer_set.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include "support/loopback_api.h"

namespace flywheel::kube {
namespace {

using ::flywheel::testing::JsonAnswer;
using ::flywheel::testing::LoopbackApi;

// Serves v1 ConfigMaps in namespace "demo": one object in the list, watches that end at once.
std::map<std::string, http::Handler> Routes(std::atomic<int>* lists) {
  std::map<std::string, http::Handler> routes;
  routes["/api/v1"] = [](const http::ServerRequest&) {
    return JsonAnswer(R"({"kind":"APIResourceList","groupVersion":"v1","resources":)"
                      R"([{"name":"configmaps","namespaced":true,"kind":"ConfigMap"}]})");
  };
  routes["/api/v1/namespaces/demo/configmaps"] = [lists](const http::ServerRequest& req) {
    if (req.query.find("watch=1") != std::string::npos) return JsonAnswer("");
    ++*lists;
    return JsonAnswer(R"({"kind":"ConfigMapList","apiVersion":"v1","metadata":)"
                      R"({"resourceVersion":"10"},"items":[{"metadata":{"name":"x",)"
                      R"("namespace":"demo","resourceVersion":"7"}}]})");
  };
  return routes;
}

TEST(InformerSetTest, EachNameStartsOneInformerAndStopEndsThemAll) {
  std::atomic<int> lists{0};
  LoopbackApi api(Routes(&lists));
  InformerSet set(api.client());
  const InformerOptions options{.api_version = "v1", .kind = "ConfigMap", .namespace_name = "demo"};
  std::atomic<int> added{0};
  EventHandler handler{.on_add = [&](const ObjectPtr&) { ++added; }};

  Informer* first = set.Ensure("configmaps", options, handler);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(set.Ensure("configmaps", options, handler), first) << "the same name: no second one";
  EXPECT_EQ(set.Find("configmaps"), first);
  EXPECT_EQ(set.Find("secrets"), nullptr);
  EXPECT_EQ(set.size(), 1u);
  std::stop_source never;
  ASSERT_TRUE(first->WaitForSync(never.get_token())) << "started at once, without a Run call";
  EXPECT_EQ(first->store().Size(), 1u);
  EXPECT_EQ(added.load(), 1) << "the handler given to Ensure gets the events";
  EXPECT_EQ(lists.load(), 1);

  set.Stop();  // returns once every informer's thread is joined
  EXPECT_EQ(set.size(), 0u);
  EXPECT_EQ(set.Find("configmaps"), nullptr);
  EXPECT_EQ(set.Ensure("other", options, handler), nullptr) << "nothing starts after Stop";
  set.Stop();  // idempotent
}

}  // namespace
}  // namespace flywheel::kube
