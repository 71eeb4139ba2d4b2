// pkg/kube's client against the fake API server: every verb, conflicts, retries, auth, watches.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "fake_server.h"
#include "vnfpool/kube/client.h"
#include "vnfpool/kube/events.h"
#include "vnfpool/kube/kinds.h"

namespace vnfpool::kube {
namespace {

using test::FakeServer;

Json obj(const std::string& text) { return parseJson(text).value(); }

Json configMap(const std::string& name, const std::string& labels = "{}") {
  return obj(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"(","labels":)" + labels +
             R"(},"data":{"k":"v"}})");
}

const char* kPoolCrd = R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
  "metadata":{"name":"pools.vnfpool.io"},
  "spec":{"group":"vnfpool.io","scope":"Namespaced","names":{"kind":"Pool","plural":"pools","singular":"pool"},
    "versions":[{"name":"v1alpha1","served":true,"storage":true,"subresources":{"status":{}},
      "schema":{"openAPIV3Schema":{"type":"object","properties":{
        "spec":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
        "status":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}}]}})";

void writeFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

class ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new FakeServer({"--bookmark-interval", "0.2", "--history", "50"}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    auto c = Client::create(server_->httpConfig());
    ASSERT_TRUE(c.ok()) << c.error().describe();
    client_ = std::move(c).value();
    ns_ = "t" + std::to_string(++counter_);   // every test works in a namespace of its own
    Json ns = obj(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns_ + R"("}})");
    ASSERT_TRUE(client_->create(resources::kNamespace, ns).ok());
    server_->control("DELETE", "requests");
    server_->control("DELETE", "faults");
  }
  Json inNs(Json o) const {
    set(o, "metadata.namespace", Json::string(ns_));
    return o;
  }
  void installPoolCrd() {
    auto crd = client_->create(resources::kCustomResourceDefinition, obj(kPoolCrd));
    ASSERT_TRUE(crd.ok() || crd.error().alreadyExists()) << crd.error().describe();
  }

  static FakeServer* server_;
  static int counter_;
  std::unique_ptr<Client> client_;
  std::string ns_;
};

FakeServer* ClientTest::server_ = nullptr;
int ClientTest::counter_ = 0;

TEST_F(ClientTest, CreateGetUpdateDeleteWithConflictsAndPreconditions) {
  auto created = client_->create(resources::kConfigMap, inNs(configMap("a")));
  ASSERT_TRUE(created.ok()) << created.error().describe();
  EXPECT_FALSE(getString(created.value(), "metadata.uid").value_or("").empty());
  auto again = client_->create(resources::kConfigMap, inNs(configMap("a")));
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().alreadyExists());

  Json changed = created.value();
  set(changed, "data.k", Json::string("v2"));
  auto updated = client_->update(resources::kConfigMap, changed);
  ASSERT_TRUE(updated.ok()) << updated.error().describe();
  EXPECT_EQ(getString(updated.value(), "data.k"), "v2");
  auto stale = client_->update(resources::kConfigMap, changed);   // carries the old resourceVersion
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(stale.error().conflict());
  EXPECT_EQ(stale.error().reason, "Conflict");

  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "not-the-uid";
  EXPECT_TRUE(client_->remove(resources::kConfigMap, ns_, "a", wrong_uid).conflict());
  DeleteOptions right;
  right.precondition_resource_version = getString(updated.value(), "metadata.resourceVersion");
  ASSERT_TRUE(client_->remove(resources::kConfigMap, ns_, "a", right).ok());
  auto gone = client_->get(resources::kConfigMap, ns_, "a");
  EXPECT_TRUE(gone.notFound());
  EXPECT_TRUE(client_->remove(resources::kConfigMap, ns_, "a").notFound());
}

