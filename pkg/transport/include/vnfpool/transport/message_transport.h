// MessageTransport: ASAP or ENRP messages over TCP and MPTCP, on one Asio event loop.
//
// One MessageTransport serves one protocol role of a daemon (the ASAP side of a PR, its ENRP side, a PE's
// ASAP client). It owns listeners and connections, frames the byte stream into whole RSerPool messages
// with wire::StreamFramer (docs/protocol.md, "Framing on TCP and MPTCP") and hands them out as spans. It
// never decodes a message: the protocol adapters do that. Design, limits and the MPTCP fallback are
// described in docs/transport.md.
//
// Threads: every member function must be called on the loop thread (the thread running the io_context
// given to the constructor), and every handler is called there. Nothing here is internally locked.
// Errors: nothing throws. Set-up failures come back as Result; connection failures as handlers.closed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "vnfpool/transport/endpoint.h"
#include "vnfpool/transport/result.h"
#include "vnfpool/wire/result.h"

namespace vnfpool::transport {

namespace detail {
class TransportCore;
}

/// Identifies a connection. Never reused within a process; 0 means "none".
using ConnId = std::uint64_t;
/// Identifies a listener. Never reused within a process; 0 means "none" (outbound connections).
using ListenerId = std::uint64_t;

/// Bounds on what peers can make us hold. Defaults suit a Pool Registrar; tests shrink them.
struct Limits {
  std::size_t max_connections = 4096;               ///< all connections of this transport, in and out
  std::size_t max_connections_per_listener = 4096;  ///< default for each listener (ListenOptions overrides)
  std::size_t max_message = 65535;                  ///< largest message length accepted (header length field)
  std::size_t max_buffered_in = 256 * 1024;         ///< bytes read but not yet delivered, per connection
  std::size_t max_buffered_out = 4 * 1024 * 1024;   ///< bytes queued by send() but not yet written, per connection
  std::chrono::milliseconds close_linger{2000};     ///< close(): how long to wait for the peer's FIN after ours
  /// How long one message may stay incomplete (its first bytes read, not its last) before the connection is
  /// closed as Stalled: a peer trickling bytes (slowloris) cannot hold a slot and a buffer for ever.
  /// 0 turns it off. Idle connections (no partial message) are not affected: keep-alives are the protocol's job.
  std::chrono::milliseconds message_timeout{30000};
};

/// Dead-peer detection below the protocol: TCP keep-alive probes on idle connections (like SCTP's
/// heartbeats, which RSPLIB relies on) and a bound on unacknowledged data. A peer whose host vanished is then
/// reported as Reset (ETIMEDOUT) instead of after the kernel's ~15 minutes of retransmissions. Set on every
/// connection, best effort (an MPTCP socket of an old kernel may refuse some of them).
struct KeepAlive {
  std::chrono::seconds idle{30};      ///< TCP_KEEPIDLE; 0 turns keep-alive probes off
  std::chrono::seconds interval{10};  ///< TCP_KEEPINTVL
  int probes = 3;                     ///< TCP_KEEPCNT
  std::chrono::milliseconds user_timeout{0};  ///< TCP_USER_TIMEOUT for unacknowledged data; 0 = kernel default
};

/// SCTP (Protocol::Sctp): one-to-one style sockets; every RSerPool message is one SCTP message on stream 0
/// with a Payload Protocol Identifier. Received messages with another PPID are dropped (counted in
/// TransportStats::sctp_foreign_ppid), as RSPLIB does. docs/sctp.md.
struct SctpOptions {
  /// PPID of what this transport sends and accepts (wire::kPpidAsap 11, kPpidEnrp 12, kPpidNgAsap,
  /// kPpidNgEnrp). ListenOptions::sctp_ppid overrides it for one listener's connections.
  std::uint32_t ppid = 11;
  /// Multi-homing of outbound associations: local addresses bound (sctp_bindx) before connecting. Empty: the
  /// kernel picks (all addresses of the host). Listeners take theirs from ListenOptions::sctp_extra_addresses.
  std::vector<boost::asio::ip::address> local_addresses{};
  /// What a listener or connect() asking for Sctp gets where the kernel has no SCTP (socket() refused
  /// with EPROTONOSUPPORT, ESOCKTNOSUPPORT, EAFNOSUPPORT or EINVAL): one log line for the life of the
  /// transport, then this protocol (Mptcp itself falls back to Tcp).
  Protocol fallback = Protocol::Mptcp;
};

/// Knobs that are not limits. All optional.
struct Options {
  Limits limits{};
  KeepAlive keep_alive{};
  SctpOptions sctp{};
  /// A short role name used in log lines ("asap", "enrp").
  std::string name = "transport";
  /// Receives the few log lines the transport writes (MPTCP fallback, an exception from a handler). One
  /// line per call, no trailing newline. Empty: written to stderr. Called on the loop thread.
  std::function<void(std::string_view)> log{};
  /// Test seam: replaces ::socket(2) (same arguments, same -1/errno convention). Empty: ::socket.
  std::function<int(int domain, int type, int protocol)> open_socket{};
};

struct ListenOptions {
  std::size_t max_connections = 0;  ///< live connections accepted from this listener; 0 = Limits default
  int backlog = 1024;               ///< listen(2) backlog
  bool v6_only = false;             ///< for an IPv6 wildcard: true refuses IPv4-mapped peers
  std::uint32_t sctp_ppid = 0;      ///< Sctp: PPID of this listener's connections; 0 = Options::sctp.ppid
  /// Sctp multi-homing: further local addresses added to the listening socket (sctp_bindx, same port).
  std::vector<boost::asio::ip::address> sctp_extra_addresses{};
};

struct ListenerInfo {
  ListenerId id = 0;
  Protocol protocol = Protocol::Tcp;  ///< what was asked for
  bool mptcp_active = false;          ///< the listening socket is an MPTCP socket (false after a fallback)
  bool sctp_active = false;           ///< the listening socket is an SCTP socket (false after a fallback)
  Endpoint local{};                   ///< the bound address; the port is the OS's pick when 0 was asked
};

struct ConnectionInfo {
  ConnId id = 0;
  Protocol protocol = Protocol::Tcp;  ///< what the listener or connect() asked for
  bool mptcp_active = false;          ///< MPTCP really runs on this connection (kernel says so, no fallback)
  bool sctp_active = false;           ///< an SCTP association (Protocol::Sctp without fallback)
  Endpoint local{};                   ///< IPv4-mapped IPv6 addresses (on a dual-stack listener) are given as IPv4
  Endpoint peer{};
  ListenerId listener = 0;            ///< the listener that accepted it; 0 for outbound connections
};

/// Counters of one connection, for metrics and tests.
struct ConnectionStats {
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;  ///< bytes the kernel accepted
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;  ///< messages accepted by send() or sendEncoded()
  std::uint64_t reads = 0;         ///< read operations that returned data
  std::uint64_t writes = 0;        ///< write operations completed (each carries every message queued before it)
  std::size_t queued_out = 0;      ///< bytes waiting to be written now
};

/// Counters of the whole transport since construction.
struct TransportStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;  ///< inbound connections closed at once because a connection limit was reached
  std::uint64_t connected = 0;
  std::uint64_t connect_failed = 0;
  std::uint64_t framing_errors = 0;
  std::uint64_t too_much_buffered = 0;
  std::uint64_t mptcp_fallbacks = 0;  ///< sockets opened as TCP although MPTCP was asked for
  std::uint64_t sctp_fallbacks = 0;   ///< sockets opened as SctpOptions::fallback although SCTP was asked for
  std::uint64_t sctp_foreign_ppid = 0;  ///< SCTP messages dropped because of their PPID
  std::uint64_t handler_exceptions = 0;
  std::uint64_t stalled = 0;
};

