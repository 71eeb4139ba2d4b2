#include "vnfpool/transport/message_transport.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sctp_socket.h"
#include "sctp_stream.h"
#include "socket_ops.h"
#include "stream.h"
#include "vnfpool/wire/framer.h"

namespace vnfpool::transport {

std::string_view closeReasonName(CloseReason r) {
  switch (r) {
    case CloseReason::PeerClosed: return "peer_closed";
    case CloseReason::Reset: return "reset";
    case CloseReason::FramingError: return "framing_error";
    case CloseReason::TooMuchBuffered: return "too_much_buffered";
    case CloseReason::LocalClose: return "local_close";
    case CloseReason::ConnectFailed: return "connect_failed";
    case CloseReason::Shutdown: return "shutdown";
    case CloseReason::Stalled: return "stalled";
  }
  return "unknown";
}

namespace detail {
namespace {

using boost::asio::ip::tcp;

// Connection and listener ids come from one counter per process, so an id never names two things.
std::atomic<std::uint64_t> g_next_id{1};
std::uint64_t nextId() { return g_next_id.fetch_add(1, std::memory_order_relaxed); }

// Reads start small (most connections carry a few small messages) and double while they fill up.
constexpr std::size_t kFirstReadChunk = 4 * 1024;
constexpr std::size_t kMaxReadChunk = 64 * 1024;
// A drained write buffer keeps at most this much capacity, so an idle connection does not hold a burst's memory.
constexpr std::size_t kKeepCapacity = 64 * 1024;
constexpr std::size_t kDiscardChunk = 4 * 1024;
// sendOwned: smaller messages are copied into the shared write buffer all the same (many per write).
constexpr std::size_t kOwnedMinimum = 16 * 1024;
constexpr std::chrono::milliseconds kAcceptRetry{100};

// A peer on a dual-stack listener shows up as ::ffff:a.b.c.d; the protocol compares addresses, so say a.b.c.d.
Endpoint unmapped(const tcp::endpoint& e) {
  const auto a = e.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return Endpoint{boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()), e.port()};
  }
  return Endpoint::fromAsio(e);
}

std::error_code toStd(const boost::system::error_code& ec) {
  if (!ec) return {};
  if (ec.category() == boost::system::system_category() || ec.category() == boost::system::generic_category()) {
    return {ec.value(), std::system_category()};
  }
  return ec;
}

}  // namespace

enum class ConnState : std::uint8_t {
  Connecting,  // outbound, connect() in progress
  Open,        // messages flow both ways
  Draining,    // close() called: writing what is queued, reading and discarding
  Lingering,   // our FIN sent: waiting for the peer's, reading and discarding
  Closed,      // socket closed; waiting for the closed handler to be called
};

class TransportCore;

// What the core needs from a connection, whatever its stream type. Every completion handler of a
// connection holds a shared_ptr to it (so buffers outlive the operations using them) and does nothing once
// `host` is null: the core nulls it when it forgets the connection or is destroyed.
class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  virtual bool send(std::span<const std::byte> message) = 0;
  virtual bool sendOwned(std::vector<std::byte>&& message) = 0;
  virtual bool append(bool (*encode)(const void*, std::vector<std::byte>&), const void* context) = 0;
  virtual void close() = 0;
  virtual void abort(CloseReason reason, std::error_code error) = 0;
  virtual void detach() = 0;  // forget the host and close the socket, silently
  virtual std::size_t queuedOut() const = 0;

  TransportCore* host = nullptr;
  ConnectionInfo info{};
  ConnectionStats stats{};
  ConnState state = ConnState::Connecting;
  bool announced = false;  // the user heard of it (accepted/connected called, or connect() returned its id)
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(TransportCore& core, tcp::acceptor acceptor, ListenerInfo listener_info, std::size_t max)
      : host(&core), info(listener_info), max_connections(max), acceptor_(std::move(acceptor)),
        retry_(acceptor_.get_executor()) {}

  void accept();
  void detach() {
    host = nullptr;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
  }

  TransportCore* host;
  ListenerInfo info;
  std::uint32_t sctp_ppid = 0;  // the PPID of its connections, when info.sctp_active
  std::size_t max_connections;
  std::size_t live = 0;

 private:
  tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
};

class TransportCore {
 public:
  TransportCore(boost::asio::io_context& loop, Handlers handlers, Options options)
      : loop_(loop), handlers_(std::move(handlers)), options_(std::move(options)) {}

  ~TransportCore() {
    for (auto& [id, listener] : listeners_) listener->detach();
    for (auto& [id, conn] : conns_) conn->detach();
  }

