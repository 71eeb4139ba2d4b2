#include "bench.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "codec_commands.h"
#include "echo_server.h"
#include "flags.h"
#include "vnfpool/transport/endpoint.h"
#include "vnfpool/wire/codec.h"
#include "vnfpool/wire/framer.h"

namespace vnfpool::ctl {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using boost::asio::ip::tcp;

constexpr int kMptcp = 262;  // IPPROTO_MPTCP

/// One load connection: keeps `inflight` requests outstanding, counts answers.
struct LoadConnection {
  tcp::socket socket;
  wire::StreamFramer framer{65535, 4 * 1024 * 1024};
  std::vector<std::byte> out;       // requests queued while a write is in flight
  std::vector<std::byte> in_write;  // the bytes of the write in flight
  bool writing = false;
  std::size_t pending_writes = 0;  // requests waiting for the socket
  std::uint64_t next_id = 0;
  explicit LoadConnection(boost::asio::io_context& loop) : socket(loop) {}
};

enum class Mode { Resolve, Register, Echo };

struct Load {
  std::string mode;            // resolve, register, echo (as given, for the report)
  Mode kind = Mode::Resolve;   // the same, compared per answer
  std::string pool;
  wire::Dialect dialect = wire::Dialect::Ng;
  std::uint64_t answered = 0;  // during the measured window
  std::uint64_t errors = 0;
  bool measuring = false;
  bool stopping = false;
  std::uint64_t id_base = 0;
  std::uint64_t resolution_answers = 0;  // all of them, warm-up included: picks which get a full decode
  std::vector<std::byte> resolution;     // resolve and echo send this same request every time
};

constexpr std::uint64_t kFullCheckEvery = 64;

wire::Bytes request(const Load& load, LoadConnection& c, std::size_t index) {
  if (load.kind == Mode::Register) {
    wire::asap::Registration m;
    m.pool_handle = load.pool;
    m.pe.id = load.id_base + (static_cast<wire::PeId>(index) << 32) + ++c.next_id;
    m.pe.registration_life_ms = 30000;
    m.pe.user_transport.kind = wire::TransportKind::Tcp;
    m.pe.user_transport.port = 5060;
    m.pe.user_transport.addresses.push_back(wire::IpAddress::v4(127, 0, 0, 1));
    m.pe.policy = wire::Policy::make(wire::PolicyType::RoundRobin);
    return wire::encode(wire::AsapMessage{m}, load.dialect).value();
  }
  // resolve, and echo (an echo server sends the same Handle Resolution back)
  return wire::encode(wire::AsapMessage{wire::asap::HandleResolution{false, std::nullopt, load.pool, 3u}}, load.dialect)
      .value();
}

/// Pool Element parameters at the top level of message `m` (whose length the framer checked); 0 when a
/// parameter's length runs past the message or an Operational Error is present.
std::size_t countPoolElements(std::span<const std::byte> m) {
  constexpr std::uint16_t kPoolElement = static_cast<std::uint16_t>(wire::ParamType::PoolElement);
  constexpr std::uint16_t kPoolElement64 = static_cast<std::uint16_t>(wire::ParamType::PoolElement64);
  constexpr std::uint16_t kOperationalError = static_cast<std::uint16_t>(wire::ParamType::OperationalError);
  auto u16 = [&](std::size_t at) {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(m[at]) << 8) | std::to_integer<unsigned>(m[at + 1]));
  };
  std::size_t pes = 0;
  for (std::size_t at = 4; at + 4 <= m.size();) {
    const std::uint16_t type = u16(at), length = u16(at + 2);
    if (length < 4 || at + length > m.size()) return 0;
    if (type == kOperationalError) return 0;
    if (type == kPoolElement || type == kPoolElement64) ++pes;
    at += (length + 3u) & ~3u;
  }
  return pes;
}

