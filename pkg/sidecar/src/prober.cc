#include "vnfpool/sidecar/prober.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

namespace vnfpool::sidecar {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// One TCP or HTTP probe: a socket, its timeout, and the answer given once.
struct StreamProbe : std::enable_shared_from_this<StreamProbe> {
  StreamProbe(asio::io_context& loop, Prober::Done d) : socket(loop), timer(loop), done(std::move(d)) {}
  tcp::socket socket;
  asio::steady_timer timer;
  asio::streambuf response;
  std::string request;
  Prober::Done done;
  bool answered = false;

  void finish(ProbeResult r) {
    if (answered) return;
    answered = true;
    timer.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
    auto d = std::move(done);
    d(std::move(r));
  }
};

/// grpc.health.v1.HealthCheckRequest {string service = 1;} as protobuf bytes (no generated code needed for
/// one string field).
std::string healthRequest(const std::string& service) {
  std::string out;
  if (service.empty()) return out;
  out.push_back('\x0a');
  std::size_t n = service.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  return out + service;
}

/// HealthCheckResponse {ServingStatus status = 1;}: the status, 0 (UNKNOWN) when absent or unreadable.
std::uint64_t healthStatus(const std::string& bytes) {
  std::size_t i = 0;
  std::uint64_t status = 0;
  auto varint = [&](std::uint64_t& v) {
    v = 0;
    for (int shift = 0; i < bytes.size() && shift < 64; shift += 7) {
      const auto b = static_cast<std::uint8_t>(bytes[i++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  while (i < bytes.size()) {
    std::uint64_t tag = 0;
    if (!varint(tag)) return 0;
    const auto wire_type = tag & 7;
    if (wire_type == 0) {
      std::uint64_t v = 0;
      if (!varint(v)) return 0;
      if ((tag >> 3) == 1) status = v;
    } else if (wire_type == 2) {
      std::uint64_t len = 0;
      if (!varint(len) || len > bytes.size() - i) return 0;
      i += static_cast<std::size_t>(len);
    } else {
      return 0;  // no other wire types in this message
    }
  }
  return status;
}

}  // namespace

class Prober::Impl : public std::enable_shared_from_this<Prober::Impl> {
 public:
  Impl(asio::io_context& loop, HealthSettings settings) : loop_(loop), settings_(std::move(settings)) {
    if (settings_.type == HealthType::Grpc) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      channel_ = grpc::CreateCustomChannel(settings_.target.toString(), grpc::InsecureChannelCredentials(), args);
      stub_ = std::make_unique<grpc::GenericStub>(channel_);
    }
  }

  void probe(Done done) {
    switch (settings_.type) {
      case HealthType::None:
        asio::post(loop_, [done = std::move(done)] { done(ProbeResult{true, false, "no check"}); });
        return;
      case HealthType::Tcp:
      case HealthType::Http: stream(std::move(done)); return;
      case HealthType::Grpc: grpcCheck(std::move(done)); return;
    }
  }

 private:
  void stream(Done done) {
    auto p = std::make_shared<StreamProbe>(loop_, std::move(done));
    std::weak_ptr<Impl> self = weak_from_this();
    // Answers only while the Prober lives.
    p->done = [self, d = std::move(p->done)](ProbeResult r) {
      if (self.lock()) d(std::move(r));
    };
    p->timer.expires_after(settings_.timeout);
    p->timer.async_wait([p](boost::system::error_code ec) {
      if (!ec) p->finish({false, false, "health check timed out"});
    });
    const bool http = settings_.type == HealthType::Http;
    if (http) {
      p->request = "GET " + settings_.path + " HTTP/1.1\r\nHost: " + settings_.target.toString() +
                   "\r\nUser-Agent: vnfpool-sidecar\r\nConnection: close\r\n\r\n";
    }
    p->socket.async_connect(settings_.target.toAsio(), [p, http](boost::system::error_code ec) {
      if (p->answered) return;
      if (ec) {
        p->finish({false, ec == asio::error::connection_refused, "connect: " + ec.message()});
        return;
      }
      if (!http) {
        p->finish({true, false, "connected"});
        return;
      }
      asio::async_write(p->socket, asio::buffer(p->request), [p](boost::system::error_code wec, std::size_t) {
        if (p->answered) return;
        if (wec) {
          p->finish({false, false, "send: " + wec.message()});
          return;
        }
        asio::async_read_until(p->socket, p->response, "\r\n", [p](boost::system::error_code rec, std::size_t n) {
          if (p->answered) return;
          if (rec && n == 0) {
            p->finish({false, false, "no HTTP answer: " + rec.message()});
            return;
          }
          std::string line(asio::buffers_begin(p->response.data()), asio::buffers_begin(p->response.data()) + static_cast<std::ptrdiff_t>(n));
          // "HTTP/1.1 200 OK"
          const auto sp = line.find(' ');
          int status = 0;
          if (line.starts_with("HTTP/") && sp != std::string::npos && line.size() >= sp + 4) {
            status = std::atoi(line.substr(sp + 1, 3).c_str());
          }
          if (status >= 200 && status < 400) {
            p->finish({true, false, "HTTP " + std::to_string(status)});
          } else {
            p->finish({false, false, status == 0 ? "not an HTTP answer" : "HTTP " + std::to_string(status)});
          }
        });
      });
    });
  }

  struct GrpcCall {
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
  };

  void grpcCheck(Done done) {
    auto call = std::make_shared<GrpcCall>();
    call->context.set_deadline(std::chrono::system_clock::now() + settings_.timeout);
    const std::string bytes = healthRequest(settings_.service);
    grpc::Slice slice(bytes);
    call->request = grpc::ByteBuffer(&slice, 1);
    std::weak_ptr<Impl> self = weak_from_this();
    stub_->UnaryCall(&call->context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &call->request,
                     &call->response, [self, call, done = std::move(done)](grpc::Status status) mutable {
                       // On a gRPC thread: decide here, answer on the loop.
                       ProbeResult r;
                       if (status.ok()) {
                         std::vector<grpc::Slice> slices;
                         std::string body;
                         if (call->response.Dump(&slices).ok()) {
                           for (const auto& s : slices) body.append(reinterpret_cast<const char*>(s.begin()), s.size());
                         }
                         const auto serving = healthStatus(body);
                         r.healthy = serving == 1;
                         r.detail = r.healthy ? "SERVING" : "status " + std::to_string(serving);
                       } else {
                         r.detail = "grpc " + std::to_string(static_cast<int>(status.error_code())) + ": " + status.error_message();
                       }
                       auto impl = self.lock();
                       if (!impl) return;
                       asio::post(impl->loop_, [self, r = std::move(r), done = std::move(done)]() mutable {
                         if (self.lock()) done(std::move(r));
                       });
                     });
  }

  asio::io_context& loop_;
  HealthSettings settings_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

Prober::Prober(asio::io_context& loop, HealthSettings settings)
    : impl_(std::make_shared<Impl>(loop, std::move(settings))) {}
Prober::~Prober() = default;
void Prober::probe(Done done) { impl_->probe(std::move(done)); }

}  // namespace vnfpool::sidecar
