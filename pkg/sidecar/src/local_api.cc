#include "local_api.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <thread>

#include <boost/asio/post.hpp>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "vnfpool/v1/sidecar.grpc.pb.h"

namespace vnfpool::sidecar {

using namespace std::chrono_literals;
namespace pb = vnfpool::v1;

namespace {

double toPercent(std::uint32_t load) { return 100.0 * static_cast<double>(load) / wire::kFullLoad; }

std::optional<std::uint32_t> fromPercent(double percent) {
  if (!(percent >= 0.0 && percent <= 100.0)) return std::nullopt;  // also refuses NaN
  return static_cast<std::uint32_t>(std::llround(percent / 100.0 * wire::kFullLoad));
}

void fill(pb::SidecarPoolElement& out, const std::string& pool, const wire::PoolElement& pe) {
  out.set_pool_handle(pool);
  out.set_pe_id(pe.id);
  out.set_home_pr_id(pe.home_pr);
  auto* t = out.mutable_user_transport();
  t->set_protocol(std::string(wire::transportName(pe.user_transport.kind)));
  t->set_port(pe.user_transport.port);
  for (const auto& a : pe.user_transport.addresses) t->add_addresses(a.toString());
  auto* p = out.mutable_policy();
  const auto* info = wire::policyInfo(pe.policy.type);
  p->set_type(info != nullptr ? std::string(info->name) : std::to_string(pe.policy.type));
  if (auto v = pe.policy.get(wire::PolicyField::Weight)) p->set_weight(*v);
  if (auto v = pe.policy.get(wire::PolicyField::Priority)) p->set_priority(*v);
  if (auto v = pe.policy.get(wire::PolicyField::Load)) p->set_load_percent(toPercent(*v));
  if (auto v = pe.policy.get(wire::PolicyField::LoadDegradation)) p->set_load_degradation_percent(toPercent(*v));
}

}  // namespace

class LocalApiService final : public pb::Sidecar::Service {
 public:
  LocalApiService(boost::asio::io_context& loop, LocalOps& ops, const std::atomic<bool>& stopping)
      : loop_(loop), ops_(ops), stopping_(stopping) {}

  grpc::Status GetStatus(grpc::ServerContext*, const pb::GetStatusRequest*, pb::SidecarStatus* out) override {
    auto s = onLoop<StatusInfo>([this] { return ops_.status(); });
    if (!s) return unavailable();
    out->set_state(s->state);
    out->set_pool_handle(s->pool);
    out->set_pe_id(s->pe_id);
    out->set_home_pr_id(s->home);
    out->set_healthy(s->healthy);
    for (const auto& h : s->handles) fill(*out->add_handles(), h.pool, h.pe);
    return grpc::Status::OK;
  }

  grpc::Status RegisterHandle(grpc::ServerContext*, const pb::RegisterHandleRequest* in,
                              pb::RegisterHandleResponse* out) override {
    if (in->pool_handle().empty()) return invalid("pool_handle is empty");
    if (in->pool_handle().size() > 32) return invalid("pool_handle is longer than 32 bytes");
    if (in->port() == 0 || in->port() > 65535) return invalid("port must be 1..65535");
    wire::PoolElement pe;
    pe.id = in->pe_id();
    const auto kind = wire::transportFromName(in->protocol().empty() ? "tcp" : in->protocol());
    if (!kind) return invalid("protocol must be tcp, mptcp, udp or sctp");
    pe.user_transport.kind = *kind;
    pe.user_transport.port = static_cast<std::uint16_t>(in->port());
    for (const auto& text : in->addresses()) {
      auto a = wire::IpAddress::parse(text);
      if (!a) return invalid("\"" + text + "\" is not an IP address");
      pe.user_transport.addresses.push_back(*a);
    }
    const auto& policy = in->policy();
    const auto* info = wire::policyByName(policy.type().empty() ? "rr" : policy.type());
    if (info == nullptr) return invalid("unknown policy \"" + policy.type() + "\"");
    pe.policy = wire::Policy::make(info->type);
    auto load = fromPercent(policy.load_percent());
    auto degradation = fromPercent(policy.load_degradation_percent());
    if (!load || !degradation) return invalid("load percentages must be 0..100");
    pe.policy.set(wire::PolicyField::Weight, policy.weight() == 0 ? 1 : policy.weight());  // 0: unset
    pe.policy.set(wire::PolicyField::Priority, policy.priority());
    pe.policy.set(wire::PolicyField::Load, *load);
    pe.policy.set(wire::PolicyField::LoadDegradation, *degradation);
    const std::string pool = in->pool_handle();
    auto result = onLoop<std::pair<std::optional<std::string>, wire::PeId>>([this, pool, pe]() mutable {
      auto error = ops_.registerHandle(pool, pe);
      return std::pair{error, pe.id};
    });
    if (!result) return unavailable();
    if (result->first) return invalid(*result->first);
    out->set_pe_id(result->second);
    return grpc::Status::OK;
  }