enum class CloseReason : std::uint8_t {
  PeerClosed,       ///< orderly end of stream from the peer
  Reset,            ///< the connection failed: reset, broken pipe, keep-alive timeout, any read/write error
  FramingError,     ///< the peer's bytes are not a valid message stream (bad or oversize length); see Error
  TooMuchBuffered,  ///< send() would have queued more than Limits::max_buffered_out
  LocalClose,       ///< close() or abort() was called, or one of our handlers threw on this connection
  ConnectFailed,    ///< connect() did not succeed: refused, unreachable, timed out, no socket, over the limit
  Shutdown,         ///< shutdown() ended it
  Stalled,          ///< a message stayed incomplete longer than Limits::message_timeout
};

/// "peer_closed", "reset", ... (snake case, for logs and metric labels).
std::string_view closeReasonName(CloseReason r);

/// What the transport tells its user. Every handler is optional and is called on the loop thread, never
/// from inside a MessageTransport member function (calls that end a connection report it later, from the
/// loop). Handlers may call any MessageTransport member, but must not destroy the MessageTransport.
/// An exception escaping a handler is caught, logged and counted, and that connection is aborted.
struct Handlers {
  /// An inbound connection is up. Messages may follow at once.
  std::function<void(const ConnectionInfo&)> accepted{};
  /// An outbound connect() succeeded.
  std::function<void(const ConnectionInfo&)> connected{};
  /// One whole message, padding included (length a multiple of 4, at least 4). The span points into the
  /// connection's receive buffer and is valid only during the call; copy what must outlive it.
  std::function<void(ConnId, std::span<const std::byte>)> message{};
  /// The connection is gone; exactly once for every ConnId that accepted/connect() produced, failed connects
  /// included. `error` carries the system error where there is one (refused, timed out, reset);
  /// `framing` is set for CloseReason::FramingError and points at the framer's Error (valid during the call).
  /// After this the ConnId is unknown to every member function.
  std::function<void(ConnId, CloseReason, std::error_code error, const wire::Error* framing)> closed{};
  /// A buffer taken by send(id, Bytes&&) has been written: it comes back empty, its capacity kept, for the
  /// next message (a bulk sender that reuses its buffers takes no fresh memory). Without this handler
  /// written buffers are freed.
  std::function<void(std::vector<std::byte>&&)> written{};
};