  Result<ListenerInfo> listen(const Endpoint& at, Protocol p, const ListenOptions& options);
  void stopListening(ListenerId id) {
    auto it = listeners_.find(id);
    if (it == listeners_.end()) return;
    it->second->detach();
    listeners_.erase(it);
  }
  ConnId connect(const Endpoint& to, Protocol p, std::chrono::milliseconds timeout, std::uint32_t sctp_ppid);
  ConnectionBase* find(ConnId id) const {
    auto it = conns_.find(id);
    return it == conns_.end() || it->second->state == ConnState::Closed ? nullptr : it->second.get();
  }
  std::size_t live() const { return live_; }
  void shutdown();

  // Called by connections and listeners.
  boost::asio::io_context& loop() { return loop_; }
  const Limits& limits() const { return options_.limits; }
  const KeepAlive& keepAlive() const { return options_.keep_alive; }
  TransportStats& stats() { return stats_; }
  const TransportStats& stats() const { return stats_; }
  void adopt(Listener& listener, tcp::socket socket);
  void established(ConnectionBase& conn, bool inbound);
  void deliver(ConnectionBase& conn, std::span<const std::byte> message) {
    if (handlers_.message) guard(conn, [&] { handlers_.message(conn.info.id, message); });
  }
  void gone(ConnectionBase& conn, CloseReason reason, std::error_code error, std::optional<wire::Error> framing);
  /// A written owned buffer: back to the user if it wants it (true), else the caller frees it.
  bool giveBack(std::vector<std::byte>& buffer) {
    if (!handlers_.written) return false;
    buffer.clear();
    try {
      handlers_.written(std::move(buffer));
    } catch (const std::exception&) {
      // The buffer is lost to reuse, nothing else: a handler that cannot keep it need not.
    }
    buffer = {};
    return true;
  }
  void log(std::string_view line) {
    if (options_.log) {
      options_.log(line);
    } else {
      std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    }
  }

 private:
  template <typename F>
  void guard(ConnectionBase& conn, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      handlerThrew(conn, e.what());
    } catch (...) {
      handlerThrew(conn, "unknown exception");
    }
  }
  void handlerThrew(ConnectionBase& conn, std::string_view what) {
    ++stats_.handler_exceptions;
    log("vnfpool " + options_.name + ": handler threw on connection " + std::to_string(conn.info.id) + " (" +
        std::string(what) + "); aborting it");
    conn.abort(CloseReason::LocalClose, {});
  }
  void notifyClosed(ConnectionBase& conn, CloseReason reason, std::error_code error, const wire::Error* framing);
  void noteFallback(const OpenedSocket& opened, Protocol p);
  // Opens the socket for `p`; for Sctp, an SCTP socket (`sctp` true) or, where the kernel has none, the
  // fallback protocol's (logged once). Errors other than that refusal are returned as they are.
  OpenedSocket openSocket(int family, Protocol p, bool& sctp, std::error_code& error);
  std::shared_ptr<ConnectionBase> makeConnection(tcp::socket socket, bool sctp, std::uint32_t ppid);
  // A connection that failed before it had a socket: it still gets an id and a closed(ConnectFailed).
  ConnId failedConnect(ConnId id, const Endpoint& to, Protocol p, std::error_code why);

  boost::asio::io_context& loop_;
  Handlers handlers_;
  Options options_;
  std::unordered_map<ConnId, std::shared_ptr<ConnectionBase>> conns_;  // until the closed handler ran
  std::unordered_map<ListenerId, std::shared_ptr<Listener>> listeners_;
  std::size_t live_ = 0;  // connections not yet Closed
  TransportStats stats_{};
  bool mptcp_refused_ = false;
  bool sctp_refused_ = false;
  bool shut_down_ = false;
};

// One connection over a Stream (stream.h). All methods run on the loop thread.
template <typename Stream>
class Connection final : public ConnectionBase {
 public:
  Connection(TransportCore& core, Stream stream)
      : stream_(std::move(stream)),
        timer_(core.loop()),
        // The framer never holds less than one whole maximal message.
        max_in_(std::max(core.limits().max_buffered_in, std::min<std::size_t>(core.limits().max_message, 65535) + 3)),
        max_out_(core.limits().max_buffered_out),
        linger_(core.limits().close_linger),
        message_timeout_(core.limits().message_timeout),
        keep_alive_(core.keepAlive()),
        framer_(core.limits().max_message, max_in_) {
    host = &core;
  }