TEST_F(ClientTest, ListsWithSelectorsAndPages) {
  for (int i = 0; i < 7; ++i) {
    const std::string labels = i % 2 == 0 ? R"({"parity":"even"})" : R"({"parity":"odd"})";
    ASSERT_TRUE(client_->create(resources::kConfigMap, inNs(configMap("c" + std::to_string(i), labels))).ok());
  }
  ListOptions even;
  even.label_selector = "parity=even";
  EXPECT_EQ(client_->list(resources::kConfigMap, ns_, even).value().items.size(), 4u);
  ListOptions by_name;
  by_name.field_selector = "metadata.name=c3";
  auto one = client_->list(resources::kConfigMap, ns_, by_name);
  ASSERT_EQ(one.value().items.size(), 1u);
  EXPECT_EQ(getString(one.value().items[0], "kind"), "ConfigMap");
  ListOptions bad;
  bad.field_selector = "spec.nothing=1";
  auto refused = client_->list(resources::kConfigMap, ns_, bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().status, 400);

  ListOptions page;
  page.limit = 3;
  auto first = client_->list(resources::kConfigMap, ns_, page);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.value().items.size(), 3u);
  EXPECT_FALSE(first.value().continue_token.empty());
  auto all = client_->listAll(resources::kConfigMap, ns_, page);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all.value().items.size(), 7u);
  // selector, field selector, refused selector, one page, then three pages for listAll
  EXPECT_EQ(server_->requests("GET", "/namespaces/" + ns_ + "/configmaps").size(), 7u);
}

TEST_F(ClientTest, PatchesAndServerSideApply) {
  installPoolCrd();
  ASSERT_TRUE(client_->create(resources::kConfigMap, inNs(configMap("p"))).ok());
  auto merged = client_->patch(resources::kConfigMap, ns_, "p", PatchType::Merge, obj(R"({"data":{"m":"1"}})"));
  ASSERT_TRUE(merged.ok()) << merged.error().describe();
  auto json = client_->patch(resources::kConfigMap, ns_, "p", PatchType::JsonPatch,
                             obj(R"([{"op":"add","path":"/data/j","value":"2"}])"));
  ASSERT_TRUE(json.ok()) << json.error().describe();
  auto strategic = client_->patch(resources::kConfigMap, ns_, "p", PatchType::Strategic, obj(R"({"data":{"s":"3"}})"));
  ASSERT_TRUE(strategic.ok()) << strategic.error().describe();
  EXPECT_EQ(getStringMap(strategic.value(), "data"),
            (std::map<std::string, std::string>{{"k", "v"}, {"m", "1"}, {"j", "2"}, {"s", "3"}}));

  Json pool = obj(R"({"apiVersion":"vnfpool.io/v1alpha1","kind":"Pool","metadata":{"name":"sip"},"spec":{"policy":"Random"}})");
  ApplyOptions mine;
  mine.field_manager = "vnfpool-operator";
  auto applied = client_->apply(resources::kPool, inNs(pool), mine);
  ASSERT_TRUE(applied.ok()) << applied.error().describe();
  auto smp = client_->patch(resources::kPool, ns_, "sip", PatchType::Strategic, obj(R"({"spec":{"policy":"x"}})"));
  ASSERT_FALSE(smp.ok());
  EXPECT_EQ(smp.error().status, 415);
  set(pool, "spec.policy", Json::string("LeastUsed"));
  ApplyOptions other;
  other.field_manager = "someone-else";
  auto conflict = client_->apply(resources::kPool, inNs(pool), other);
  ASSERT_FALSE(conflict.ok());
  EXPECT_TRUE(conflict.error().conflict());
  other.force = true;
  auto forced = client_->apply(resources::kPool, inNs(pool), other);
  ASSERT_TRUE(forced.ok()) << forced.error().describe();
  EXPECT_EQ(getString(forced.value(), "spec.policy"), "LeastUsed");
  auto requests = server_->requests("PATCH", "/pools/sip");
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(getString(requests[0], "contentType"), "application/apply-patch+yaml");
  EXPECT_EQ(getString(requests[0], "query.fieldManager"), "vnfpool-operator");
}

