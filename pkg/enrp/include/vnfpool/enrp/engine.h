// The ENRP engine (RFC 5353, the Takeover Suggestion draft, digest sections 5, 7.7-7.12 and 11): the
// Pool Registrar's side of the PR <-> PR mesh. Peer discovery (static list and resolved DNS names),
// Presence heartbeats and peer failure detection, mentor selection and the initial handle table
// synchronisation, Handle Updates for the PR's own PEs, the checksum audit and resynchronisation, takeover
// of a dead PR and Takeover Suggestion. Sans-I/O: no sockets, no clock reads; feed it events, carry out
// its actions. It shares the handlespace (and the loop thread) with the ASAP registrar side. Design:
// docs/enrp.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "vnfpool/handlespace/handlespace.h"
#include "vnfpool/handlespace/random.h"
#include "vnfpool/handlespace/time.h"
#include "vnfpool/wire/enrp.h"

namespace vnfpool::enrp {

using handlespace::Clock;
using handlespace::Duration;
using handlespace::TimePoint;
using wire::PeId;
using wire::PrId;

/// NG Capabilities feature bit of this engine's Presence: "I send exactly one Handle Table Request per
/// response with M=1, so you may send pages ahead" (Config::ng_pages_ahead). Outside the bits of
/// wire::features; peers that do not know it ignore it and are served one page per request.
inline constexpr std::uint16_t kFeatureTablePagesAhead = 0x0100;

/// A transport connection to or from another PR, as the adapter numbers them; never reused, 0 = none.
using ConnId = std::uint64_t;
inline constexpr ConnId kNoConn = 0;
/// A connection attempt the engine asked for (Connect::request); never reused, 0 = none.
using RequestId = std::uint64_t;
/// A timer the engine asked for; the adapter keeps one timer per key.
using TimerKey = std::uint64_t;

struct Config {
  /// This PR's ID; must be non-zero (and <= 0xFFFFFFFF if any peer speaks classic).
  PrId pr_id = 0;
  /// Where this PR's ENRP endpoint listens, for Server Information (the first transport is sent).
  std::vector<wire::Transport> transports{};
  /// Presence heartbeat cycle (PEER-HEARTBEAT-CYCLE), jittered uniformly by +-jitter_percent.
  Duration heartbeat_cycle = std::chrono::milliseconds(2444);
  std::uint32_t jitter_percent = 12;
  /// Not heard for this long: probe with a Presence R=1 (MAX-TIME-LAST-HEARD)...
  Duration max_time_last_heard = std::chrono::milliseconds(5000);
  /// ...and declare the peer dead if the probe gets no answer within this time (MAX-TIME-NO-RESPONSE).
  Duration max_time_no_response = std::chrono::milliseconds(5000);
  /// When the last connection to a peer closes (its process died: the kernel reset the connection),
  /// treat it as probed at once: dead unless it is heard again within max_time_no_response. Off: wait for
  /// MAX-TIME-LAST-HEARD as RSPLIB does.
  bool probe_on_disconnect = true;
  /// Start-up ends this long after start if no mentor was heard (mentor discovery timeout).
  Duration mentor_discovery_timeout = std::chrono::milliseconds(5000);
  /// A takeover without all acks by then is abandoned.
  Duration takeover_expiry = std::chrono::milliseconds(5000);
  /// A handle table transfer from a peer (mentor sync or audit) that gets no page for this long is given
  /// up (a message or the connection was lost); an audit is retried on the next mismatch.
  Duration transfer_timeout = std::chrono::milliseconds(5000);
  /// Wait before connecting again to a wanted peer address after a failure or loss.
  Duration reconnect_interval = std::chrono::milliseconds(1000);
  /// Foreign entries learned with a Registration Life of 0 expire after this.
  Duration default_foreign_life = std::chrono::seconds(30);
  /// PEs per Handle Table Response: classic stays at RSPLIB's 128; ng pages are as large as max_page_bytes
  /// allows (about 600 PEs with an IPv4 and an IPv6 address and an ASAP transport each).
  std::size_t classic_page_entries = 128;
  std::size_t ng_page_entries = 4096;
  /// Upper bound on the encoded size of one Handle Table Response (messages are <= 65535 bytes).
  std::size_t max_page_bytes = 65000;
  /// Pages an ng responder sends for the first request of a transfer when the requester announced
  /// kFeatureTablePagesAhead; each further request gets one page, so this many stay in flight (a mentor
  /// sync of 10^6 PEs is ~1700 pages: with one page per round trip the round trips dominate). 1: off.
  /// The first page answers the request at once; the others follow one per timer turn (an Arm for
  /// "now"), so the requester starts on the first page while the rest are built. Classic peers always
  /// get one page per request (RSPLIB).
  std::size_t ng_pages_ahead = 8;
  /// With pages ahead, the first page of a transfer holds at most this many PEs and each next page at
  /// most twice as many as the one before, up to the full page: the responder's table is cold after a
  /// quiet spell (its first full page of 10^5 took 1.1-2.7 ms to build, the next three 0.25 ms each,
  /// later ones 0.05 ms), and the requester stores each small page while the responder builds the next.
  /// 0: no cap (the first page is as large as the others).
  std::size_t ng_first_page_entries = 128;
  /// Takeover Suggestion (7.12): always on in ng; for classic peers it can be switched off.
  bool classic_takeover_suggestion = true;
  /// How the suggestion target is chosen among this PR and its healthy peers (11.5 allows any choice).
  /// Xor: RSPLIB's largest (PR ID XOR PE ID); deterministic, but it splits PEs by the top bit in which the
  /// PR IDs differ, so shares are uneven with more than two PRs. Rendezvous: the largest hash of (PR ID,
  /// PE ID) (highest random weight); every PR gets an even share in expectation.
  enum class SuggestionMetric : std::uint8_t { Xor, Rendezvous };
  SuggestionMetric suggestion_metric = SuggestionMetric::Xor;
  /// Send to a peer on a connection it opened to us (inbound) rather than on the newest one while it has
  /// one. For classic ENRP over SCTP: RSPLIB's registrar takes a Presence only from the address and port
  /// its Server Information names, i.e. from our listening port, which our outbound one-to-one
  /// associations (ephemeral ports) never have; the association it opened to our listener does.
  bool prefer_inbound = false;
  /// Seed for the heartbeat jitter.
  std::uint64_t seed = 0x5eed;
};

/// What the adapter knows about a connection when it comes up.
struct ConnectionInfo {
  ConnId id = kNoConn;
  wire::Dialect dialect = wire::Dialect::Ng;
  bool inbound = true;
  /// For outbound connections: the Connect request this answers.
  RequestId request = 0;
};

// ---------------------------------------------------------------- events

/// Peer addresses from one source ("static", or a DNS name after each resolution): the complete current
/// list of that source. Addresses no source lists any more are no longer connected to (an established
/// connection stays until failure detection or the peer ends it).
struct PeerAddresses {
  std::string source{};
  std::vector<wire::Transport> addresses{};
};
struct Connected {
  ConnectionInfo info{};
};
/// A Connect request failed (refused, unreachable, timed out).
struct ConnectFailed {
  RequestId request = 0;
};
struct Disconnected {
  ConnId conn = kNoConn;
};
struct Received {
  ConnId from = kNoConn;
  wire::EnrpMessage message{};
};
/// A Handle Table Response read in place (wire::decodeHandleTableResponse): the engine reads its entries
/// one at a time and stores each as it comes, with no list of PoolElements built first. Same effect as
/// a Received of the decoded message, except: the peer and transfer checks come before the entries are
/// read (a page from a stranger or outside a transfer is ignored, whatever its entries), and a page
/// malformed after some entries keeps those entries (they are the peer's), counts as a Malformed message
/// and gives the transfer up (Stats::transfers_stalled). The bytes it points into must live until
/// handle() returns.
struct ReceivedTablePage {
  ConnId from = kNoConn;
  wire::enrp::HandleTableResponseView page{};
};
/// A message that did not decode.
struct Malformed {
  ConnId from = kNoConn;
  wire::Error error{};
};
/// A timer fired. A hint: the engine compares with its own deadlines.
struct Expired {
  TimerKey timer = 0;
};

// ---------------------------------------------------------------- actions

/// Encode `message` in the connection's dialect and send it.
struct Send {
  ConnId to = kNoConn;
  wire::EnrpMessage message{};
};
/// Send `bytes`, one message already encoded in `dialect` (the connection's): the Handle Table Responses,
/// which the engine encodes entry by entry as it reads them from the handlespace.
struct SendEncoded {
  ConnId to = kNoConn;
  wire::Dialect dialect = wire::Dialect::Ng;
  wire::Bytes bytes{};
};
/// Open a connection to `address`; answer with Connected (info.request = request) or ConnectFailed.
struct Connect {
  RequestId request = 0;
  wire::Transport address{};
};
struct Close {
  ConnId conn = kNoConn;
};
struct Arm {
  TimerKey timer = 0;
  TimePoint at{};
};
struct Disarm {
  TimerKey timer = 0;
};
/// This PR is now the PE's home PR (takeover, or Takeover Suggestion received): the registrar must
/// adopt it (RegistrarSide::adoptPe: a connection to its ASAP transport, Keep-Alive with H=1).
struct TakeOverPe {
  wire::PoolHandle pool{};
  PeId pe = 0;
};

using Event = std::variant<PeerAddresses, Connected, ConnectFailed, Disconnected, Received, ReceivedTablePage,
                           Malformed, Expired>;
using Action = std::variant<Send, SendEncoded, Connect, Close, Arm, Disarm, TakeOverPe>;
// Vectors of actions grow by moving: a takeover emits one action per orphan, and a copying growth
// cost a fifth of it.
static_assert(std::is_nothrow_move_constructible_v<Action>);

enum class PeerState : std::uint8_t {
  Alive,    // heard within MAX-TIME-LAST-HEARD
  Probing,  // Presence R=1 sent, waiting for any answer
  Syncing,  // a handle table transfer from it (mentor or audit) is in progress
};

/// One known peer PR, for the admin API.
struct PeerInfo {
  PrId id = 0;
  PeerState state = PeerState::Alive;
  wire::Dialect dialect = wire::Dialect::Ng;
  TimePoint last_heard{};
  std::vector<wire::Transport> transports{};
  bool mentor = false;
};

/// Counters for metrics. Monotonic unless said otherwise.
struct Stats {
  std::uint64_t presences_sent = 0;
  std::uint64_t presences_received = 0;
  std::uint64_t updates_sent = 0;        // Handle Updates, T=1 copies included
  std::uint64_t updates_received = 0;
  std::uint64_t audits = 0;              // Presence checksums compared
  std::uint64_t audit_mismatches = 0;
  std::uint64_t resyncs_completed = 0;   // W=1 transfers finished (marked entries purged)
  std::uint64_t purged_by_resync = 0;
  std::uint64_t table_pages_sent = 0;
  std::uint64_t table_entries_unsendable = 0;  // left out of pages: not encodable in the peer's dialect
  std::uint64_t table_pages_received = 0;
  std::uint64_t takeovers_started = 0;
  std::uint64_t takeovers_won = 0;
  std::uint64_t takeovers_lost = 0;      // cancelled for a lower-ID initiator or a revived target
  std::uint64_t takeovers_abandoned = 0;
  std::uint64_t orphans_adopted = 0;     // PEs rehomed to this PR by its takeovers
  std::uint64_t suggestions_sent = 0;
  std::uint64_t suggestions_received = 0;
  std::uint64_t ownership_conflicts = 0;  // table entries naming another home for an own PE
  std::uint64_t transfers_stalled = 0;    // table transfers given up: transfer_timeout, or a malformed page
  std::uint64_t peers_failed = 0;
  std::uint64_t foreign_expired = 0;     // entries removed when their Registration Life ran out
  std::uint64_t malformed = 0;
  std::uint64_t ignored = 0;             // messages from unknown/own senders, unexpected responses
  std::optional<Duration> startup_sync{};  // start to end of start-up: the mentor's last page, a stalled
                                           // transfer, or the discovery deadline with no mentor heard
};

/// The ENRP engine. Loop thread only; never throws on peer input; keeps references to `hs` and `clock`,
/// which must outlive it. The handlespace must record changes (Config::record_changes) for Handle Updates.
class Engine {
 public:
  /// The one timer the engine uses for every deadline (distinct from the ASAP engines' keys, so one
  /// adapter timer table can serve both).
  static constexpr TimerKey kTimer = 0x454e5250;  // "ENRP"

