#include "admin_service.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <optional>
#include <mutex>

#include <boost/asio/post.hpp>

#include "convert.h"
#include "vnfpool/registrar/registrar.h"
#include "vnfpool/v1/registrar.grpc.pb.h"

namespace vnfpool::registrar {

namespace v1 = vnfpool::v1;
using namespace std::chrono_literals;

class AdminServiceImpl final : public v1::RegistrarAdmin::Service {
 public:
  AdminServiceImpl(boost::asio::io_context& loop, Registrar& registrar, const std::atomic<bool>& stopping)
      : loop_(loop), registrar_(registrar), stopping_(stopping) {}

  grpc::Status GetRegistrar(grpc::ServerContext*, const v1::GetRegistrarRequest*, v1::Registrar* out) override {
    return onLoop([&] {
      const auto& hs = registrar_.handlespace();
      out->set_pr_id(registrar_.id());
      out->set_version(observe::buildInfo().version);
      for (const auto& l : registrar_.asapEndpoints()) {
        auto* e = out->add_asap_endpoints();
        e->set_transport(std::string(transport::protocolName(l.protocol)));
        e->set_address(l.at.address.to_string());
        e->set_port(l.at.port);
        e->set_dialect(l.dialect == wire::Dialect::Ng ? "ng" : "classic");
      }
      out->set_pools(static_cast<std::uint32_t>(hs.poolCount()));
      out->set_pool_elements(static_cast<std::uint32_t>(hs.size()));
      out->set_own_pool_elements(static_cast<std::uint32_t>(hs.ownerSize(registrar_.id())));
      out->set_connections(static_cast<std::uint32_t>(registrar_.connectionCount()));
      return grpc::Status::OK;
    });
  }

  grpc::Status ListPools(grpc::ServerContext*, const v1::ListPoolsRequest*, v1::ListPoolsResponse* out) override {
    return onLoop([&] {
      const auto& hs = registrar_.handlespace();
      auto handles = hs.poolHandles();
      std::sort(handles.begin(), handles.end());
      for (const auto& h : handles) {
        auto* p = out->add_pools();
        p->set_pool(h);
        p->set_policy(policyName(hs.poolPolicy(h).value_or(0)));
        p->set_members(static_cast<std::uint32_t>(hs.poolSize(h)));
      }
      return grpc::Status::OK;
    });
  }

  grpc::Status GetPool(grpc::ServerContext*, const v1::GetPoolRequest* in, v1::Pool* out) override {
    return onLoop([&] {
      const auto& hs = registrar_.handlespace();
      auto policy = hs.poolPolicy(in->pool());
      if (!policy) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no pool \"" + in->pool() + "\"");
      out->set_pool(in->pool());
      out->set_policy(policyName(*policy));
      for (const auto ref : hs.poolMembers(in->pool()))
        toProto(hs.view(ref), registrar_.id(), *out->add_members());
      return grpc::Status::OK;
    });
  }

  grpc::Status DumpHandlespace(grpc::ServerContext*, const v1::DumpHandlespaceRequest* in,
                               v1::DumpHandlespaceResponse* out) override {
    handlespace::TableCursor cursor;
    if (!in->page_token().empty() && !parseCursor(in->page_token(), cursor)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad page_token");
    }
    const std::size_t page = in->page_size() == 0 ? 1000 : std::min<std::size_t>(in->page_size(), 10000);
    return onLoop([&] {
      const auto& hs = registrar_.handlespace();
      auto table = hs.handleTable(std::nullopt, cursor, page);
      for (const auto ref : table.entries) toProto(hs.view(ref), registrar_.id(), *out->add_pool_elements());
      if (table.next) out->set_next_page_token(formatCursor(*table.next));
      out->set_total(static_cast<std::uint32_t>(hs.size()));
      return grpc::Status::OK;
    });
  }