  // Outbound: connect with a deadline; established() follows on success.
  void startConnect(const tcp::endpoint& to, std::chrono::milliseconds timeout, bool mptcp_socket) {
    state = ConnState::Connecting;
    timer_.expires_after(timeout);
    timer_.async_wait([self = self()](const boost::system::error_code& ec) {
      if (ec || !self->host || self->state != ConnState::Connecting) return;
      ++self->host->stats().connect_failed;
      self->finish(CloseReason::ConnectFailed, std::make_error_code(std::errc::timed_out));
    });
    stream_.lowestLayer().async_connect(to, [self = self(), mptcp_socket](const boost::system::error_code& ec) {
      if (!self->host || self->state != ConnState::Connecting) return;
      if (ec) {
        ++self->host->stats().connect_failed;
        self->finish(CloseReason::ConnectFailed, toStd(ec));
        return;
      }
      self->timer_.cancel();
      self->established(false, mptcp_socket);
    });
  }

  // The TCP connection is up (accepted or connected): fill in the info, start the stream, report, read.
  void established(bool inbound, bool mptcp_socket) {
    auto& socket = stream_.lowestLayer();
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);  // best effort: old kernels refuse it on MPTCP sockets
    setKeepAlive(socket.native_handle(), keep_alive_);
    const auto local = socket.local_endpoint(ec);
    if (!ec) info.local = unmapped(local);
    const auto peer = socket.remote_endpoint(ec);
    if (ec) {  // reset between accept and now
      if (!inbound) ++host->stats().connect_failed;
      finish(inbound ? CloseReason::Reset : CloseReason::ConnectFailed, toStd(ec));
      return;
    }
    info.peer = unmapped(peer);
    info.mptcp_active = mptcp_socket && mptcpActive(socket.native_handle());
    stream_.asyncStart(inbound, [self = self(), inbound](const boost::system::error_code& error) {
      if (!self->host || self->state == ConnState::Closed) return;
      if (error) {
        self->finish(inbound ? CloseReason::Reset : CloseReason::ConnectFailed, toStd(error));
        return;
      }
      self->state = ConnState::Open;
      self->host->established(*self, inbound);
      if (self->host && self->state != ConnState::Closed) self->startRead();
    });
  }

  bool send(std::span<const std::byte> message) override {
    if (state != ConnState::Open) return false;
    if (queuedOut() + message.size() > max_out_) {
      ++host->stats().too_much_buffered;
      finish(CloseReason::TooMuchBuffered, {});
      return false;
    }
    pending_.insert(pending_.end(), message.begin(), message.end());
    queued();
    return true;
  }

  bool sendOwned(std::vector<std::byte>&& message) override {
    if (state != ConnState::Open) return false;
    if (message.size() < kOwnedMinimum) return send(message);
    if (queuedOut() + message.size() > max_out_) {
      ++host->stats().too_much_buffered;
      finish(CloseReason::TooMuchBuffered, {});
      return false;
    }
    // Behind everything queued so far: what pending_ holds goes first, as a buffer of its own.
    const std::size_t size = message.size();
    if (!pending_.empty()) {
      const std::size_t before = pending_.size();
      ready_.push_back(Queued{std::move(pending_), false});  // counted once it is in (push_back may throw)
      ready_bytes_ += before;
      pending_ = {};
    }
    ready_.push_back(Queued{std::move(message), true});
    ready_bytes_ += size;
    queued();
    return true;
  }

  bool append(bool (*encode)(const void*, std::vector<std::byte>&), const void* context) override {
    if (state != ConnState::Open) return false;
    const std::size_t before = pending_.size();
    bool encoded = false;
    try {
      encoded = encode(context, pending_);
    } catch (const std::exception&) {
      encoded = false;  // e.g. bad_alloc: nothing is sent, the connection stays
    }
    if (!encoded) {
      pending_.resize(before);
      return false;
    }
    if (queuedOut() > max_out_) {
      pending_.resize(before);
      ++host->stats().too_much_buffered;
      finish(CloseReason::TooMuchBuffered, {});
      return false;
    }
    if (pending_.size() != before) queued();
    return true;
  }

  // A message was added to pending_.
  void queued() {
    ++stats.messages_out;
    // Inside a delivery batch of this connection, the batch's end writes; otherwise write on the next turn,
    // so that several send() calls in a row share one write.
    if (!write_in_flight_ && !delivering_ && !flush_posted_) {
      flush_posted_ = true;
      boost::asio::post(host->loop(), [self = self()] {
        self->flush_posted_ = false;
        if (self->host && (self->state == ConnState::Open || self->state == ConnState::Draining)) self->startWrite();
      });
    }
  }

  void close() override {
    if (state == ConnState::Connecting) {
      finish(CloseReason::LocalClose, {});
      return;
    }
    if (state != ConnState::Open) return;
    state = ConnState::Draining;
    watching_partial_ = false;  // the timer is the close deadline from now on
    // One deadline for both flushing and waiting for the peer's FIN: a peer that reads nothing cannot
    // hold the connection open.
    timer_.expires_after(linger_);
    timer_.async_wait([self = self()](const boost::system::error_code& ec) {
      if (ec || !self->host) return;
      if (self->state == ConnState::Draining || self->state == ConnState::Lingering) {
        self->finish(CloseReason::LocalClose, std::make_error_code(std::errc::timed_out));
      }
    });
    if (!write_in_flight_ && pending_.empty() && readyEmpty()) {
      beginLinger();
    } else {
      startWrite();
    }
  }

  void abort(CloseReason reason, std::error_code error) override { finish(reason, error); }

  void detach() override {
    host = nullptr;
    state = ConnState::Closed;
    closeSocket();
  }

  std::size_t queuedOut() const override { return ready_bytes_ + pending_.size() + writing_.size(); }

 private:
  std::shared_ptr<Connection> self() { return std::static_pointer_cast<Connection>(shared_from_this()); }

  void closeSocket() {
    timer_.cancel();
    boost::system::error_code ignored;
    stream_.lowestLayer().close(ignored);
  }

  void finish(CloseReason reason, std::error_code error, std::optional<wire::Error> framing = {}) {
    if (state == ConnState::Closed) return;
    state = ConnState::Closed;
    closeSocket();
    std::vector<std::byte>().swap(pending_);  // writing_ stays until its (aborted) write completes
    ready_.clear();
    ready_head_ = 0;
    ready_bytes_ = 0;
    host->gone(*this, reason, error, std::move(framing));
  }

  void startRead() {
    if (reading_ || peer_eof_ || state == ConnState::Closed || state == ConnState::Connecting) return;
    std::span<std::byte> space;
    read_into_framer_ = state == ConnState::Open;
    if (read_into_framer_) {
      // After every read the framer is drained, so it holds less than one frame (at most max_message + 2
      // bytes) and `room` is at least 1: reading never exceeds max_in_, so the framer never fails on size.
      const std::size_t room = max_in_ - framer_.buffered();
      space = framer_.prepare(std::min(read_chunk_, room));
    } else {
      discard_.resize(kDiscardChunk);
      space = discard_;
    }
    last_read_size_ = space.size();
    reading_ = true;
    stream_.asyncReadSome(boost::asio::buffer(space.data(), space.size()),
                          [self = self()](const boost::system::error_code& ec, std::size_t n) { self->onRead(ec, n); });
  }

  void onRead(const boost::system::error_code& ec, std::size_t n) {
    reading_ = false;
    if (!host || state == ConnState::Closed) return;
    if (read_into_framer_) framer_.commit(n);
    stats.bytes_in += n;
    if (n > 0) ++stats.reads;
    if (ec) {
      if (ec == boost::asio::error::eof) {
        peer_eof_ = true;
        if (state == ConnState::Open) {
          finish(CloseReason::PeerClosed, {});
        } else if (state == ConnState::Lingering) {
          finish(CloseReason::LocalClose, {});
        }
        // Draining: the peer only half-closed; the write completion (or the linger deadline) ends it.
        return;
      }
      finish(state == ConnState::Open ? CloseReason::Reset : CloseReason::LocalClose, toStd(ec));
      return;
    }
    if (read_into_framer_ && n == last_read_size_) read_chunk_ = std::min(read_chunk_ * 2, kMaxReadChunk);
    if (state == ConnState::Open) deliverAll();
    if (state == ConnState::Open) watchPartial();
    if (!host || state == ConnState::Closed) return;
    if (n == 0 || !read_into_framer_) {
      startRead();
      return;
    }
    // The next read goes behind the handlers already queued on the loop (other connections' reads and
    // writes). Started at once it would nearly always find the socket empty: the peer is still reading the
    // answers just written. One turn later the peer's next requests have usually arrived, so the read
    // takes them instead of costing a system call that returns EAGAIN.
    boost::asio::post(host->loop(), [self = self()] {
      if (self->host && self->state != ConnState::Closed) self->startRead();
    });
  }

  void deliverAll() {
    delivering_ = true;
    while (state == ConnState::Open) {
      auto next = framer_.next();
      if (!next) break;
      if (!next->ok()) {
        ++host->stats().framing_errors;
        finish(CloseReason::FramingError, {}, next->error());
        break;
      }
      ++stats.messages_in;
      host->deliver(*this, next->value());
    }
    delivering_ = false;
    if (state == ConnState::Open || state == ConnState::Draining) startWrite();
  }

  // Arms the message deadline when an incomplete message sits in the framer, disarms it when none does.
  void watchPartial() {
    if (message_timeout_.count() <= 0) return;
    if (framer_.buffered() == 0) {
      if (watching_partial_) {
        watching_partial_ = false;
        timer_.cancel();
      }
      return;
    }
    if (watching_partial_) return;  // the running deadline covers it; on expiry we look at the progress
    watching_partial_ = true;
    messages_at_watch_ = stats.messages_in;
    timer_.expires_after(message_timeout_);
    timer_.async_wait([self = self()](const boost::system::error_code& ec) {
      if (ec || !self->host || self->state != ConnState::Open || !self->watching_partial_) return;
      self->watching_partial_ = false;
      if (self->framer_.buffered() == 0) return;
      if (self->stats.messages_in == self->messages_at_watch_) {
        ++self->host->stats().stalled;
        self->finish(CloseReason::Stalled, std::make_error_code(std::errc::timed_out));
        return;
      }
      self->watchPartial();  // messages completed meanwhile; the one now incomplete gets its own deadline
    });
  }

  void startWrite() {
    if (write_in_flight_) return;
    if (!readyEmpty()) {
      Queued& next = ready_[ready_head_++];
      writing_ = std::move(next.bytes);  // its buffer, written as it is: no copy, no growth
      writing_owned_ = next.given;
      ready_bytes_ -= writing_.size();
      if (ready_head_ == ready_.size()) {
        ready_.clear();
        ready_head_ = 0;
      } else if (ready_head_ >= 64 && 2 * ready_head_ >= ready_.size()) {
        // A backlog that never drains: drop the written (moved-from) front now and then.
        ready_.erase(ready_.begin(), ready_.begin() + static_cast<std::ptrdiff_t>(ready_head_));
        ready_head_ = 0;
      }
    } else if (!pending_.empty()) {
      std::swap(pending_, writing_);  // writing_ is empty here: cleared when the last write completed
      writing_owned_ = false;
    } else {
      return;
    }
    write_in_flight_ = true;
    stream_.asyncWrite(boost::asio::buffer(writing_.data(), writing_.size()),
                       [self = self()](const boost::system::error_code& ec, std::size_t n) { self->onWrite(ec, n); });
  }

  void onWrite(const boost::system::error_code& ec, std::size_t n) {
    write_in_flight_ = false;
    if (!host || state == ConnState::Closed) return;
    stats.bytes_out += n;
    ++stats.writes;
    if (!(writing_owned_ && host->giveBack(writing_))) {
      writing_.clear();
      if (writing_.capacity() > kKeepCapacity) std::vector<std::byte>().swap(writing_);
    }
    writing_owned_ = false;
    if (ec) {
      finish(state == ConnState::Open ? CloseReason::Reset : CloseReason::LocalClose, toStd(ec));
      return;
    }
    if (!readyEmpty() || !pending_.empty()) {
      startWrite();
    } else if (state == ConnState::Draining) {
      beginLinger();
    }
  }

  void beginLinger() {
    state = ConnState::Lingering;
    stream_.asyncShutdownSend([self = self()](const boost::system::error_code& ec) {
      if (!self->host || self->state == ConnState::Closed) return;
      if (ec || self->peer_eof_) {
        self->finish(CloseReason::LocalClose, toStd(ec));
        return;
      }
      self->startRead();  // wait for the peer's FIN (or the linger deadline)
    });
  }

  Stream stream_;
  boost::asio::steady_timer timer_;  // the connect deadline, later the close deadline
  std::size_t max_in_;
  std::size_t max_out_;
  std::chrono::milliseconds linger_;
  std::chrono::milliseconds message_timeout_;
  KeepAlive keep_alive_;
  bool watching_partial_ = false;         // the timer guards an incomplete message (Open state only)
  std::uint64_t messages_at_watch_ = 0;   // messages_in when it was armed: no progress since means stalled
  wire::StreamFramer framer_;
  // Messages handed over whole (sendOwned), and what pending_ held before them, in order; all of them go
  // before pending_. Each is written from its own buffer: a bulk sender (a registrar paging its table,
  // 64 KB a message, several queued while a write is in flight) never makes pending_ grow, and growing
  // it meant fresh memory, a page fault per 4 KiB, on every such burst.
  // (A vector read from ready_head_, not a deque: an idle connection's empty vector holds no memory.)
  bool readyEmpty() const { return ready_head_ == ready_.size(); }
  bool writing_owned_ = false;  // writing_ is a buffer the user gave: handed back when written (Handlers::written)
  struct Queued {
    std::vector<std::byte> bytes;
    bool given = false;  // the user's buffer (sendOwned), not pending_'s
  };
  std::vector<Queued> ready_;
  std::size_t ready_head_ = 0;
  std::size_t ready_bytes_ = 0;
  std::vector<std::byte> pending_;  // queued by send(), not yet handed to a write
  std::vector<std::byte> writing_;  // the bytes of the write in flight
  std::vector<std::byte> discard_;  // reads after close()
  std::size_t read_chunk_ = kFirstReadChunk;
  std::size_t last_read_size_ = 0;
  bool reading_ = false;
  bool read_into_framer_ = false;
  bool write_in_flight_ = false;
  bool flush_posted_ = false;
  bool delivering_ = false;
  bool peer_eof_ = false;
};