  Engine(const Config& config, handlespace::Handlespace& hs, const Clock& clock);

  /// Where this PR's ENRP endpoint listens (Server Information), when it is known only after the
  /// engine was made (a listener on port 0 or on a wildcard address). Call before start().
  void setTransports(std::vector<wire::Transport> transports) { config_.transports = std::move(transports); }

  /// Begins start-up (7.7): arms the mentor discovery timeout. Call once, before any event.
  void start(std::vector<Action>& out);

  /// Handles one event; appends the actions to carry out, in order, to `out`. Messages from a connection
  /// whose sender has not introduced itself with a Presence are dropped (a Handle Table Request gets a
  /// reject); messages naming this PR as sender close the connection (it loops back to this PR).
  void handle(const Event& event, std::vector<Action>& out);
  /// Convenience for tests: one event, its actions.
  std::vector<Action> handle(const Event& event) {
    std::vector<Action> out;
    handle(event, out);
    return out;
  }

  /// Turns the handlespace's change journal into Handle Updates: ADD (plus the Takeover Suggestion copy)
  /// for each own PE added, updated or adopted, DEL for each own PE removed; several changes of one PE
  /// are sent once. Foreign changes are dropped. Call once per loop turn, after the ASAP engine ran.
  void publishChanges(std::vector<Action>& out);
  /// The same for changes the caller took from the journal itself (the registrar also hands them to
  /// its watchers, so it takes them once for both).
  void publishChanges(std::span<const handlespace::Change> changes, std::vector<Action>& out);