  grpc::Status WatchHandlespace(grpc::ServerContext* ctx, const v1::WatchHandlespaceRequest* in,
                                grpc::ServerWriter<v1::HandlespaceEvent>* writer) override {
    struct Queue {
      std::mutex mutex;
      std::condition_variable cv;
      std::deque<v1::HandlespaceEvent> events;
      bool overflow = false;
    };
    auto queue = std::make_shared<Queue>();
    const wire::PrId self = registrar_.id();
    std::uint64_t id = 0;
    auto subscribed = onLoop([&] {
      id = registrar_.watch(
          [queue, self](const HandlespaceEvent& e) {
            v1::HandlespaceEvent out;
            toProto(e, self, out);
            std::lock_guard lock(queue->mutex);
            if (queue->events.size() >= kMaxQueued) {
              queue->overflow = true;  // a watcher that cannot keep up is cut off, not buffered without end
            } else {
              queue->events.push_back(std::move(out));
            }
            queue->cv.notify_one();
          },
          in->snapshot());
      return grpc::Status::OK;
    });
    if (!subscribed.ok()) return subscribed;
    grpc::Status result = grpc::Status::OK;
    std::deque<v1::HandlespaceEvent> batch;
    bool open = true;
    while (open) {
      {
        std::unique_lock lock(queue->mutex);
        queue->cv.wait_for(lock, 100ms, [&] { return !queue->events.empty() || queue->overflow; });
        if (queue->overflow) {
          result = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "watcher too slow: events dropped");
          break;
        }
        if (queue->events.empty()) {
          if (ctx->IsCancelled() || stopping_) break;
          continue;
        }
        batch.swap(queue->events);
      }
      // Everything queued goes out together: all but the last write only fill gRPC's buffer, so a
      // takeover's thousands of changes cost a few network writes instead of one each.
      while (!batch.empty()) {
        const bool last = batch.size() == 1;
        grpc::WriteOptions options;
        if (!last) options.set_buffer_hint();
        if (!writer->Write(batch.front(), options)) {
          open = false;
          break;
        }
        batch.pop_front();
      }
    }
    boost::asio::post(loop_, [this, id] { registrar_.unwatch(id); });
    return result;
  }

  grpc::Status DeregisterPe(grpc::ServerContext*, const v1::DeregisterPeRequest* in, v1::DeregisterPeResponse*) override {
    return onLoop([&] {
      if (!registrar_.deregisterPe(in->pool(), in->pe_id())) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "no PE " + std::to_string(in->pe_id()) + " in pool \"" +
                                                             in->pool() + "\"");
      }
      return grpc::Status::OK;
    });
  }

  grpc::Status ListPeers(grpc::ServerContext*, const v1::ListPeersRequest*, v1::ListPeersResponse* out) override {
    return onLoop([&] {
      for (const auto& p : registrar_.peers()) {
        auto* peer = out->add_peers();
        peer->set_pr_id(p.id);
        peer->set_state(p.state == enrp::PeerState::Alive     ? (p.mentor ? "alive (mentor)" : "alive")
                        : p.state == enrp::PeerState::Probing ? "probing"
                                                              : "syncing");
        for (const auto& t : p.transports) {
          for (const auto& a : t.addresses) {
            auto* e = peer->add_endpoints();
            e->set_transport(std::string(wire::transportName(t.kind)));
            e->set_address(a.toString());
            e->set_port(t.port);
            e->set_dialect(p.dialect == wire::Dialect::Ng ? "ng" : "classic");
          }
        }
      }
      return grpc::Status::OK;
    });
  }

  grpc::Status SetPoolPolicy(grpc::ServerContext*, const v1::SetPoolPolicyRequest* in,
                             v1::SetPoolPolicyResponse* out) override {
    const auto& p = in->policy();
    if (p.pool().empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "policy.pool is empty");
    PoolPolicyPin pin;
    pin.pool = p.pool();
    pin.handle_resolution_items = p.handle_resolution_items();
    if (!in->clear()) {
      const auto* info = wire::policyByName(p.policy());
      if (info == nullptr) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "unknown policy \"" + p.policy() + "\" (short names such as rr, wrr, lu, wrand)");
      }
      pin.policy = info->type;
    }
    return onLoop([&] {
      out->set_conflicting_members(static_cast<std::uint32_t>(registrar_.setPoolPolicy(pin, in->clear())));
      return grpc::Status::OK;
    });
  }

  grpc::Status ListPoolPolicies(grpc::ServerContext*, const v1::ListPoolPoliciesRequest*,
                                v1::ListPoolPoliciesResponse* out) override {
    return onLoop([&] {
      for (const auto& pin : registrar_.poolPolicies()) {
        auto* p = out->add_policies();
        p->set_pool(pin.pool);
        p->set_policy(policyName(static_cast<std::uint32_t>(pin.policy)));
        p->set_handle_resolution_items(pin.handle_resolution_items);
      }
      return grpc::Status::OK;
    });
  }

  grpc::Status RemovePoolElements(grpc::ServerContext*, const v1::RemovePoolElementsRequest* in,
                                  v1::RemovePoolElementsResponse* out) override {
    std::vector<wire::IpAddress> addresses;
    for (const auto& text : in->addresses()) {
      auto a = wire::IpAddress::parse(text);
      if (!a) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "\"" + text + "\" is not an IP address");
      addresses.push_back(*a);
    }
    if (addresses.empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no addresses given");
    return onLoop([&] {
      for (const auto& e : registrar_.removeByAddress(in->pool(), addresses)) {
        auto* pe = out->add_removed();
        pe->set_pool(e.pool);
        pe->set_pe_id(e.pe);
        pe->set_home_pr(e.owner);
      }
      return grpc::Status::OK;
    });
  }

 private:
  static constexpr std::size_t kMaxQueued = 100000;

  /// Runs `fn` on the loop and waits for it; gives up with UNAVAILABLE when the registrar stops. `fn`
  /// refers to this call's request and response, so a task that starts after the call gave up must not
  /// run it: the abandoned flag, checked under the call's mutex, makes sure of that.
  template <typename F>
  grpc::Status onLoop(F&& fn) {
    struct Call {
      std::mutex mutex;
      bool abandoned = false;
      std::optional<grpc::Status> status;
      std::condition_variable cv;
    };
    if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "registrar stopping");
    auto call = std::make_shared<Call>();
    boost::asio::post(loop_, [&fn, call] {
      std::lock_guard lock(call->mutex);
      if (call->abandoned) return;
      try {
        call->status = fn();
      } catch (const std::exception& e) {
        call->status = grpc::Status(grpc::StatusCode::INTERNAL, e.what());
      }
      call->cv.notify_one();
    });
    std::unique_lock lock(call->mutex);
    while (!call->status) {
      call->cv.wait_for(lock, 50ms);
      if (!call->status && stopping_) {
        call->abandoned = true;
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "registrar stopping");
      }
    }
    return *call->status;
  }

  boost::asio::io_context& loop_;
  Registrar& registrar_;
  const std::atomic<bool>& stopping_;
};

AdminServer::AdminServer(boost::asio::io_context& loop, Registrar& registrar)
    : service_(std::make_unique<AdminServiceImpl>(loop, registrar, stopping_)) {}

AdminServer::~AdminServer() { stop(); }

std::optional<std::string> AdminServer::start(const std::string& address) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    server_.reset();
    return std::nullopt;
  }
  const auto colon = address.rfind(':');
  return address.substr(0, colon) + ":" + std::to_string(port);
}

void AdminServer::stop() {
  if (!server_) return;
  stopping_ = true;
  server_->Shutdown(std::chrono::system_clock::now() + 1s);
  server_.reset();
}

}  // namespace vnfpool::registrar