  grpc::Status DeregisterHandle(grpc::ServerContext*, const pb::DeregisterHandleRequest* in,
                                pb::DeregisterHandleResponse*) override {
    const std::string pool = in->pool_handle();
    const wire::PeId id = in->pe_id();
    auto removed = onLoop<bool>([this, pool, id] { return ops_.deregisterHandle(pool, id); });
    if (!removed) return unavailable();
    if (!*removed) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no handle " + pool + " with that PE ID was registered through this API");
    return grpc::Status::OK;
  }

  grpc::Status UpdatePolicy(grpc::ServerContext*, const pb::UpdatePolicyRequest* in,
                            pb::UpdatePolicyResponse* out) override {
    PolicyUpdate u;
    if (in->has_weight()) u.weight = in->weight();
    if (in->has_priority()) u.priority = in->priority();
    if (in->has_load_percent()) {
      u.load = fromPercent(in->load_percent());
      if (!u.load) return invalid("load_percent must be 0..100");
    }
    if (in->has_load_degradation_percent()) {
      u.load_degradation = fromPercent(in->load_degradation_percent());
      if (!u.load_degradation) return invalid("load_degradation_percent must be 0..100");
    }
    const std::string pool = in->pool_handle();
    const wire::PeId id = in->pe_id();
    auto result = onLoop<std::variant<HandleInfo, std::string>>([this, pool, id, u] { return ops_.updatePolicy(pool, id, u); });
    if (!result) return unavailable();
    if (const auto* error = std::get_if<std::string>(&*result)) {
      return grpc::Status(error->starts_with("not found") ? grpc::StatusCode::NOT_FOUND : grpc::StatusCode::INVALID_ARGUMENT,
                          *error);
    }
    const auto& h = std::get<HandleInfo>(*result);
    fill(*out->mutable_pool_element(), h.pool, h.pe);
    return grpc::Status::OK;
  }

  grpc::Status Resolve(grpc::ServerContext*, const pb::ResolveRequest* in, pb::ResolveResponse* out) override {
    if (in->pool_handle().empty()) return invalid("pool_handle is empty");
    auto r = resolve(in->pool_handle(), in->items());
    if (!r) return unavailable();
    if (r->cause != 0) return causeStatus(*r);
    for (const auto& pe : r->pes) fill(*out->add_pool_elements(), r->pool, pe);
    return grpc::Status::OK;
  }

  grpc::Status ReportUnreachable(grpc::ServerContext*, const pb::ReportUnreachableRequest* in,
                                 pb::ReportUnreachableResponse*) override {
    if (in->pool_handle().empty() || in->pe_id() == 0) return invalid("pool_handle and pe_id are required");
    const std::string pool = in->pool_handle();
    const wire::PeId id = in->pe_id();
    if (!onLoop<bool>([this, pool, id] {
          ops_.reportUnreachable(pool, id);
          return true;
        }))
      return unavailable();
    return grpc::Status::OK;
  }