  /// Gives a buffer back for the next table page (a SendEncoded's bytes once sent, or memory written
  /// ahead at start-up): pages are built in it instead of fresh memory. Up to ng_pages_ahead + 4 buffers of
  /// 16 KiB and more are kept; others are dropped.
  void recycle(wire::Bytes&& buffer);
  /// Whether a PE learned from a peer (table page or Handle Update) that is new to the handlespace is
  /// recorded as an Added change in its journal (with Config::record_changes). On by default. The engine
  /// announces only this PR's own PEs, so such changes matter only to other readers of the journal that
  /// want every change (the registrar's watch streams); without them a sync stores its entries without
  /// a change record each (about a tenth of storing one). Updates, removals and rehomings of such PEs
  /// are recorded as always.
  void recordForeignAdds(bool on) { record_foreign_adds_ = on; }
  /// Called with every batch the engine takes from the change journal itself (before a Presence, and in
  /// publishChanges(out)), so that other readers of the journal miss nothing. Loop thread.
  void setChangeObserver(std::function<void(std::span<const handlespace::Change>)> observer) {
    observer_ = std::move(observer);
  }

  /// True until the mentor's last Handle Table Response or the mentor discovery timeout.
  bool inStartup() const { return startup_; }
  const Stats& stats() const { return stats_; }
  const Config& config() const { return config_; }
  /// Every peer PR known by ID (heard at least once and not given up), ascending by ID; a snapshot.
  std::vector<PeerInfo> peers() const;
  /// The peers counted by state (every state present, 0 if none), for a gauge.
  std::map<PeerState, std::size_t> peersByState() const;
  /// PRs for which this engine runs a takeover now, ascending.
  std::vector<PrId> takeoversInProgress() const;

