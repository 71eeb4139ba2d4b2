// Client behaviour against a scripted Transport: malformed answers, retries and auth refresh, without
// a server. Bad input from the network must give an Error, never a crash or an exception.
#include "vnfpool/kube/client.h"

#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include "vnfpool/kube/kinds.h"

namespace vnfpool::kube {
namespace {

struct Scripted final : Transport {
  std::deque<Result<HttpResponse>> answers;
  std::deque<std::vector<std::string>> streams;   // lines of each watch stream
  std::vector<HttpRequest> seen;
  std::vector<std::string> auth_seen;

  Result<HttpResponse> send(const HttpRequest& r, const std::string& auth) override {
    seen.push_back(r);
    auth_seen.push_back(auth);
    if (answers.empty()) return Error{ErrorKind::Transport, 0, "", "script exhausted"};
    auto a = answers.front();
    answers.pop_front();
    return a;
  }
  Result<HttpResponse> stream(const HttpRequest& r, const std::string& auth, std::chrono::seconds,
                              const std::function<bool(std::string_view)>& on_line, std::stop_token) override {
    seen.push_back(r);
    auth_seen.push_back(auth);
    if (streams.empty()) return Error{ErrorKind::Transport, 0, "", "script exhausted"};
    auto lines = streams.front();
    streams.pop_front();
    for (const auto& l : lines) {
      if (!on_line(l)) break;
    }
    return HttpResponse{200, "", "application/json", std::nullopt};
  }
};

HttpResponse answer(int status, std::string body, std::optional<std::chrono::seconds> retry_after = std::nullopt) {
  return HttpResponse{status, std::move(body), "application/json", retry_after};
}

class CountingCredentials final : public Credentials {
 public:
  Result<std::string> authorization(bool refresh) override {
    if (refresh) ++refreshes;
    return "Bearer t" + std::to_string(refreshes);
  }
  int refreshes = 0;
};

struct ScriptedClientTest : ::testing::Test {
  ScriptedClientTest() {
    Config c;
    c.server = "http://unused";
    c.qps = 0;
    c.max_retries = 2;
    auto t = std::make_unique<Scripted>();
    transport = t.get();
    creds = std::make_shared<CountingCredentials>();
    c.credentials = creds;
    client = std::make_unique<Client>(c, std::move(t));
  }
  Scripted* transport;
  std::shared_ptr<CountingCredentials> creds;
  std::unique_ptr<Client> client;
};

TEST_F(ScriptedClientTest, MalformedBodiesAreBadResponses) {
  for (const char* body : {"", "{", "[1,2]", "\"text\"", "null"}) {
    transport->answers.push_back(answer(200, body));
    auto r = client->get(resources::kPod, "ns", "p");
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, ErrorKind::BadResponse) << body;
  }
  transport->answers.push_back(answer(200, R"({"metadata":{},"items":"not-a-list"})"));
  EXPECT_EQ(client->list(resources::kPod, "ns").error().kind, ErrorKind::BadResponse);
  transport->answers.push_back(answer(200, R"({"kind":"PodList","metadata":{"resourceVersion":"5"},"items":null})"));
  auto empty = client->list(resources::kPod, "ns");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty.value().items.empty());
  transport->answers.push_back(answer(200, R"({"metadata":"wrong"})"));
  auto typed = TypedClient<Lease>(*client).get("ns", "l");
  ASSERT_FALSE(typed.ok());
  EXPECT_EQ(typed.error().kind, ErrorKind::BadResponse);
}

TEST_F(ScriptedClientTest, ErrorStatusesCarryTheStatusObjectOrABodyExcerpt) {
  transport->answers.push_back(answer(404, R"({"kind":"Status","reason":"NotFound","message":"pods \"p\" not found","code":404})"));
  auto r = client->get(resources::kPod, "ns", "p");
  ASSERT_TRUE(r.notFound());
  EXPECT_EQ(r.error().message, "pods \"p\" not found");
  transport->answers.push_back(answer(502, "<html>bad gateway</html>"));
  transport->answers.push_back(answer(502, "<html>bad gateway</html>"));
  auto html = client->get(resources::kPod, "ns", "p");
  ASSERT_FALSE(html.ok());
  EXPECT_EQ(html.error().status, 502);
  EXPECT_EQ(html.error().message, "<html>bad gateway</html>");
  EXPECT_TRUE(html.error().transient());
}

TEST_F(ScriptedClientTest, A401RefreshesCredentialsOnceAndRetries) {
  transport->answers.push_back(answer(401, R"({"kind":"Status","reason":"Unauthorized","code":401})"));
  transport->answers.push_back(answer(200, R"({"metadata":{"name":"p"}})"));
  ASSERT_TRUE(client->get(resources::kPod, "ns", "p").ok());
  EXPECT_EQ(creds->refreshes, 1);
  EXPECT_EQ(transport->auth_seen, (std::vector<std::string>{"Bearer t0", "Bearer t1"}));
  transport->answers.push_back(answer(401, "{}"));
  transport->answers.push_back(answer(401, "{}"));
  auto denied = client->get(resources::kPod, "ns", "p");
  ASSERT_FALSE(denied.ok());
  EXPECT_TRUE(denied.error().unauthorized());   // only one refresh per request
}