using PlainConnection = Connection<PlainStream>;
using SctpConnection = Connection<SctpStream>;

void Listener::accept() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
    if (!self->host) return;
    if (ec) {
      if (ec == boost::asio::error::operation_aborted) return;
      const bool out_of_resources = ec == boost::asio::error::no_descriptors ||
                                    ec == boost::asio::error::no_buffer_space || ec == boost::asio::error::no_memory ||
                                    (ec.category() == boost::system::system_category() && ec.value() == ENFILE);
      if (out_of_resources) {
        // Accepting again at once would spin; the pending connections wait in the backlog meanwhile.
        self->retry_.expires_after(kAcceptRetry);
        self->retry_.async_wait([self](const boost::system::error_code& error) {
          if (!error && self->host) self->accept();
        });
      } else {
        self->accept();  // ECONNABORTED and friends concern one connection only
      }
      return;
    }
    self->host->adopt(*self, std::move(socket));
    if (self->host) self->accept();
  });
}

Result<ListenerInfo> TransportCore::listen(const Endpoint& at, Protocol p, const ListenOptions& options) {
  const std::string what = std::string(protocolName(p)) + " listener at " + at.toString();
  if (shut_down_) return IoError{std::make_error_code(std::errc::operation_canceled), what};
  try {
    std::error_code error;
    bool sctp = false;
    const auto opened = openSocket(at.address.is_v4() ? AF_INET : AF_INET6, p, sctp, error);
    if (error) return IoError{error, "socket for " + what};
    tcp::acceptor acceptor(loop_);
    boost::system::error_code ec;
    acceptor.assign(at.address.is_v4() ? tcp::v4() : tcp::v6(), opened.fd, ec);
    if (ec) {
      ::close(opened.fd);
      return IoError{toStd(ec), "assign " + what};
    }
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (at.address.is_v6()) acceptor.set_option(boost::asio::ip::v6_only(options.v6_only), ec);
    acceptor.bind(at.toAsio(), ec);
    if (ec) return IoError{toStd(ec), "bind " + what};
    if (sctp && !options.sctp_extra_addresses.empty()) {
      const auto port = acceptor.local_endpoint(ec).port();
      if (auto bx = sctpBindx(acceptor.native_handle(), options.sctp_extra_addresses, port)) {
        return IoError{bx, "sctp_bindx of the extra addresses of " + what};
      }
    }
    acceptor.listen(options.backlog, ec);
    if (ec) return IoError{toStd(ec), "listen " + what};
    const auto local = acceptor.local_endpoint(ec);
    if (ec) return IoError{toStd(ec), "local address of " + what};
    const ListenerInfo info{nextId(), p, opened.mptcp, sctp, Endpoint::fromAsio(local)};
    auto listener = std::make_shared<Listener>(
        *this, std::move(acceptor), info,
        options.max_connections ? options.max_connections : options_.limits.max_connections_per_listener);
    listener->sctp_ppid = options.sctp_ppid != 0 ? options.sctp_ppid : options_.sctp.ppid;
    listeners_.emplace(info.id, listener);
    listener->accept();
    return info;
  } catch (const std::exception& e) {
    return IoError{std::make_error_code(std::errc::not_enough_memory), what + " (" + e.what() + ")"};
  }
}

