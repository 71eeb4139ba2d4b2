#include "vnfpool/operator/inject.h"

#include <gtest/gtest.h>

namespace vnfpool::op {
namespace {

kube::Json parse(const std::string& text) {
  auto j = kube::parseJson(text);
  EXPECT_TRUE(j.ok()) << text;
  return j.value();
}

kube::Json pod(const std::string& annotations, const std::string& spec_extra = "") {
  return parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"vnf","annotations":)" + annotations +
               R"(},"spec":{)" + spec_extra +
               R"("containers":[{"name":"vnf","image":"sip:1","ports":[{"containerPort":5060}]}]}})");
}

std::string envOf(const kube::Json& container, const std::string& name) {
  for (const auto& e : container.at("env").as_array())
    if (e.at("name").as_string() == name) return e.has_field("value") ? e.at("value").as_string() : "<ref>";
  return "";
}

const kube::Json& sidecarIn(const kube::Json& list) {
  for (const auto& c : list.as_array())
    if (c.at("name").as_string() == kSidecarName) return c;
  ADD_FAILURE() << "no sidecar";
  return list;
}

TEST(Injection, NativeSidecarWithoutInitContainersAddsTheList) {
  InjectionSettings s;
  s.registrars = {"vnfpool-registrar.vnfpool:3863"};
  auto in = pod(R"({"vnfpool.io/pool":"sip"})");
  auto d = injectionPatch(in, "default", s);
  ASSERT_TRUE(d.ok()) << d.error().message;
  ASSERT_TRUE(d.value().mutate);
  EXPECT_EQ(d.value().patch.at(0).at("path").as_string(), "/spec/initContainers");
  auto out = applyAddPatch(in, d.value().patch);
  ASSERT_TRUE(out.ok()) << out.error().message;
  const auto& side = sidecarIn(out.value().at("spec").at("initContainers"));
  EXPECT_EQ(side.at("restartPolicy").as_string(), "Always");
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_POOL_HANDLE"), "sip");
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_VNF_PORT"), "5060");   // from the first container port
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_VNF_ADDRESSES"), "<ref>");
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_REGISTRARS"), "vnfpool-registrar.vnfpool:3863");
  EXPECT_EQ(out.value().at("spec").at("containers").size(), 1u);
  EXPECT_EQ(kube::getString(out.value(), "metadata.annotations.vnfpool.io/injected"), std::nullopt);  // dotted key
  EXPECT_EQ(out.value().at("metadata").at("annotations").at("vnfpool.io/injected").as_string(), "native");
}

TEST(Injection, ExistingInitContainersAreKeptAndAppendedTo) {
  InjectionSettings s;
  auto in = pod(R"({"vnfpool.io/pool":"sip"})", R"("initContainers":[{"name":"setup","image":"busybox"}],)");
  auto d = injectionPatch(in, "default", s);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().patch.at(0).at("path").as_string(), "/spec/initContainers/-");
  auto out = applyAddPatch(in, d.value().patch).value();
  ASSERT_EQ(out.at("spec").at("initContainers").size(), 2u);
  EXPECT_EQ(out.at("spec").at("initContainers").at(0).at("name").as_string(), "setup");
  EXPECT_EQ(out.at("spec").at("initContainers").at(1).at("name").as_string(), "vnfpool-sidecar");
}

TEST(Injection, WithoutNativeSidecarsAppendsAContainer) {
  InjectionSettings s;
  s.native_sidecar = false;
  auto in = pod(R"({"vnfpool.io/pool":"sip","vnfpool.io/port":"5070","vnfpool.io/transport":"udp"})",
                R"("initContainers":[{"name":"setup","image":"busybox"}],)");
  auto d = injectionPatch(in, "default", s);
  ASSERT_TRUE(d.ok());
  for (const auto& op : d.value().patch.as_array()) {
    EXPECT_EQ(op.at("op").as_string(), "add");   // never replace
    EXPECT_NE(op.at("path").as_string(), "/spec/containers");
  }
  auto out = applyAddPatch(in, d.value().patch).value();
  ASSERT_EQ(out.at("spec").at("containers").size(), 2u);
  EXPECT_EQ(out.at("spec").at("containers").at(0).at("name").as_string(), "vnf");
  EXPECT_EQ(out.at("spec").at("initContainers").size(), 1u);
  const auto& side = sidecarIn(out.at("spec").at("containers"));
  EXPECT_FALSE(side.has_field("restartPolicy"));
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_VNF_PORT"), "5070");
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_VNF_TRANSPORT"), "udp");
}

TEST(Injection, ReinvocationIsANoOp) {
  InjectionSettings s;
  for (bool native : {true, false}) {
    s.native_sidecar = native;
    auto in = pod(R"({"vnfpool.io/pool":"sip"})");
    auto once = applyAddPatch(in, injectionPatch(in, "default", s).value().patch).value();
    auto again = injectionPatch(once, "default", s);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again.value().mutate);
    EXPECT_EQ(again.value().reason, "already injected");
    EXPECT_TRUE(hasSidecar(once));
  }
}