bool isAnswer(Load& load, std::span<const std::byte> m, bool& error) {
  const auto type = std::to_integer<std::uint8_t>(m[0]);
  const auto flags = std::to_integer<std::uint8_t>(m[1]);
  if (load.kind == Mode::Echo) return type == 0x05;
  if (load.kind == Mode::Register) {
    if (type != 0x03) return false;  // keep-alives for the registered PEs are not answers
    error = (flags & 0x01) != 0;
    return true;
  }
  if (type != 0x06) return false;
  // A resolution answer is an error if it carries no Pool Element (an Operational Error instead). The
  // generator shares its core budget with the registrar, so most answers get a walk over their top-level
  // parameters; every kFullCheckEvery-th is decoded in full, which also checks the PEs themselves.
  if (++load.resolution_answers % kFullCheckEvery == 0) {
    auto decoded = wire::decodeAsap(m, load.dialect);
    error = !decoded.ok() || std::get<wire::asap::HandleResolutionResponse>(decoded.value()).pes.empty();
  } else {
    error = countPoolElements(m) == 0;
  }
  return true;
}

void flush(Load& load, LoadConnection& c, std::size_t index);

/// User plus system CPU time of this process: the generator's own cost per answer, so a run shows how much
/// of the two cores the load generator took from the server it measures.
double processCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

void queueRequests(Load& load, LoadConnection& c, std::size_t index, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!load.resolution.empty()) {
      c.out.insert(c.out.end(), load.resolution.begin(), load.resolution.end());
      continue;
    }
    auto bytes = request(load, c, index);
    c.out.insert(c.out.end(), bytes.begin(), bytes.end());
  }
  flush(load, c, index);
}

void flush(Load& load, LoadConnection& c, std::size_t index) {
  if (c.writing || c.out.empty() || load.stopping) return;
  c.writing = true;
  std::swap(c.out, c.in_write);  // both keep their capacity: no allocation per write
  c.out.clear();
  boost::asio::async_write(c.socket, boost::asio::buffer(c.in_write),
                           [&load, &c, index](boost::system::error_code ec, std::size_t) {
                             c.writing = false;
                             if (ec) return;
                             flush(load, c, index);
                           });
}

void read(Load& load, LoadConnection& c, std::size_t index) {
  auto space = c.framer.prepare(16384);
  c.socket.async_read_some(boost::asio::buffer(space.data(), space.size()),
                           [&load, &c, index](boost::system::error_code ec, std::size_t n) {
                             if (ec || load.stopping) return;
                             c.framer.commit(n);
                             std::size_t answers = 0;
                             while (auto m = c.framer.next()) {
                               if (!m->ok()) return;
                               bool error = false;
                               if (!isAnswer(load, m->value(), error)) continue;
                               ++answers;
                               if (load.measuring) {
                                 ++load.answered;
                                 if (error) ++load.errors;
                               }
                             }
                             if (answers > 0) queueRequests(load, c, index, answers);  // keep D in flight
                             // One loop turn later, as the registrar's transport does: a read started at
                             // once would nearly always find nothing yet (EAGAIN, a wasted system call).
                             boost::asio::post(c.socket.get_executor(), [&load, &c, index] { read(load, c, index); });
                           });
}

/// `--mode hold`: registers exactly `count` PEs over the connections, says so on stdout, and keeps the
/// connections open (without answering keep-alives) until SIGTERM/SIGINT. Failover harnesses use it to
/// give one registrar many PEs that do not look for another home when it dies.
int hold(boost::asio::io_context& loop, Load& load, std::vector<std::unique_ptr<LoadConnection>>& conns,
         std::uint64_t count, std::ostream& out, std::ostream& err) {
  const auto started = Clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    auto& c = *conns[i % conns.size()];
    auto bytes = request(load, c, i % conns.size());
    c.out.insert(c.out.end(), bytes.begin(), bytes.end());
  }
  std::uint64_t accepted = 0, refused = 0;
  for (auto& c : conns) {
    boost::system::error_code ec;
    boost::asio::write(c->socket, boost::asio::buffer(c->out), ec);
    if (ec) {
      err << "vnfpoolctl: cannot send registrations: " << ec.message() << "\n";
      return 3;
    }
    const std::uint64_t want = c->next_id;
    std::uint64_t answered = 0;
    while (answered < want) {
      auto space = c->framer.prepare(16384);
      const std::size_t n = c->socket.read_some(boost::asio::buffer(space.data(), space.size()), ec);
      if (ec) {
        err << "vnfpoolctl: the registrar closed the connection: " << ec.message() << "\n";
        return 3;
      }
      c->framer.commit(n);
      while (auto m = c->framer.next()) {
        if (!m->ok()) return 3;
        bool error = false;
        if (!isAnswer(load, m->value(), error)) continue;
        ++answered;
        ++(error ? refused : accepted);
      }
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  out << "{\"registered\":" << accepted << ",\"refused\":" << refused << ",\"seconds\":" << std::fixed
      << std::setprecision(3) << seconds << "}" << std::endl;
  // Hold: drain what the registrar sends (keep-alives go unanswered) until told to stop.
  std::vector<std::array<char, 4096>> sink(conns.size());
  for (std::size_t i = 0; i < conns.size(); ++i)
    conns[i]->socket.async_read_some(boost::asio::buffer(sink[i]), [](boost::system::error_code, std::size_t) {});
  boost::asio::signal_set signals(loop, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) { loop.stop(); });
  loop.run();
  return refused == 0 ? kExitOk : kExitBadInput;
}

}  // namespace