OpenedSocket TransportCore::openSocket(int family, Protocol p, bool& sctp, std::error_code& error) {
  sctp = false;
  if (p == Protocol::Sctp) {
    if (!sctp_refused_) {
      const int fd = openSctpSocket(family, options_.open_socket, error);
      if (fd >= 0) {
        sctp = true;
        return OpenedSocket{fd, false, false, {}};
      }
      if (!isSctpRefusal(error)) return {};
      sctp_refused_ = true;  // remembered: later sockets go straight to the fallback, and this is said once
      log("vnfpool " + options_.name + ": SCTP not available (socket(IPPROTO_SCTP): " + error.message() + "); using " +
          std::string(protocolName(options_.sctp.fallback)) + " where SCTP is configured");
    }
    ++stats_.sctp_fallbacks;
    p = options_.sctp.fallback == Protocol::Sctp ? Protocol::Tcp : options_.sctp.fallback;
  }
  auto opened = openStreamSocket(family, p, mptcp_refused_, options_.open_socket, error);
  noteFallback(opened, p);
  return opened;
}

std::shared_ptr<ConnectionBase> TransportCore::makeConnection(tcp::socket socket, bool sctp, std::uint32_t ppid) {
  if (!sctp) return std::make_shared<PlainConnection>(*this, PlainStream(std::move(socket)));
  sctpConfigure(socket.native_handle(), ppid);
  auto conn = std::make_shared<SctpConnection>(*this, SctpStream(std::move(socket), ppid, &stats_.sctp_foreign_ppid));
  conn->info.sctp_active = true;
  return conn;
}

