#include "vnfpool/operator/operator.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "vnfpool/kube/controller.h"
#include "vnfpool/kube/events.h"
#include "vnfpool/kube/informer.h"
#include "vnfpool/kube/kinds.h"
#include "vnfpool/kube/leader_election.h"
#include "vnfpool/operator/admission.h"
#include "vnfpool/operator/certs.h"
#include "vnfpool/operator/registrars.h"
#include "vnfpool/operator/status.h"
#include "vnfpool/operator/webhook_server.h"

namespace vnfpool::op {
namespace {

using kube::Json;
using Clock = std::chrono::steady_clock;

std::string annotation(const Json& object, std::string_view key) {
  const auto ann = kube::getStringMap(object, "metadata.annotations");
  auto it = ann.find(std::string(key));
  return it == ann.end() ? std::string() : it->second;
}

bool podReady(const Json& pod) {
  const Json* conds = kube::find(pod, "status");
  if (conds == nullptr || !conds->is_object() || !conds->has_field("conditions")) return false;
  for (const auto& c : conds->at("conditions").as_array())
    if (kube::getString(c, "type").value_or("") == "Ready") return kube::getString(c, "status").value_or("") == "True";
  return false;
}

bool podTerminating(const Json& pod) { return kube::getString(pod, "metadata.deletionTimestamp").has_value(); }

std::vector<std::string> podIps(const Json& pod) {
  std::set<std::string> ips;
  if (auto ip = kube::getString(pod, "status.podIP"); ip && !ip->empty()) ips.insert(*ip);
  if (const auto* list = kube::find(pod, "status"); list && list->is_object() && list->has_field("podIPs")) {
    for (const auto& e : list->at("podIPs").as_array())
      if (auto ip = kube::getString(e, "ip"); ip && !ip->empty()) ips.insert(*ip);
  }
  return {ips.begin(), ips.end()};
}

std::string randomSuffix() {
  std::random_device rd;
  std::ostringstream out;
  out << std::hex << (rd() & 0xffffffu);
  return out.str();
}

std::string nowRfc3339() {
  auto t = kube::nowMicroTime();
  // Conditions use second precision (metav1.Time).
  auto dot = t.find('.');
  return dot == std::string::npos ? t : t.substr(0, dot) + "Z";
}

}  // namespace

struct Operator::Impl {
  Settings s;
  kube::Client& client;
  observe::Logger log;
  observe::Metrics& metrics;
  observe::Health& health;
  RegistrarSet registrars;
  kube::EventRecorder recorder;
  kube::Informer pools;
  kube::Informer pods;
  kube::Informer deployments;
  kube::Controller controller;
  std::atomic<bool> leading{false};
  std::atomic<bool> lost_leadership{false};
  std::unique_ptr<WebhookServer> webhook;
  InjectionSettings injection;

  // Failover work: addresses to remove, in arrival order, with the time the event arrived.
  struct FailoverJob {
    std::string pod;
    std::string ns;
    std::string pool;          // Pool resource name (to requeue it)
    std::vector<std::string> ips;
    Clock::time_point seen;
  };
  std::mutex fo_mu;
  std::condition_variable_any fo_cv;
  std::deque<FailoverJob> fo_queue;
  std::map<std::string, bool> serving;   // pod uid -> last seen serving (Ready, not terminating)

  std::mutex handles_mu;
  std::map<std::string, std::string> handles;   // Pool key -> pool handle pushed to the registrars
  std::set<std::string> unmanaged_seen;

  prometheus::Gauge& queue_depth;
  prometheus::Gauge& leader_gauge;
  prometheus::Gauge& cert_expiry;
  prometheus::Gauge& unmanaged_gauge;
  prometheus::Histogram& failover_seconds;
  prometheus::Counter& failover_removed;