class MessageTransport {
 public:
  /// `loop` must outlive this object. Does no I/O.
  MessageTransport(boost::asio::io_context& loop, Handlers handlers, Options options = {});
  /// Closes every socket at once without calling any handler. Completions still queued in the loop become
  /// no-ops, so the loop may keep running (or be destroyed) afterwards.
  ~MessageTransport();
  MessageTransport(const MessageTransport&) = delete;
  MessageTransport& operator=(const MessageTransport&) = delete;

  /// Binds and listens at `at` (port 0: the OS picks) with `p`. For Mptcp, where the kernel refuses
  /// IPPROTO_MPTCP (EPROTONOSUPPORT, EINVAL, ENOPROTOOPT) a TCP socket is used instead and one line is
  /// logged for the life of this transport. SO_REUSEADDR is set. Errors: bind/listen failures (address in
  /// use, not local, permission), or operation_aborted after shutdown().
  Result<ListenerInfo> listen(const Endpoint& at, Protocol p, ListenOptions options = {});
  /// Stops accepting on a listener. Connections it accepted stay up. Unknown ids are ignored.
  void stopListening(ListenerId id);

  /// Starts connecting to `to` with `p` (Mptcp falls back to TCP as for listen). Always returns a new id; the
  /// outcome comes later, from the loop: handlers.connected, or handlers.closed with ConnectFailed (refused,
  /// unreachable, no answer within `timeout`, no socket, the connection limit reached, after shutdown()).
  /// A timeout of zero or less gives up on the next loop turn. `sctp_ppid` (non-zero) replaces
  /// SctpOptions::ppid for this association (one transport reaching peers of both dialects).
  ConnId connect(const Endpoint& to, Protocol p, std::chrono::milliseconds timeout, std::uint32_t sctp_ppid = 0);

  /// Queues one message (copied) for sending; writes happen from the loop, many messages per write.
  /// Returns false and sends nothing if `id` is unknown, still connecting, or closing. If the bytes queued
  /// would exceed Limits::max_buffered_out, returns false and closes the connection (TooMuchBuffered):
  /// a peer that does not read cannot make us hold more. The message is not checked or framed here.
  bool send(ConnId id, std::span<const std::byte> message);
  /// Like send(), but takes the message's buffer: a large one (16 KiB and more) is written from it as it
  /// is, after whatever was queued before, instead of being copied into the connection's write buffer.
  /// For bulk senders (ENRP table pages): no copy, and the write buffer does not grow. Smaller ones are
  /// copied as by send().
  bool send(ConnId id, std::vector<std::byte>&& message);

  /// Like send(), but the message is written straight into the connection's write queue, without a copy:
  /// `encode(std::vector<std::byte>& out)` appends exactly one whole message (padding included) to `out` and
  /// returns true, or returns false to send nothing (whatever it appended is then dropped). It is called at
  /// most once, before sendEncoded returns, and must not call this transport. Made for wire::encodeTo:
  ///   transport.sendEncoded(id, [&](auto& out) { return wire::encodeTo(msg, dialect, out).ok(); });
  /// Returns false if `id` is unknown, connecting or closing (encode is not called), if encode returned
  /// false (the connection stays), or if the queue would exceed Limits::max_buffered_out (the connection is
  /// closed, TooMuchBuffered).
  template <typename Encode>
  bool sendEncoded(ConnId id, Encode&& encode) {
    using Fn = std::remove_reference_t<Encode>;
    return appendMessage(
        id, [](const void* f, std::vector<std::byte>& out) -> bool { return (*static_cast<Fn*>(const_cast<void*>(f)))(out); },
        std::addressof(encode));
  }

  /// Graceful close: no more messages are delivered or accepted for sending; queued bytes are written,
  /// then our side is shut down and the socket closed when the peer closes too or after
  /// Limits::close_linger. handlers.closed(LocalClose) fires once, when the socket is closed. A pending
  /// connect is abandoned. Unknown or already closing ids are ignored.
  void close(ConnId id);
  /// Immediate close: queued bytes are dropped; handlers.closed(LocalClose) follows from the loop (unless
  /// closed was already reported). Unknown ids are ignored.
  void abort(ConnId id);

  /// The connection's addresses and protocol; nullopt for unknown ids and from the moment the connection
  /// ended (its handlers.closed may still be on its way). Connections still connecting or closing are known.
  std::optional<ConnectionInfo> info(ConnId id) const;
  std::optional<ConnectionStats> stats(ConnId id) const;
  /// Connections that hold a slot: connecting, open or closing.
  std::size_t connectionCount() const;
  const TransportStats& transportStats() const;

  /// Stops all listeners and aborts every connection (handlers.closed(Shutdown) follows for each, from the
  /// loop). Afterwards listen() fails and connect() reports ConnectFailed. Idempotent.
  void shutdown();

 private:
  bool appendMessage(ConnId id, bool (*encode)(const void*, std::vector<std::byte>&), const void* context);

  std::unique_ptr<detail::TransportCore> core_;
};

}  // namespace vnfpool::transport