TEST(Injection, NotAnnotatedOrOptedOut) {
  InjectionSettings s;
  auto plain = parse(R"({"metadata":{"name":"x"},"spec":{"containers":[{"name":"a"}]}})");
  EXPECT_FALSE(injectionPatch(plain, "default", s).value().mutate);
  auto out = injectionPatch(pod(R"({"vnfpool.io/pool":"sip","vnfpool.io/inject":"false"})"), "default", s);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out.value().mutate);
}

TEST(Injection, BadAnnotationsAreRefusedByName) {
  InjectionSettings s;
  const std::pair<const char*, const char*> cases[] = {
      {R"({"vnfpool.io/pool":"sip","vnfpool.io/port":"http"})", "vnfpool.io/port"},
      {R"({"vnfpool.io/pool":"sip","vnfpool.io/port":"70000"})", "vnfpool.io/port"},
      {R"({"vnfpool.io/pool":"sip","vnfpool.io/transport":"quic"})", "vnfpool.io/transport"},
      {R"({"vnfpool.io/pool":"sip","vnfpool.io/policy":"fastest"})", "vnfpool.io/policy"},
      {R"({"vnfpool.io/pool":"sip","vnfpool.io/weight":"0"})", "vnfpool.io/weight"},
      {R"({"vnfpool.io/pool":"sip","vnfpool.io/priority":"-1"})", "vnfpool.io/priority"},
      {R"({"vnfpool.io/pool":"sip","vnfpool.io/health":"icmp"})", "vnfpool.io/health"},
      {R"({"vnfpool.io/pool":"sip","vnfpool.io/health-path":"x"})", "vnfpool.io/health-path"},
      {R"({"vnfpool.io/pool":"sip","vnfpool.io/inject":"yes"})", "vnfpool.io/inject"},
      {R"({"vnfpool.io/pool":""})", "vnfpool.io/pool"},
  };
  for (const auto& [ann, name] : cases) {
    auto d = injectionPatch(pod(ann), "default", s);
    ASSERT_FALSE(d.ok()) << ann;
    EXPECT_NE(d.error().message.find(name), std::string::npos) << d.error().message;
  }
  auto portless = parse(R"({"metadata":{"name":"x","annotations":{"vnfpool.io/pool":"p"}},"spec":{"containers":[{"name":"a"}]}})");
  auto d = injectionPatch(portless, "default", s);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("vnfpool.io/port"), std::string::npos);
}

TEST(Injection, PoolResourceAndAnnotationsSetTheEnvironment) {
  InjectionSettings s;
  PoolLookup lookup = [](const std::string& ns, const std::string& name) -> std::optional<PoolDefaults> {
    if (ns != "telco" || name != "sip") return std::nullopt;
    PoolDefaults d;
    d.pool_handle = "sip-proxy";
    d.policy = "lu";
    d.transport = "tcp";
    d.dialect = "classic";
    d.weight = 5;
    return d;
  };
  auto in = pod(R"({"vnfpool.io/pool":"sip","vnfpool.io/policy":"WeightedRandom","vnfpool.io/priority":"2",)"
                R"("vnfpool.io/health":"http","vnfpool.io/health-path":"/ok"})");
  auto out = applyAddPatch(in, injectionPatch(in, "telco", s, lookup).value().patch).value();
  const auto& side = sidecarIn(out.at("spec").at("initContainers"));
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_POOL_HANDLE"), "sip-proxy");
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_POLICY_TYPE"), "wrand");     // the annotation wins over the Pool
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_POLICY_WEIGHT"), "5");
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_POLICY_PRIORITY"), "2");
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_ASAP_TRANSPORT"), "tcp");
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_ASAP_DIALECT"), "classic");
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_HEALTH_TYPE"), "http");
  EXPECT_EQ(envOf(side, "VNFPOOL_SIDECAR_HEALTH_PATH"), "/ok");
  // Without a Pool resource the annotation is the handle.
  auto other = applyAddPatch(in, injectionPatch(in, "default", s, lookup).value().patch).value();
  EXPECT_EQ(envOf(sidecarIn(other.at("spec").at("initContainers")), "VNFPOOL_SIDECAR_POOL_HANDLE"), "sip");
}

TEST(Injection, AnnotationKeysAreEscapedInThePatchPath) {
  InjectionSettings s;
  auto in = pod(R"({"vnfpool.io/pool":"sip"})");
  auto d = injectionPatch(in, "default", s).value();
  EXPECT_EQ(d.patch.at(1).at("path").as_string(), "/metadata/annotations/vnfpool.io~1injected");
}

}  // namespace
}  // namespace vnfpool::op