void TransportCore::noteFallback(const OpenedSocket& opened, Protocol p) {
  if (p != Protocol::Mptcp || !opened.fell_back) return;
  ++stats_.mptcp_fallbacks;
  if (opened.refusal && !mptcp_refused_) {
    mptcp_refused_ = true;  // remembered: later sockets go straight to TCP, and this line is written once
    log("vnfpool " + options_.name + ": MPTCP not available (socket(IPPROTO_MPTCP): " + opened.refusal.message() +
        "); using TCP where MPTCP is configured");
  }
}

ConnId TransportCore::failedConnect(ConnId id, const Endpoint& to, Protocol p, std::error_code why) {
  ++stats_.connect_failed;
  auto conn = std::make_shared<PlainConnection>(*this, PlainStream(tcp::socket(loop_)));
  conn->info.id = id;
  conn->info.protocol = p;
  conn->info.peer = to;
  conns_.emplace(id, conn);
  ++live_;
  conn->announced = true;
  conn->abort(CloseReason::ConnectFailed, why);
  return id;
}

ConnId TransportCore::connect(const Endpoint& to, Protocol p, std::chrono::milliseconds timeout,
                              std::uint32_t sctp_ppid) {
  const ConnId id = nextId();
  if (shut_down_) return failedConnect(id, to, p, std::make_error_code(std::errc::operation_canceled));
  if (live_ >= options_.limits.max_connections) {
    return failedConnect(id, to, p, std::make_error_code(std::errc::resource_unavailable_try_again));
  }
  try {
    std::error_code error;
    bool sctp = false;
    const auto opened = openSocket(to.address.is_v4() ? AF_INET : AF_INET6, p, sctp, error);
    if (error) return failedConnect(id, to, p, error);
    tcp::socket socket(loop_);
    boost::system::error_code ec;
    socket.assign(to.address.is_v4() ? tcp::v4() : tcp::v6(), opened.fd, ec);
    if (ec) {
      ::close(opened.fd);
      return failedConnect(id, to, p, toStd(ec));
    }
    if (sctp) {
      if (auto bx = sctpBindx(opened.fd, options_.sctp.local_addresses, 0)) return failedConnect(id, to, p, bx);
    }
    auto conn = makeConnection(std::move(socket), sctp, sctp_ppid != 0 ? sctp_ppid : options_.sctp.ppid);
    conn->info.id = id;
    conn->info.protocol = p;
    conn->info.peer = to;
    conn->announced = true;
    conns_.emplace(id, conn);
    ++live_;
    if (sctp) {
      static_cast<SctpConnection&>(*conn).startConnect(to.toAsio(), timeout, false);
    } else {
      static_cast<PlainConnection&>(*conn).startConnect(to.toAsio(), timeout, opened.mptcp);
    }
  } catch (const std::exception&) {
    if (conns_.count(id) == 0) return failedConnect(id, to, p, std::make_error_code(std::errc::not_enough_memory));
    if (auto* conn = find(id)) conn->abort(CloseReason::ConnectFailed, std::make_error_code(std::errc::not_enough_memory));
  }
  return id;
}