TEST_F(ClientTest, TypedPoolStatusSubresourceAndGeneration) {
  installPoolCrd();
  TypedClient<Pool> pools(*client_);
  Pool p;
  p.metadata.name = "edge";
  p.metadata.namespace_name = ns_;
  p.spec.policy = "Priority";
  auto created = pools.create(p);
  ASSERT_TRUE(created.ok()) << created.error().describe();
  EXPECT_EQ(created.value().metadata.generation, 1);
  Pool with_status = created.value();
  with_status.status.members = 4;
  with_status.status.observed_generation = 1;
  with_status.status.conditions.push_back(Condition{"Ready", "True", "MinimumMet", "4 of 4", 1, nowMicroTime()});
  auto written = pools.updateStatus(with_status);
  ASSERT_TRUE(written.ok()) << written.error().describe();
  EXPECT_EQ(written.value().status.members, 4);
  EXPECT_EQ(written.value().metadata.generation, 1);
  Pool spec_change = written.value();
  spec_change.spec.policy = "LeastUsed";
  spec_change.status.members = 99;   // ignored by the main endpoint
  auto updated = pools.update(spec_change);
  ASSERT_TRUE(updated.ok()) << updated.error().describe();
  EXPECT_EQ(updated.value().metadata.generation, 2);
  EXPECT_EQ(updated.value().status.members, 4);
  auto listed = pools.list(ns_);
  ASSERT_EQ(listed.value().size(), 1u);
  EXPECT_EQ(listed.value()[0].spec.policy, "LeastUsed");
}

TEST_F(ClientTest, TypedLeaseSecretAndEvent) {
  TypedClient<Lease> leases(*client_);
  Lease l;
  l.metadata.name = "lock";
  l.metadata.namespace_name = ns_;
  l.holder_identity = "a";
  l.lease_duration_seconds = 15;
  auto created = leases.create(l);
  ASSERT_TRUE(created.ok()) << created.error().describe();
  Lease mine = created.value();
  Lease theirs = created.value();
  mine.holder_identity = "b";
  ASSERT_TRUE(leases.update(mine).ok());
  theirs.holder_identity = "c";
  EXPECT_TRUE(leases.update(theirs).conflict());

  TypedClient<Secret> secrets(*client_);
  Secret s;
  s.metadata.name = "cert";
  s.metadata.namespace_name = ns_;
  s.type = "kubernetes.io/tls";
  s.data = {{"tls.crt", std::string("\x00\x01binary", 8)}};
  ASSERT_TRUE(secrets.create(s).ok());
  EXPECT_EQ(secrets.get(ns_, "cert").value().data.at("tls.crt"), std::string("\x00\x01binary", 8));

  TypedClient<Event> events(*client_);
  Event e;
  e.metadata.generate_name = "edge.";
  e.metadata.namespace_name = ns_;
  e.involved_object = OwnerReference{"vnfpool.io/v1alpha1", "Pool", "edge", "uid-1"};
  e.reason = "MembersChanged";
  e.message = "4 members";
  e.reporting_component = "vnfpool-operator";
  auto ev = events.create(e);
  ASSERT_TRUE(ev.ok()) << ev.error().describe();
  EXPECT_EQ(ev.value().metadata.name.rfind("edge.", 0), 0u);
  ListOptions by_reason;
  by_reason.field_selector = "involvedObject.name=edge,reason=MembersChanged";
  EXPECT_EQ(events.list(ns_, by_reason).value().size(), 1u);
}

TEST_F(ClientTest, EventRecorderAggregatesAndLimits) {
  EventRecorderOptions options;
  options.burst_per_object = 4;
  options.refill_every = std::chrono::seconds(3600);
  options.instance = "operator-0";
  EventRecorder recorder(*client_, options);
  const ObjectReference pool{"vnfpool.io/v1alpha1", "Pool", ns_, "edge", "uid-edge"};
  ASSERT_TRUE(recorder.record(pool, EventType::Normal, "MembersChanged", "3 members").ok());
  ASSERT_TRUE(recorder.record(pool, EventType::Normal, "MembersChanged", "3 members").ok());
  ASSERT_TRUE(recorder.record(pool, EventType::Warning, "BelowMinimum", "1 of 2 members").ok());
  auto events = TypedClient<Event>(*client_).list(ns_);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events.value().size(), 2u);
  std::map<std::string, std::int64_t> counts;
  for (const auto& e : events.value()) {
    counts[e.reason] = e.count;
    EXPECT_EQ(e.involved_object.name, "edge");
    EXPECT_EQ(e.reporting_component, "vnfpool-operator");
  }
  EXPECT_EQ(counts, (std::map<std::string, std::int64_t>{{"MembersChanged", 2}, {"BelowMinimum", 1}}));
  // Budget of 4 per object: the 4th is recorded, the 5th and 6th are dropped.
  ASSERT_TRUE(recorder.record(pool, EventType::Normal, "Other", "x").ok());
  ASSERT_TRUE(recorder.record(pool, EventType::Normal, "Other", "y").ok());
  ASSERT_TRUE(recorder.record(pool, EventType::Normal, "Other", "z").ok());
  EXPECT_EQ(recorder.dropped(), 2u);
  EXPECT_EQ(TypedClient<Event>(*client_).list(ns_).value().size(), 3u);
  EXPECT_FALSE(recorder.record(ObjectReference{}, EventType::Normal, "R", "m").ok());
}