int runServeEcho(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<FlagSpec> specs = {
      {"listen", 0, true, false, "", "127.0.0.1:0", "address:port to serve"},
      {"transport", 0, true, false, "", "tcp", "tcp or mptcp"},
      {"ready-file", 0, true, false, "", "", "write the bound port here"},
      {"help", 'h', false, false, "", "", "show this help"},
  };
  std::string error;
  auto f = Flags::parse(args, specs, error);
  auto at = f ? transport::Endpoint::parse(f->get("listen")) : std::nullopt;
  if (!f || f->has("help") || !at) {
    err << (f ? "" : "vnfpoolctl: " + error + "\n")
        << "usage: vnfpoolctl serve-echo [flags]\n  A trivial TCP/MPTCP echo server: the load generator's baseline.\n"
        << describeFlags(specs);
    return f && f->has("help") ? kExitOk : kExitUsage;
  }
  boost::asio::io_context loop;
  tcp::acceptor acceptor(loop);
  const auto endpoint = at->toAsio();
  const int proto = f->get("transport") == "mptcp" ? kMptcp : IPPROTO_TCP;
  int fd = ::socket(endpoint.address().is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM, proto);
  if (fd < 0) fd = ::socket(endpoint.address().is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP);
  acceptor.assign(endpoint.address().is_v6() ? tcp::v6() : tcp::v4(), fd);
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen();
  const auto port = acceptor.local_endpoint().port();
  if (!f->get("ready-file").empty()) std::ofstream(f->get("ready-file")) << "{\"port\":" << port << "}\n";
  out << "echo on " << at->address.to_string() << ":" << port << std::endl;
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      s.set_option(tcp::no_delay(true));
      auto socket = std::make_shared<tcp::socket>(std::move(s));
      auto buffer = std::make_shared<std::array<char, 65536>>();
      auto pump = std::make_shared<std::function<void()>>();
      *pump = [socket, buffer, pump] {
        socket->async_read_some(boost::asio::buffer(*buffer), [socket, buffer, pump](boost::system::error_code rec, std::size_t n) {
          if (rec) {
            *pump = nullptr;  // break the cycle
            return;
          }
          boost::asio::async_write(*socket, boost::asio::buffer(buffer->data(), n),
                                   [pump](boost::system::error_code wec, std::size_t) {
                                     if (!wec && *pump) (*pump)();
                                   });
        });
      };
      (*pump)();
      accept();
    });
  };
  accept();
  boost::asio::signal_set signals(loop, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) { loop.stop(); });
  loop.run();
  return kExitOk;
}