  Impl(Settings settings, kube::Client& c, observe::Logger l, observe::Metrics& m, observe::Health& h)
      : s(std::move(settings)),
        client(c),
        log(std::move(l)),
        metrics(m),
        health(h),
        registrars(s.registrars, s.registrar_deadline),
        recorder(c, kube::EventRecorderOptions{"vnfpool-operator", s.identity}),
        pools(c, kube::resources::kPool, informerOptions()),
        pods(c, kube::resources::kPod, informerOptions()),
        deployments(c, kube::resources::kDeployment, informerOptions()),
        controller([this](const kube::ObjectKey& key) { return reconcile(key); }, 2),
        queue_depth(m.gauge("vnfpool_operator_queue_depth", "Pool keys waiting in the work queue.")),
        leader_gauge(m.gauge("vnfpool_operator_leader", "1 while this replica holds the leader Lease.")),
        cert_expiry(m.gauge("vnfpool_webhook_certificate_expiry_timestamp_seconds",
                            "notAfter of the webhook's serving certificate (Unix time).")),
        unmanaged_gauge(m.gauge("vnfpool_operator_unmanaged_pools",
                                "Pools in the handlespace without a Pool resource (reported, never deleted).")),
        failover_seconds(m.histogram("vnfpool_operator_failover_duration_seconds",
                                     "Pod event to every registrar having answered the removal.",
                                     observe::Metrics::latencyBuckets())),
        failover_removed(m.counter("vnfpool_operator_failover_removed_total",
                                   "Pool elements removed from registrars because their Pod went away.")) {
    metrics.onRender([this] { queue_depth.Set(static_cast<double>(controller.pending())); });
  }

  kube::InformerOptions informerOptions() const {
    kube::InformerOptions o;
    o.namespace_name = s.watch_namespace;
    return o;
  }

  // --- Pool reconcile ----------------------------------------------------------------------------

  std::optional<PoolDefaults> poolDefaults(const std::string& ns, const std::string& name) const {
    auto pool = pools.get(ns + "/" + name);
    if (!pool) return std::nullopt;
    PoolDefaults d;
    d.pool_handle = kube::getString(*pool, "spec.poolHandle").value_or(name);
    d.policy = policyShortName(kube::getString(*pool, "spec.policy").value_or("RoundRobin")).value_or("rr");
    auto transport = kube::getString(*pool, "spec.transport").value_or("");
    for (auto& ch : transport) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    d.transport = transport;
    d.dialect = kube::getString(*pool, "spec.dialect").value_or("");
    d.weight = kube::getInt(*pool, "spec.policyParameters.weight");
    d.priority = kube::getInt(*pool, "spec.policyParameters.priority");
    d.load_degradation = kube::getInt(*pool, "spec.policyParameters.loadDegradation");
    return d;
  }

  kube::Result<kube::Requeue> reconcile(const kube::ObjectKey& key) {
    const auto started = Clock::now();
    auto result = reconcileOnce(key);
    const auto seconds = std::chrono::duration<double>(Clock::now() - started).count();
    metrics.histogram("vnfpool_operator_reconcile_duration_seconds", "Time to reconcile one Pool.",
                      observe::Metrics::latencyBuckets(), {{"controller", "pool"}})
        .Observe(seconds);
    metrics.counter("vnfpool_operator_reconcile_total", "Reconciles by controller and result.",
                    {{"controller", "pool"}, {"result", result.ok() ? "success" : "error"}})
        .Increment();
    if (!result.ok()) log.warn("reconcile failed", {{"pool", key.str()}, {"err", result.error().describe()}});
    return result;
  }