TEST_F(ClientTest, WatchResumesFromAResourceVersionAndReportsExpiry) {
  auto first = client_->create(resources::kConfigMap, inNs(configMap("w0")));
  const auto rv = getString(first.value(), "metadata.resourceVersion").value();
  ASSERT_TRUE(client_->create(resources::kConfigMap, inNs(configMap("w1"))).ok());
  ASSERT_TRUE(client_->remove(resources::kConfigMap, ns_, "w0").ok());
  WatchOptions from_rv;
  from_rv.resource_version = rv;
  from_rv.timeout = std::chrono::seconds(5);
  std::vector<std::pair<WatchEvent::Type, std::string>> seen;
  auto last = client_->watch(resources::kConfigMap, ns_, from_rv, [&](const WatchEvent& e) {
    if (e.type != WatchEvent::Type::Bookmark) seen.emplace_back(e.type, getString(e.object, "metadata.name").value());
    return seen.size() < 2;
  });
  ASSERT_TRUE(last.ok()) << last.error().describe();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_pair(WatchEvent::Type::Added, std::string("w1")));
  EXPECT_EQ(seen[1], std::make_pair(WatchEvent::Type::Deleted, std::string("w0")));
  EXPECT_GT(std::stol(last.value()), std::stol(rv));

  server_->control("POST", "compact");
  auto expired = client_->watch(resources::kConfigMap, ns_, from_rv, [](const WatchEvent&) { return true; });
  ASSERT_FALSE(expired.ok());
  EXPECT_TRUE(expired.error().expired()) << expired.error().describe();
}

TEST_F(ClientTest, WatchBookmarksAdvanceTheResourceVersionAndTheStreamEndsAtItsTimeout) {
  auto created = client_->create(resources::kConfigMap, inNs(configMap("b")));
  WatchOptions o;
  o.resource_version = getString(created.value(), "metadata.resourceVersion").value();
  o.timeout = std::chrono::seconds(1);
  int bookmarks = 0;
  auto last = client_->watch(resources::kConfigMap, ns_, o, [&](const WatchEvent& e) {
    bookmarks += e.type == WatchEvent::Type::Bookmark;
    return true;
  });
  ASSERT_TRUE(last.ok()) << last.error().describe();
  EXPECT_GT(bookmarks, 0);
  EXPECT_GE(std::stol(last.value()), std::stol(o.resource_version));
}

TEST_F(ClientTest, StoppingAWatchFromAnotherThread) {
  std::stop_source stop;
  std::promise<void> started;
  auto done = std::async(std::launch::async, [&] {
    WatchOptions o;
    o.timeout = std::chrono::seconds(60);
    bool signalled = false;
    return client_->watch(resources::kConfigMap, ns_, o, [&](const WatchEvent&) {
      if (!signalled) started.set_value();
      signalled = true;
      return true;
    }, stop.get_token());
  });
  ASSERT_TRUE(client_->create(resources::kConfigMap, inNs(configMap("s"))).ok());
  started.get_future().wait();
  stop.request_stop();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  auto result = done.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, ErrorKind::Cancelled);
}

TEST_F(ClientTest, RetriesAfterTooManyRequests) {
  Json fault = obj(R"({"pathPrefix":"/api/v1/namespaces/)" + ns_ + R"(/configmaps","code":429,"retryAfterSeconds":0,"count":2})");
  server_->control("POST", "faults", fault);
  auto listed = client_->list(resources::kConfigMap, ns_);
  ASSERT_TRUE(listed.ok()) << listed.error().describe();
  EXPECT_EQ(server_->requests("GET", "/namespaces/" + ns_ + "/configmaps").size(), 3u);

  Config no_retries = server_->httpConfig();
  no_retries.max_retries = 0;
  auto strict = Client::create(no_retries);
  server_->control("POST", "faults", obj(R"({"pathPrefix":"/api/v1/namespaces/)" + ns_ +
                                         R"(/configmaps","code":429,"retryAfterSeconds":7,"count":1})"));
  auto refused = strict.value()->list(resources::kConfigMap, ns_);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().tooManyRequests());
  EXPECT_EQ(refused.error().retry_after, std::chrono::seconds(7));
}