 private:
  enum class Sync : std::uint8_t { None, Mentor, Audit };
  struct Peer {
    PrId id = 0;
    std::vector<ConnId> conns{};  // newest first (inbound ones first with prefer_inbound); sends go to the first
    wire::Dialect dialect = wire::Dialect::Ng;
    TimePoint last_heard{};
    bool probing = false;
    TimePoint probe_deadline{};
    Sync sync = Sync::None;
    TimePoint sync_deadline{};  // transfer_timeout after the last request
    std::optional<handlespace::TableCursor> serve_cursor{};  // paging a table to this peer
    bool serve_own_only = false;
    std::size_t serve_owed = 0;  // pages sent with M=1 whose follow-up request has not arrived yet
    std::size_t serve_ahead = 0;  // pages ahead still to send, one per timer turn (tick)
    std::size_t serve_pages = 0;  // pages of this transfer sent so far (the ramp of ng_first_page_entries)
    bool serve_ramp = false;      // this transfer's pages grow from ng_first_page_entries (pages ahead)
    ConnId serve_conn = kNoConn;  // where the pages go; its loss ends the transfer
    bool pages_ahead = false;    // its Presence announced kFeatureTablePagesAhead
    std::vector<wire::Transport> transports{};
    std::optional<PrId> taker{};  // announced Init Takeover of this peer by someone else
  };
  struct Link {
    ConnId id = kNoConn;
    wire::Dialect dialect = wire::Dialect::Ng;
    bool inbound = true;
    PrId peer = 0;  // 0 until a message names the sender
    std::string target{};  // outbound: the wanted address key
  };
  struct Target {
    wire::Transport address{};
    std::set<std::string> sources{};
    RequestId request = 0;   // attempt in flight
    ConnId conn = kNoConn;   // established outbound connection
    std::optional<TimePoint> retry_at{};
    bool self = false;       // it is this PR's own address: never again
  };
  struct Takeover {
    std::set<PrId> outstanding{};
    TimePoint expires{};
  };