int runBench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<FlagSpec> specs = {
      {"target", 't', true, false, "", "127.0.0.1:3863", "registrar (or echo server) address:port"},
      {"mode", 'm', true, false, "", "resolve", "resolve, register, echo (the baseline), or hold"},
      {"count", 'n', true, false, "", "10000", "hold: PEs to register and keep until SIGTERM"},
      {"pool", 0, true, false, "", "bench", "pool handle to resolve or register in"},
      {"connections", 'c', true, false, "", "64", "connections"},
      {"inflight", 'd', true, false, "", "1", "requests in flight per connection"},
      {"duration", 0, true, false, "", "5", "measured seconds (after 1 s of warm-up)"},
      {"transport", 0, true, false, "", "tcp", "tcp or mptcp"},
      {"dialect", 0, true, false, "", "ng", "ng or classic"},
      {"help", 'h', false, false, "", "", "show this help"},
  };
  std::string error;
  auto f = Flags::parse(args, specs, error);
  if (!f || f->has("help")) {
    if (!f) err << "vnfpoolctl: " << error << "\n";
    err << "usage: vnfpoolctl bench [flags]\n  Drives a registrar (or the echo baseline) with K connections and D "
           "requests in flight each; prints answers per second.\n"
        << describeFlags(specs);
    return f ? kExitOk : kExitUsage;
  }
  auto target = transport::Endpoint::parse(f->get("target"));
  auto connections = f->number("connections", 1, 10000, error);
  auto inflight = f->number("inflight", 1, 1024, error);
  auto duration = f->number("duration", 1, 3600, error);
  Load load;
  load.mode = f->get("mode");
  load.pool = f->get("pool");
  load.dialect = f->get("dialect") == "classic" ? wire::Dialect::Classic : wire::Dialect::Ng;
  load.id_base = static_cast<wire::PeId>(Clock::now().time_since_epoch().count()) << 16;
  auto count = f->number("count", 1, 10000000, error);
  if (load.mode != "resolve" && load.mode != "register" && load.mode != "echo" && load.mode != "hold")
    error = "--mode: resolve, register, echo or hold";
  if (load.mode == "hold") load.mode = "register";  // the same registrations, sent once
  load.kind = load.mode == "register" ? Mode::Register : load.mode == "echo" ? Mode::Echo : Mode::Resolve;
  const bool holding = f->get("mode") == "hold";
  if (!target) error = "--target: not address:port";
  if (!connections || !inflight || !duration || !count || !error.empty()) {
    err << "vnfpoolctl: " << error << "\n";
    return kExitUsage;
  }
  const int proto = f->get("transport") == "mptcp" ? kMptcp : IPPROTO_TCP;

  boost::asio::io_context loop;
  std::vector<std::unique_ptr<LoadConnection>> conns;
  for (std::size_t i = 0; i < *connections; ++i) {
    auto c = std::make_unique<LoadConnection>(loop);
    const auto e = target->toAsio();
    int fd = ::socket(e.address().is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM, proto);
    if (fd < 0) fd = ::socket(e.address().is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP);
    c->socket.assign(e.address().is_v6() ? tcp::v6() : tcp::v4(), fd);
    boost::system::error_code ec;
    c->socket.connect(e, ec);
    if (ec) {
      err << "vnfpoolctl: cannot connect to " << target->toString() << ": " << ec.message() << "\n";
      return 3;
    }
    c->socket.set_option(tcp::no_delay(true));
    conns.push_back(std::move(c));
  }
  if (holding) return hold(loop, load, conns, *count, out, err);
  if (load.kind != Mode::Register) load.resolution = request(load, *conns.front(), 0);
  for (std::size_t i = 0; i < conns.size(); ++i) {
    read(load, *conns[i], i);
    queueRequests(load, *conns[i], i, *inflight);
  }
  boost::asio::steady_timer timer(loop, 1s);
  Clock::time_point started;
  double cpu_started = 0, cpu_ended = 0;
  timer.async_wait([&](boost::system::error_code) {
    load.measuring = true;
    started = Clock::now();
    cpu_started = processCpuSeconds();
    timer.expires_after(std::chrono::seconds(*duration));
    timer.async_wait([&](boost::system::error_code) {
      load.measuring = false;
      load.stopping = true;
      cpu_ended = processCpuSeconds();
      loop.stop();
    });
  });
  loop.run();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const double rate = static_cast<double>(load.answered) / seconds;
  out << std::fixed << std::setprecision(0) << "{\"mode\":\"" << load.mode << "\",\"transport\":\"" << f->get("transport")
      << "\",\"connections\":" << *connections << ",\"inflight\":" << *inflight << ",\"seconds\":" << std::setprecision(2)
      << seconds << std::setprecision(0) << ",\"answers\":" << load.answered << ",\"errors\":" << load.errors
      << ",\"per_second\":" << rate << std::setprecision(3) << ",\"client_cpu_us_per_answer\":"
      << (load.answered > 0 ? (cpu_ended - cpu_started) * 1e6 / static_cast<double>(load.answered) : 0.0) << "}"
      << std::endl;
  return load.errors == 0 ? kExitOk : kExitBadInput;
}

}  // namespace vnfpool::ctl