  grpc::Status Watch(grpc::ServerContext* context, const pb::WatchRequest* in,
                     grpc::ServerWriter<pb::PoolMembers>* writer) override {
    if (in->pool_handle().empty()) return invalid("pool_handle is empty");
    const auto interval = std::chrono::milliseconds(in->interval_ms() == 0 ? 1000 : std::max(in->interval_ms(), 50u));
    const std::uint32_t items = in->items() == 0 ? 128 : in->items();
    std::optional<std::string> last;
    while (!context->IsCancelled() && !stopping_) {
      auto r = resolve(in->pool_handle(), items);
      if (r && (r->cause == 0 || r->cause == static_cast<std::uint16_t>(wire::Cause::UnknownPoolHandle))) {
        pb::PoolMembers members;
        members.set_pool_handle(in->pool_handle());
        // Order by PE ID so that a rotating selection is no change; the policy values (load) are.
        auto pes = r->pes;
        std::sort(pes.begin(), pes.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
        for (const auto& pe : pes) fill(*members.add_pool_elements(), in->pool_handle(), pe);
        std::string bytes = members.SerializeAsString();
        if (!last || *last != bytes) {
          if (!writer->Write(members)) break;
          last = std::move(bytes);
        }
      }
      for (auto waited = 0ms; waited < interval && !context->IsCancelled() && !stopping_; waited += 20ms) {
        std::this_thread::sleep_for(std::min(20ms, interval - waited));
      }
    }
    return grpc::Status::OK;
  }

 private:
  static grpc::Status invalid(const std::string& text) { return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, text); }
  static grpc::Status unavailable() { return grpc::Status(grpc::StatusCode::UNAVAILABLE, "sidecar busy or stopping"); }
  static grpc::Status causeStatus(const asap::Resolved& r) {
    const auto code = r.cause == static_cast<std::uint16_t>(wire::Cause::UnknownPoolHandle) ? grpc::StatusCode::NOT_FOUND
                                                                                            : grpc::StatusCode::UNAVAILABLE;
    return grpc::Status(code, "cannot resolve \"" + r.pool + "\": " + wire::causeName(r.cause));
  }

  /// Runs `f` on the loop and waits for its value; nullopt when stopping or the loop does not answer.
  template <typename T, typename F>
  std::optional<T> onLoop(F f) {
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    boost::asio::post(loop_, [promise, f = std::move(f)]() mutable { promise->set_value(f()); });
    return wait(future, 10s);
  }

  std::optional<asap::Resolved> resolve(const std::string& pool, std::uint32_t items) {
    auto promise = std::make_shared<std::promise<asap::Resolved>>();
    auto future = promise->get_future();
    boost::asio::post(loop_, [this, promise, pool, items] {
      ops_.resolve(pool, items, [promise](const asap::Resolved& r) { promise->set_value(r); });
    });
    return wait(future, 15s);
  }

  template <typename T>
  std::optional<T> wait(std::future<T>& future, std::chrono::milliseconds limit) {
    for (auto waited = 0ms; waited < limit; waited += 50ms) {
      if (future.wait_for(50ms) == std::future_status::ready) return future.get();
      if (stopping_) return std::nullopt;
    }
    return std::nullopt;
  }

  boost::asio::io_context& loop_;
  LocalOps& ops_;
  const std::atomic<bool>& stopping_;
};

LocalApiServer::LocalApiServer(boost::asio::io_context& loop, LocalOps& ops)
    : service_(std::make_unique<LocalApiService>(loop, ops, stopping_)) {}

LocalApiServer::~LocalApiServer() { stop(); }

std::optional<std::uint16_t> LocalApiServer::start(const std::string& address) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service_.get());
  // A sidecar runs in every VNF pod: keep gRPC's thread pool small.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
  server_ = builder.BuildAndStart();
  if (!server_ || port <= 0 || port > 65535) {
    server_.reset();
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(port);
}

void LocalApiServer::stop() {
  if (!server_) return;
  stopping_ = true;
  server_->Shutdown(std::chrono::system_clock::now() + 1s);
  server_.reset();
}

}  // namespace vnfpool::sidecar