  kube::Result<kube::Requeue> reconcileOnce(const kube::ObjectKey& key) {
    auto cached = pools.get(key.str());
    if (!cached) {
      // Deleted: unpin its policy (its members stay; they leave when their Pods do).
      std::string handle;
      {
        std::lock_guard lock(handles_mu);
        if (auto it = handles.find(key.str()); it != handles.end()) {
          handle = it->second;
          handles.erase(it);
        }
      }
      if (!handle.empty()) {
        for (const auto& reply : registrars.setPoolPolicy(handle, "", 0, true))
          if (!reply.ok) log.debug("clearing the policy pin failed", {{"pool", handle}, {"peer", reply.endpoint}});
      }
      return kube::Requeue::never();
    }
    const Json& pool = *cached;
    const auto handle = kube::getString(pool, "spec.poolHandle").value_or(key.name);
    const auto policy = kube::getString(pool, "spec.policy").value_or("RoundRobin");
    const auto items = kube::getInt(pool, "spec.handleResolution.items").value_or(0);
    {
      std::lock_guard lock(handles_mu);
      handles[key.str()] = handle;
    }
    // 1. Pin the policy on every registrar, so registrations with another policy are refused.
    const auto short_policy = policyShortName(policy).value_or("rr");
    for (const auto& reply : registrars.setPoolPolicy(handle, short_policy, static_cast<std::uint32_t>(std::max<std::int64_t>(items, 0)))) {
      if (!reply.ok) log.debug("SetPoolPolicy failed", {{"pool", handle}, {"peer", reply.endpoint}, {"err", reply.error}});
    }
    // 2. Read every registrar's view, and the Pods that claim the pool.
    Observation o;
    o.generation = kube::getInt(pool, "metadata.generation").value_or(0);
    o.policy = policy;
    o.min_members = kube::getInt(pool, "spec.minMembers").value_or(1);
    o.registrars = registrars.getPool(handle);
    o.now = nowRfc3339();
    for (const auto& pod : pods.list()) {
      if (kube::getString(pod, "metadata.namespace").value_or("") != key.namespace_name) continue;
      if (annotation(pod, annotations::kPool) != key.name) continue;
      PodView v;
      v.name = kube::getString(pod, "metadata.name").value_or("");
      v.ips = podIps(pod);
      v.ready = podReady(pod);
      v.terminating = podTerminating(pod);
      v.wants_sidecar = annotation(pod, annotations::kInject) != "false";
      v.has_sidecar = hasSidecar(pod);
      o.pods.push_back(std::move(v));
    }
    const auto previous = PoolStatus::fromPool(pool);
    auto desired = desiredStatus(o, previous);
    if (!(desired == previous)) {
      Json patch = Json::object();
      patch["status"] = desired.toJson();
      auto written = client.patch(kube::resources::kPool, key.namespace_name, key.name, kube::PatchType::Merge, patch,
                                  {}, "status");
      if (!written.ok()) {
        if (written.notFound()) return kube::Requeue::never();
        return written.error();
      }
      recordTransitions(pool, previous, desired);
      log.info("pool status", {{"pool", key.str()},
                               {"members", desired.members},
                               {"ready", desired.ready_members},
                               {"registrars", desired.registrars}});
    }
    if (std::none_of(o.registrars.begin(), o.registrars.end(), [](const auto& r) { return r.reachable; }) &&
        !o.registrars.empty())
      log.warn("no registrar answered", {{"pool", key.str()}});
    return kube::Requeue::after(s.refresh);
  }

  void recordTransitions(const Json& pool, const PoolStatus& before, const PoolStatus& after) {
    auto meta = kube::ObjectMeta::fromJson(pool);
    if (!meta.ok()) return;
    const auto ref = kube::ObjectReference::of(kube::resources::kPool, meta.value());
    auto changed = [&](std::string_view type) -> const kube::Condition* {
      const auto* a = after.condition(type);
      const auto* b = before.condition(type);
      if (a == nullptr || (b != nullptr && b->status == a->status)) return nullptr;
      return a;
    };
    if (const auto* c = changed("Ready"))
      (void)recorder.record(ref, c->status == "True" ? kube::EventType::Normal : kube::EventType::Warning,
                            c->status == "True" ? "PoolReady" : "PoolNotReady", c->message);
    if (const auto* c = changed("PolicyConflict"); c && c->status == "True")
      (void)recorder.record(ref, kube::EventType::Warning, "PolicyConflict", c->message);
    if (const auto* c = changed("InjectionMissing"); c && c->status == "True")
      (void)recorder.record(ref, kube::EventType::Warning, "InjectionMissing", c->message);
    if (const auto* c = changed("HandlespaceSynced"); c && c->status == "False")
      (void)recorder.record(ref, kube::EventType::Warning, "HandlespaceNotSynced", c->message);
  }

  // --- Unmanaged pools -----------------------------------------------------------------------------