TEST_F(ScriptedClientTest, TooManyRequestsIsRetriedThenReported) {
  transport->answers.push_back(answer(429, "{}", std::chrono::seconds(0)));
  transport->answers.push_back(answer(200, R"({"metadata":{"name":"p"}})"));
  ASSERT_TRUE(client->get(resources::kPod, "ns", "p").ok());
  for (int i = 0; i < 3; ++i) transport->answers.push_back(answer(429, "{}", std::chrono::seconds(0)));
  auto refused = client->get(resources::kPod, "ns", "p");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().tooManyRequests());
  EXPECT_EQ(transport->seen.size(), 2u + 3u);   // max_retries = 2: three attempts
}

TEST_F(ScriptedClientTest, WritesAreNotRetriedOnTransportErrors) {
  transport->answers.push_back(Error{ErrorKind::Transport, 0, "", "connection reset"});
  auto r = client->create(resources::kConfigMap, parseJson(R"({"metadata":{"name":"c"}})").value());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(transport->seen.size(), 1u);
  EXPECT_EQ(transport->seen[0].target, "/api/v1/namespaces/default/configmaps");
}

TEST_F(ScriptedClientTest, RequestsAreBuiltAsTheApiExpects) {
  for (int i = 0; i < 4; ++i) transport->answers.push_back(answer(200, R"({"metadata":{"name":"x"}})"));
  ListOptions o;
  o.label_selector = "app in (a,b),tier!=x";
  o.limit = 5;
  transport->answers.push_front(answer(200, R"({"items":[]})"));
  ASSERT_TRUE(client->list(resources::kDeployment, "my ns", o).ok());
  EXPECT_EQ(transport->seen.back().target,
            "/apis/apps/v1/namespaces/my%20ns/deployments?labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Dx&limit=5");
  ApplyOptions a;
  a.force = true;
  ASSERT_TRUE(client->apply(resources::kPool, parseJson(R"({"metadata":{"name":"x","namespace":"n"}})").value(), a).ok());
  const auto& req = transport->seen.back();
  EXPECT_EQ(req.method, "PATCH");
  EXPECT_EQ(req.content_type, "application/apply-patch+yaml");
  EXPECT_EQ(req.target, "/apis/vnfpool.io/v1alpha1/namespaces/n/pools/x?fieldManager=vnfpool-operator&force=true");
  EXPECT_EQ(getString(parseJson(req.body).value(), "kind"), "Pool");   // filled in from the resource
  ASSERT_TRUE(client->patch(resources::kCustomResourceDefinition, "ignored", "c", PatchType::JsonPatch,
                            parseJson("[]").value()).ok());
  EXPECT_EQ(transport->seen.back().target, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/c");
  EXPECT_EQ(transport->seen.back().content_type, "application/json-patch+json");
  DeleteOptions d;
  d.precondition_uid = "u1";
  ASSERT_TRUE(client->remove(resources::kPod, "n", "p", d).ok());
  EXPECT_EQ(getString(parseJson(transport->seen.back().body).value(), "preconditions.uid"), "u1");
  EXPECT_FALSE(client->update(resources::kPod, parseJson("{}").value()).ok());   // no name: BadInput, no request
}

TEST_F(ScriptedClientTest, WatchStreamsWithBadLinesEndWithAnError) {
  transport->streams.push_back({R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"3"}}})",
                                "{broken"});
  int seen = 0;
  auto r = client->watch(resources::kPod, "ns", {}, [&](const WatchEvent&) { return ++seen > 0; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::BadResponse);
  EXPECT_EQ(seen, 1);
  transport->streams.push_back({R"({"type":"SURPRISE","object":{}})"});
  EXPECT_EQ(client->watch(resources::kPod, "ns", {}, [](const WatchEvent&) { return true; }).error().kind,
            ErrorKind::BadResponse);
  transport->streams.push_back({R"({"type":"ADDED"})"});
  EXPECT_FALSE(client->watch(resources::kPod, "ns", {}, [](const WatchEvent&) { return true; }).ok());
  transport->streams.push_back({R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})"});
  auto expired = client->watch(resources::kPod, "ns", {}, [](const WatchEvent&) { return true; });
  ASSERT_FALSE(expired.ok());
  EXPECT_TRUE(expired.error().expired());
  transport->streams.push_back({R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"42"}}})"});
  EXPECT_EQ(client->watch(resources::kPod, "ns", {}, [](const WatchEvent&) { return true; }).value(), "42");
  EXPECT_NE(transport->seen.back().target.find("timeoutSeconds=300"), std::string::npos);
  EXPECT_NE(transport->seen.back().target.find("allowWatchBookmarks=true"), std::string::npos);
}

}  // namespace
}  // namespace vnfpool::kube