  void onAddresses(const PeerAddresses& e, std::vector<Action>& out);
  void onConnected(const Connected& e, std::vector<Action>& out);
  void onConnectFailed(const ConnectFailed& e, std::vector<Action>& out);
  void onDisconnected(const Disconnected& e, std::vector<Action>& out);
  void onReceived(const Received& e, std::vector<Action>& out);
  void onTablePage(const ReceivedTablePage& e, std::vector<Action>& out);
  void onMalformed(ConnId from, const wire::Error& error, std::vector<Action>& out);
  /// The checks every received message passes (a known link, a sender that is not this PR, a receiver
  /// that is this PR or 0); false: dropped (and counted), or the link closed as a loop to ourselves.
  bool admit(ConnId from, const wire::enrp::Ids& ids, std::vector<Action>& out);
  void tick(std::vector<Action>& out);

  void presence(Link& link, const wire::enrp::Presence& m, std::vector<Action>& out);
  void tableRequest(Peer& peer, const wire::enrp::HandleTableRequest& m, std::vector<Action>& out);
  /// The next page of the transfer.
  void sendTablePage(Peer& peer, std::vector<Action>& out);
  void sendPagesAhead(std::vector<Action>& out);
  bool mentorTransferRunning() const;
  void tableResponse(Peer& peer, const wire::enrp::HandleTableResponse& m, std::vector<Action>& out);
  void tableResponse(Peer& peer, const wire::enrp::HandleTableResponseView& page, ConnId from,
                     std::vector<Action>& out);
  /// After a page's entries: asks for the next page, or ends the transfer.
  void tablePageDone(Peer& peer, bool reject, bool more, std::vector<Action>& out);
  /// Gives a table transfer up (stalled, or a page malformed partway): no purge, no further page taken.
  void abandonTransfer(Peer& peer, std::vector<Action>& out);
  void update(Peer& peer, const wire::enrp::HandleUpdate& m, std::vector<Action>& out);
  void listResponse(const wire::enrp::ListResponse& m, std::vector<Action>& out);
  void initTakeover(Peer* peer, ConnId from, const wire::enrp::InitTakeover& m, std::vector<Action>& out);
  void takeoverAck(const wire::enrp::InitTakeoverAck& m, std::vector<Action>& out);
  void takeoverServer(const wire::enrp::TakeoverServer& m, std::vector<Action>& out);