  void sweepUnmanaged() {
    bool ok = false;
    auto present = registrars.listPools(ok);
    if (!ok) return;
    std::set<std::string> managed;
    for (const auto& p : pools.list())
      managed.insert(kube::getString(p, "spec.poolHandle").value_or(kube::getString(p, "metadata.name").value_or("")));
    std::size_t n = 0;
    for (const auto& p : present) {
      if (managed.contains(p)) continue;
      ++n;
      if (unmanaged_seen.insert(p).second) log.warn("pool in the handlespace has no Pool resource", {{"pool", p}});
    }
    unmanaged_gauge.Set(static_cast<double>(n));
  }

  // --- Fast failover -------------------------------------------------------------------------------

  std::vector<kube::ObjectKey> poolOfPod(const Json& pod) {
    auto name = annotation(pod, annotations::kPool);
    if (name.empty()) return {};
    return {kube::ObjectKey{kube::getString(pod, "metadata.namespace").value_or(""), name}};
  }

  void podEvent(const Json* old_pod, const Json* new_pod) {
    const Json& pod = new_pod ? *new_pod : *old_pod;
    const auto pool = annotation(pod, annotations::kPool);
    if (pool.empty()) return;
    const auto uid = kube::getString(pod, "metadata.uid").value_or("");
    const bool now_serving = new_pod != nullptr && podReady(*new_pod) && !podTerminating(*new_pod);
    bool was_serving = false;
    {
      std::lock_guard lock(fo_mu);
      auto it = serving.find(uid);
      was_serving = it != serving.end() ? it->second : (old_pod != nullptr && podReady(*old_pod) && !podTerminating(*old_pod));
      if (new_pod) serving[uid] = now_serving;
      else serving.erase(uid);
    }
    if (!s.failover || !leading.load() || now_serving) return;
    // Leaving service: deleted, terminating or NotReady. A Pod never seen serving has registered nothing
    // we trust, but a deletion still clears its address (cheap, idempotent).
    if (!was_serving && new_pod != nullptr) return;
    std::vector<std::string> ips = podIps(pod);
    if (old_pod) for (auto& ip : podIps(*old_pod)) ips.push_back(ip);
    std::sort(ips.begin(), ips.end());
    ips.erase(std::unique(ips.begin(), ips.end()), ips.end());
    if (ips.empty()) return;
    {
      std::lock_guard lock(fo_mu);
      fo_queue.push_back({kube::getString(pod, "metadata.name").value_or(""),
                          kube::getString(pod, "metadata.namespace").value_or(""), pool, ips, Clock::now()});
    }
    fo_cv.notify_one();
  }

  void failoverLoop(std::stop_token stop) {
    while (!stop.stop_requested()) {
      FailoverJob job;
      {
        std::unique_lock lock(fo_mu);
        if (!fo_cv.wait(lock, stop, [&] { return !fo_queue.empty(); })) return;
        job = std::move(fo_queue.front());
        fo_queue.pop_front();
      }
      std::uint32_t removed = 0;
      std::size_t failed = 0;
      for (const auto& r : registrars.removePoolElements("", job.ips)) {
        if (r.ok) removed += r.count;
        else ++failed;
      }
      const auto took = std::chrono::duration<double>(Clock::now() - job.seen).count();
      failover_seconds.Observe(took);
      failover_removed.Increment(static_cast<double>(removed));
      std::string addrs;
      for (const auto& ip : job.ips) addrs += (addrs.empty() ? "" : ",") + ip;
      log.info("pod left service: pool elements removed",
               {{"pod", job.ns + "/" + job.pod}, {"address", addrs}, {"removed", static_cast<std::int64_t>(removed)},
                {"failed_registrars", static_cast<std::int64_t>(failed)}, {"seconds", took}});
      controller.enqueue({job.ns, job.pool});
    }
  }

  // --- Deployments annotated on their own metadata --------------------------------------------------