TEST_F(ClientTest, ClientSideRateLimit) {
  Config limited = server_->httpConfig();
  limited.qps = 20;
  limited.burst = 2;
  auto c = Client::create(limited);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(c.value()->version().ok());
  // 2 from the burst, then 4 at 20 per second: at least 0.2 s.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(190));
}

TEST(ClientAuthTest, TokenRotationOverHttpsWith401Retry) {
  char dir_template[] = "/tmp/vnfpool-kube-token-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string token_file = std::string(dir_template) + "/token";
  writeFile(token_file, "first-token\n");
  FakeServer server({"--token-file", token_file});
  // The kubeconfig the fake writes points at HTTPS with its CA and the token.
  auto config = loadKubeconfig({{server.kubeconfig()}, ""});
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config.value().server.rfind("https://", 0), 0u);
  config.value().credentials = std::make_shared<FileTokenCredentials>(token_file);
  auto client = Client::create(config.value());
  ASSERT_TRUE(client.ok()) << client.error().describe();
  ASSERT_TRUE(client.value()->get(resources::kNamespace, "", "default").ok());
  writeFile(token_file, "second-token\n");   // rotated: the cached token now gets 401, then a re-read
  auto after = client.value()->get(resources::kNamespace, "", "default");
  ASSERT_TRUE(after.ok()) << after.error().describe();
  EXPECT_EQ(server.requests("GET", "/namespaces/default").size(), 3u);   // ok, 401 with the old token, retry
  writeFile(token_file, "");
  Config anonymous = config.value();
  anonymous.credentials = nullptr;
  auto denied = Client::create(anonymous).value()->get(resources::kNamespace, "", "default");
  ASSERT_FALSE(denied.ok());
  EXPECT_TRUE(denied.error().unauthorized());
  std::filesystem::remove_all(dir_template);
}

TEST(ClientAuthTest, ClientCertificateAndCaVerification) {
  char dir_template[] = "/tmp/vnfpool-kube-cert-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string token_file = std::string(dir_template) + "/token";
  writeFile(token_file, "unused-token\n");
  FakeServer server({"--token-file", token_file});
  auto read = [](const std::string& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  Config config;
  config.server = server.httpsUrl();
  config.ca_pem = read(server.caFile());
  config.client_certificate_pem = read(server.workdir() + "/pki/client.crt");
  config.client_key_pem = read(server.workdir() + "/pki/client.key");
  auto ok = Client::create(config).value()->get(resources::kNamespace, "", "default");
  ASSERT_TRUE(ok.ok()) << ok.error().describe();

  Config wrong_ca = config;
  wrong_ca.max_retries = 0;
  wrong_ca.ca_pem = config.client_certificate_pem;   // not the server's CA
  auto refused = Client::create(wrong_ca).value()->get(resources::kNamespace, "", "default");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::Transport);

  Config garbage = config;
  garbage.client_key_pem = "not a key";
  auto bad = Client::create(garbage);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::Config);
  std::filesystem::remove_all(dir_template);
}

TEST(ClientVersionTest, ReportsTheConfiguredServerVersion) {
  FakeServer server({"--server-version", "1.28"});
  auto version = Client::create(server.httpConfig()).value()->version();
  ASSERT_TRUE(version.ok()) << version.error().describe();
  EXPECT_EQ(getString(version.value(), "minor"), "28");
  EXPECT_EQ(getString(version.value(), "gitVersion").value().rfind("v1.28.", 0), 0u);
}

TEST(ClientTransportTest, ConnectionRefusedIsATransportError) {
  Config config;
  config.server = "http://127.0.0.1:1";
  config.max_retries = 0;
  auto c = Client::create(config);
  ASSERT_TRUE(c.ok());
  auto r = c.value()->version();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Transport);
  EXPECT_TRUE(r.error().transient());
}

}  // namespace
}  // namespace vnfpool::kube