void TransportCore::adopt(Listener& listener, tcp::socket socket) {
  if (shut_down_ || live_ >= options_.limits.max_connections || listener.live >= listener.max_connections) {
    ++stats_.refused;
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  const ConnId id = nextId();
  auto conn = makeConnection(std::move(socket), listener.info.sctp_active, listener.sctp_ppid);
  conn->info.id = id;
  conn->info.protocol = listener.info.protocol;
  conn->info.listener = listener.info.id;
  conns_.emplace(id, conn);
  ++live_;
  ++listener.live;
  ++stats_.accepted;
  if (listener.info.sctp_active) {
    static_cast<SctpConnection&>(*conn).established(true, false);
  } else {
    static_cast<PlainConnection&>(*conn).established(true, listener.info.mptcp_active);
  }
}

void TransportCore::established(ConnectionBase& conn, bool inbound) {
  if (!inbound) ++stats_.connected;
  conn.announced = true;
  auto& handler = inbound ? handlers_.accepted : handlers_.connected;
  if (handler) guard(conn, [&] { handler(conn.info); });
}

void TransportCore::gone(ConnectionBase& conn, CloseReason reason, std::error_code error,
                         std::optional<wire::Error> framing) {
  --live_;
  if (conn.info.listener != 0) {
    if (auto it = listeners_.find(conn.info.listener); it != listeners_.end()) --it->second->live;
  }
  // Reported from the loop, never from inside the member function that ended the connection.
  boost::asio::post(loop_, [conn = conn.shared_from_this(), reason, error, framing = std::move(framing)] {
    if (auto* core = conn->host) core->notifyClosed(*conn, reason, error, framing ? &*framing : nullptr);
  });
}

void TransportCore::notifyClosed(ConnectionBase& conn, CloseReason reason, std::error_code error,
                                 const wire::Error* framing) {
  const ConnId id = conn.info.id;
  conn.host = nullptr;
  conns_.erase(id);  // the posted completion still holds `conn`
  // An inbound connection reset before `accepted` was called is dropped without a word.
  if (!handlers_.closed || !conn.announced) return;
  try {
    handlers_.closed(id, reason, error, framing);
  } catch (const std::exception& e) {
    ++stats_.handler_exceptions;
    log("vnfpool " + options_.name + ": closed handler threw on connection " + std::to_string(id) + " (" + e.what() + ")");
  } catch (...) {
    ++stats_.handler_exceptions;
    log("vnfpool " + options_.name + ": closed handler threw on connection " + std::to_string(id));
  }
}

void TransportCore::shutdown() {
  shut_down_ = true;
  for (auto& [id, listener] : listeners_) listener->detach();
  listeners_.clear();
  for (auto& [id, conn] : conns_) {
    if (conn->state != ConnState::Closed) conn->abort(CloseReason::Shutdown, {});
  }
}

}  // namespace detail