  // Mirrors the vnfpool.io/* annotations of a Deployment's metadata into its pod template (marked with
  // vnfpool.io/rollout: operator), which rolls the Deployment out so its new Pods get the sidecar; when
  // the Deployment loses vnfpool.io/pool, removes what it mirrored (another rollout: the new Pods leave
  // the pool, the old ones are removed from the registrars as they are deleted).
  void deploymentEvent(const Json& deployment) {
    if (!leading.load() || !s.deployment_rollout) return;
    const auto meta = kube::getStringMap(deployment, "metadata.annotations");
    const auto tmpl = kube::getStringMap(deployment, "spec.template.metadata.annotations");
    const auto tmpl_labels = kube::getStringMap(deployment, "spec.template.metadata.labels");
    // The chart's webhook selects Pods by the label vnfpool.io/inject=true (selectors cannot match
    // annotations), so the template gets that label too.
    Json labels = Json::object();
    const bool labelled = tmpl_labels.count("vnfpool.io/inject") != 0 && tmpl_labels.at("vnfpool.io/inject") == "true";
    const bool managed = tmpl.count("vnfpool.io/rollout") != 0 && tmpl.at("vnfpool.io/rollout") == "operator";
    const bool wanted = meta.count(std::string(annotations::kPool)) != 0;
    Json ann = Json::object();
    bool change = false;
    if (wanted) {
      for (const auto& [k, v] : meta) {
        if (k.rfind("vnfpool.io/", 0) != 0 || k == annotations::kInjected) continue;
        auto it = tmpl.find(k);
        if (it == tmpl.end() || it->second != v) change = true;
        ann[k] = Json::string(v);
      }
      for (const auto& [k, v] : tmpl) {
        if (managed && k.rfind("vnfpool.io/", 0) == 0 && k != "vnfpool.io/rollout" && !meta.count(k)) {
          ann[k] = Json::null();
          change = true;
        }
      }
      if (!managed) change = true;
      ann["vnfpool.io/rollout"] = Json::string("operator");
      if (!labelled && !(meta.count("vnfpool.io/inject") && meta.at("vnfpool.io/inject") == "false")) {
        labels["vnfpool.io/inject"] = Json::string("true");
        change = true;
      }
    } else if (managed) {
      for (const auto& [k, v] : tmpl)
        if (k.rfind("vnfpool.io/", 0) == 0) ann[k] = Json::null();
      if (labelled) labels["vnfpool.io/inject"] = Json::null();
      change = true;
    }
    if (!change) return;
    Json patch = Json::object();
    kube::set(patch, "spec.template.metadata.annotations", ann);
    if (labels.size() > 0) kube::set(patch, "spec.template.metadata.labels", labels);
    const auto ns = kube::getString(deployment, "metadata.namespace").value_or("");
    const auto name = kube::getString(deployment, "metadata.name").value_or("");
    auto r = client.patch(kube::resources::kDeployment, ns, name, kube::PatchType::Merge, patch);
    if (!r.ok()) {
      log.warn("cannot roll out the Deployment", {{"deployment", ns + "/" + name}, {"err", r.error().describe()}});
      return;
    }
    log.info(wanted ? "Deployment annotated: rolling out with the sidecar" : "Deployment no longer annotated: rolling out without",
             {{"deployment", ns + "/" + name}});
  }

  // --- Webhook and certificates ----------------------------------------------------------------------

  WebhookReply admit(const std::string& body) {
    const auto started = Clock::now();
    WebhookReply reply;
    auto review = kube::parseJson(body);
    AdmissionOutcome outcome;
    if (!review.ok()) {
      outcome.result = "invalid";
      reply.status = 400;
      reply.body = R"({"message":"request body is not JSON"})";
    } else {
      outcome = admissionResponse(review.value(), injection,
                                  [this](const std::string& ns, const std::string& name) { return poolDefaults(ns, name); });
      reply.status = outcome.result == "invalid" ? 400 : 200;
      reply.body = kube::toString(outcome.review);
      if (outcome.result == "denied" || outcome.result == "injected") {
        log.info("admission", {{"result", outcome.result},
                               {"pod", kube::getString(review.value(), "request.namespace").value_or("") + "/" +
                                           kube::getString(review.value(), "request.object.metadata.name")
                                               .value_or(kube::getString(review.value(), "request.object.metadata.generateName").value_or(""))}});
      }
    }
    metrics.counter("vnfpool_operator_webhook_requests_total", "Admission requests by result.",
                    {{"result", outcome.result}})
        .Increment();
    metrics.histogram("vnfpool_operator_webhook_duration_seconds", "Time to answer an admission request.",
                      observe::Metrics::latencyBuckets())
        .Observe(std::chrono::duration<double>(Clock::now() - started).count());
    return reply;
  }