  void connectTarget(const std::string& key, Target& target, std::vector<Action>& out);
  /// After a failed or lost connection to a wanted address: retry later, or forget an address only a
  /// List Response named.
  void retryLater(const std::string& key);
  Peer& bind(Link& link, PrId id, bool& is_new);
  void sendPresence(Peer& peer, bool reply_required, std::vector<Action>& out);
  void sendPresenceOn(ConnId conn, wire::Dialect dialect, PrId receiver, bool reply_required,
                      std::vector<Action>& out);
  void sendTo(const Peer& peer, wire::EnrpMessage message, std::vector<Action>& out);
  void heartbeat(std::vector<Action>& out);
  void endStartup();
  void learn(std::string_view pool, const wire::PoolElement& pe, bool snapshot, TimePoint now,
             std::vector<Action>& out);
  void peerDead(PrId id, std::vector<Action>& out);
  void completeTakeover(PrId target, std::vector<Action>& out);
  void removePeer(PrId id, std::vector<Action>& out);
  void ackArrived(PrId target, PrId from, std::vector<Action>& out);
  void rearm(std::vector<Action>& out);
  wire::enrp::Ids ids(PrId receiver) const { return {config_.pr_id, receiver}; }
  Duration jittered(Duration d);
  Peer* peerOf(ConnId conn);

  Config config_;
  handlespace::Handlespace& hs_;
  // Kept from page to page (a sync builds hundreds; fresh buffers each time cost page faults): the
  // encoded PEs of the page being built, where each one is and which pool it is in, the pools.
  struct PageEntry {
    std::uint32_t group = 0;
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
  };
  struct PageScratch {
    wire::Bytes entries{};
    std::vector<PageEntry> refs{};
    std::vector<std::string_view> pools{};
    std::unordered_map<std::string_view, std::uint32_t> pool_index{};
    std::vector<std::uint32_t> starts{};  // grouping the entries by pool
    std::vector<std::uint32_t> sorted{};
    wire::Bytes body{};
    std::vector<wire::Bytes> spare{};  // for the messages (recycle())
  };
  PageScratch page_{};
  const Clock& clock_;
  handlespace::Random rng_;
  Stats stats_;
  bool started_ = false;
  bool startup_ = true;
  TimePoint started_at_{};
  TimePoint startup_deadline_{};
  std::optional<PrId> mentor_{};
  TimePoint next_heartbeat_{};
  std::map<PrId, Peer> peers_;
  std::unordered_map<ConnId, Link> links_;
  std::map<std::string, Target> targets_;
  std::map<std::string, std::set<std::string>> sources_;  // source -> address keys
  std::map<PrId, Takeover> takeovers_;
  std::set<PrId> listed_{};  // peers a List Request went to
  RequestId next_request_ = 1;
  std::optional<TimePoint> armed_{};
  std::function<void(std::span<const handlespace::Change>)> observer_{};
  std::vector<handlespace::Change> taken_{};  // the journal's previous buffer, reused (publishChanges)
  bool record_foreign_adds_ = true;
};

/// The score of `pr` for `pe` under `metric`: the suggestion goes to the PR with the largest score.
std::uint64_t suggestionScore(Config::SuggestionMetric metric, PrId pr, PeId pe);

/// "address:port" of a transport's first address (the key of a wanted peer address).
std::string addressKey(const wire::Transport& t);

}  // namespace vnfpool::enrp