MessageTransport::MessageTransport(boost::asio::io_context& loop, Handlers handlers, Options options)
    : core_(std::make_unique<detail::TransportCore>(loop, std::move(handlers), std::move(options))) {}

MessageTransport::~MessageTransport() = default;

Result<ListenerInfo> MessageTransport::listen(const Endpoint& at, Protocol p, ListenOptions options) {
  return core_->listen(at, p, options);
}

void MessageTransport::stopListening(ListenerId id) { core_->stopListening(id); }

ConnId MessageTransport::connect(const Endpoint& to, Protocol p, std::chrono::milliseconds timeout,
                                 std::uint32_t sctp_ppid) {
  return core_->connect(to, p, timeout, sctp_ppid);
}

bool MessageTransport::send(ConnId id, std::span<const std::byte> message) {
  auto* conn = core_->find(id);
  return conn != nullptr && conn->send(message);
}

bool MessageTransport::send(ConnId id, std::vector<std::byte>&& message) {
  auto* conn = core_->find(id);
  return conn != nullptr && conn->sendOwned(std::move(message));
}

bool MessageTransport::appendMessage(ConnId id, bool (*encode)(const void*, std::vector<std::byte>&),
                                     const void* context) {
  auto* conn = core_->find(id);
  return conn != nullptr && conn->append(encode, context);
}

void MessageTransport::close(ConnId id) {
  if (auto* conn = core_->find(id)) conn->close();
}

void MessageTransport::abort(ConnId id) {
  if (auto* conn = core_->find(id)) conn->abort(CloseReason::LocalClose, {});
}

std::optional<ConnectionInfo> MessageTransport::info(ConnId id) const {
  auto* conn = core_->find(id);
  if (conn == nullptr) return std::nullopt;
  return conn->info;
}

std::optional<ConnectionStats> MessageTransport::stats(ConnId id) const {
  auto* conn = core_->find(id);
  if (conn == nullptr) return std::nullopt;
  auto out = conn->stats;
  out.queued_out = conn->queuedOut();
  return out;
}

std::size_t MessageTransport::connectionCount() const { return core_->live(); }

const TransportStats& MessageTransport::transportStats() const { return core_->stats(); }

void MessageTransport::shutdown() { core_->shutdown(); }

}  // namespace vnfpool::transport