  void installCertificate(const KeyPair& pair) {
    if (auto st = webhook->setCertificate(pair); !st.ok()) {
      log.error("cannot load the serving certificate", {{"err", st.error().describe()}});
      return;
    }
    if (auto after = certificateNotAfter(pair.cert_pem); after.ok()) {
      const auto epoch = std::chrono::duration<double>(after.value().time_since_epoch()).count();
      cert_expiry.Set(epoch);
    }
    health.setCondition("webhook_certificate", true);
  }

  void certLoop(std::stop_token stop) {
    CertManager manager(client, s.certs);
    std::string served;
    std::mutex mu;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      auto wait = s.cert_check;
      if (s.cert_mode == "files") {
        std::ifstream c(s.cert_dir + "/tls.crt"), k(s.cert_dir + "/tls.key");
        std::stringstream cs, ks;
        cs << c.rdbuf();
        ks << k.rdbuf();
        if (!cs.str().empty() && cs.str() + ks.str() != served) {
          installCertificate({cs.str(), ks.str()});
          served = cs.str() + ks.str();
          log.info("webhook certificate loaded from files", {{"dir", s.cert_dir}});
        }
      } else {
        auto bundle = manager.ensure();
        if (!bundle.ok()) {
          log.warn("webhook certificate not ensured", {{"err", bundle.error().describe()}});
          wait = std::min<std::chrono::milliseconds>(wait, std::chrono::milliseconds(2000));
        } else {
          const auto pem = bundle.value().serving.cert_pem;
          if (pem != served) {
            installCertificate(bundle.value().serving);
            if (!served.empty()) log.info("webhook certificate rotated (served without restart)");
            served = pem;
          }
          const auto due = manager.rotationDue(bundle.value());
          const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(due - std::chrono::system_clock::now());
          wait = std::clamp(until + std::chrono::milliseconds(50), std::chrono::milliseconds(100), wait);
        }
      }
      std::unique_lock lock(mu);
      cv.wait_for(lock, stop, wait, [] { return false; });
    }
  }

  bool detectNativeSidecars() {
    if (s.native_sidecars == "true") return true;
    if (s.native_sidecars == "false") return false;
    auto v = client.version();
    if (!v.ok()) {
      log.warn("cannot read the API server version; injecting classic sidecar containers", {{"err", v.error().describe()}});
      return false;
    }
    const auto major = kube::getString(v.value(), "major").value_or("1");
    auto minor = kube::getString(v.value(), "minor").value_or("0");
    while (!minor.empty() && !std::isdigit(static_cast<unsigned char>(minor.back()))) minor.pop_back();
    const int mi = minor.empty() ? 0 : std::atoi(minor.c_str());
    return major != "1" || mi >= 29;
  }

  // --- Run -----------------------------------------------------------------------------------------

  int run(std::stop_token stop) {
    if (s.identity.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof host - 1);
      const char* pod = std::getenv("POD_NAME");
      s.identity = std::string(pod ? pod : host) + "_" + randomSuffix();
    }
    injection = s.injection;
    if (s.webhook) {
      injection.native_sidecar = detectNativeSidecars();
      log.info("sidecar injection", {{"mode", injection.native_sidecar ? "native" : "container"}});
      webhook = std::make_unique<WebhookServer>(s.webhook_listen, s.webhook_path,
                                                [this](const std::string& body) { return admit(body); });
      health.setCondition("webhook_certificate", false, "no certificate yet");
      if (auto st = webhook->start(); !st.ok()) {
        log.error("webhook cannot start", {{"err", st.error().describe()}});
        return 2;
      }
    }
    health.setCondition("informers_synced", false, "listing Pools and Pods");
    controller.watch(pools);
    controller.watch(pods, [this](const Json& pod) { return poolOfPod(pod); });
    pods.addHandlers({[this](const Json& p) { podEvent(nullptr, &p); },
                      [this](const Json& a, const Json& b) { podEvent(&a, &b); },
                      [this](const Json& p) { podEvent(&p, nullptr); }});

    deployments.addHandlers({[this](const Json& d) { deploymentEvent(d); },
                             [this](const Json&, const Json& d) { deploymentEvent(d); }, {}});

    std::stop_source local;
    std::stop_callback forward(stop, [&] { local.request_stop(); });
    std::vector<std::jthread> threads;
    threads.emplace_back([this, st = local.get_token()] { pools.run(st); });
    threads.emplace_back([this, st = local.get_token()] { pods.run(st); });
    if (s.deployment_rollout) threads.emplace_back([this, st = local.get_token()] { deployments.run(st); });
    threads.emplace_back([this, st = local.get_token()] { failoverLoop(st); });
    if (s.webhook) threads.emplace_back([this, st = local.get_token()] { certLoop(st); });
    threads.emplace_back([this, st = local.get_token()] {
      if (pools.waitForSync(st) && pods.waitForSync(st)) health.setCondition("informers_synced", true);
    });

    auto lead = [this](std::stop_token st) {
      pools.waitForSync(st);
      pods.waitForSync(st);
      leading = true;
      leader_gauge.Set(1);
      log.info("leading: reconciling", {{"identity", s.identity}});
      for (const auto& key : pools.keys()) controller.enqueue(kube::ObjectKey::parse(key));
      // Never held up by Deployments (e.g. missing RBAC): the first pass over them runs on its own.
      std::jthread rollouts([this](std::stop_token dst) {
        if (s.deployment_rollout && deployments.waitForSync(dst))
          for (const auto& d : deployments.list()) deploymentEvent(d);
      });
      std::jthread sweeper([this](std::stop_token sst) {
        std::mutex mu;
        std::condition_variable_any cv;
        while (!sst.stop_requested()) {
          sweepUnmanaged();
          std::unique_lock lock(mu);
          cv.wait_for(lock, sst, s.refresh, [] { return false; });
        }
      });
      controller.run(st);
    };

    if (s.leader_election) {
      kube::LeaderElectionConfig le;
      le.namespace_name = s.namespace_name;
      le.lease_name = s.lease_name;
      le.identity = s.identity;
      le.lease_duration = s.lease_duration;
      le.renew_deadline = s.renew_deadline;
      le.retry_period = s.retry_period;
      kube::LeaderCallbacks cb;
      cb.on_started_leading = lead;
      cb.on_stopped_leading = [this, &local] {
        leader_gauge.Set(0);
        // Stepping down because we were asked to stop is a clean exit, not a lost election.
        if (leading.exchange(false) && !local.get_token().stop_requested()) {
          lost_leadership = true;
          log.warn("leadership lost: exiting so the process restarts clean");
          local.request_stop();
        }
      };
      cb.on_new_leader = [this](const std::string& id) { log.info("leader", {{"identity", id}}); };
      kube::LeaderElector elector(client, le, cb);
      auto st = elector.run(local.get_token());
      if (!st.ok()) {
        log.error("leader election", {{"err", st.error().describe()}});
        local.request_stop();
      }
      // run() returns when stopped or after losing the lease.
      if (!local.get_token().stop_requested()) {
        lost_leadership = true;
        local.request_stop();
      }
    } else {
      lead(local.get_token());
    }
    local.request_stop();
    threads.clear();
    if (webhook) webhook->stop();
    return lost_leadership ? 1 : 0;
  }
};

Operator::Operator(Settings settings, kube::Client& client, observe::Logger log, observe::Metrics& metrics,
                   observe::Health& health)
    : impl_(std::make_unique<Impl>(std::move(settings), client, std::move(log), metrics, health)) {}

Operator::~Operator() = default;

int Operator::run(std::stop_token stop) { return impl_->run(stop); }

}  // namespace vnfpool::op
