// The handlespace: the table every Pool Registrar keeps, pools (by pool handle) -> Pool Elements, with the
// selection policies of digest section 9, indexes by owner (home PR), connection and expiry, and per-owner
// audit checksums (digest section 8). Pure data: no sockets, no clock reads (time is an argument), no
// hidden randomness (a Random is passed in). Design and costs: docs/handlespace.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "vnfpool/handlespace/random.h"
#include "vnfpool/handlespace/time.h"
#include "vnfpool/wire/checksum.h"
#include "vnfpool/wire/result.h"
#include "vnfpool/wire/types.h"

namespace vnfpool::handlespace {

using wire::Error;
using wire::PeId;
using wire::PoolHandle;
using wire::PrId;
using wire::Result;

/// The transport connection (association) a PE registered on, as the registrar numbers them. PEs learned
/// through ENRP have none.
using ConnectionId = std::uint64_t;
inline constexpr ConnectionId kNoConnection = 0;

struct Config {
  /// Longest accepted pool handle in bytes; longer ones are refused with InvalidValues (RSPLIB aborts on
  /// handles over 32 bytes, so that is the default; ng-only deployments may raise it).
  std::size_t max_pool_handle = 32;
  /// PEs per handle resolution when the PU does not say (RSPLIB MaxHResItems).
  std::size_t default_items = 3;
  /// Hard cap on PEs per handle resolution (RSPLIB: 128).
  std::size_t max_items = 128;
  /// How many of the returned PEs advance their selection state; 0 = the policy default (digest 9.3).
  std::uint32_t max_increment = 0;
  /// Most addresses accepted per transport.
  std::size_t max_addresses = 32;
  /// Record every change for takeChanges() (the registrar turns them into Handle Updates).
  bool record_changes = false;
};

/// Whether handlespaces advise their large arrays (2 MiB and more: record regions, index tables, the
/// expiry heap, owner lists) for transparent huge pages; on by default. Process-wide, read at each
/// allocation. On machines where fresh 4 KiB pages are expensive (virtual machines with shadow paging)
/// this makes a growing handlespace several times faster; the kernel's transparent_hugepage setting
/// still decides ("never" turns it off, "madvise" and "always" honour it). docs/handlespace.md.
void setHugePages(bool on) noexcept;
bool hugePages() noexcept;
/// Bytes of those large arrays mapped now, by all handlespaces of the process (they are outside malloc's
/// statistics).
std::size_t mappedBytes() noexcept;
/// The part of those blocks that is resident now (mincore): what they cost in memory. A block's untouched
/// tail (the rest of a record region, a vector's spare capacity) is address space only.
std::size_t residentMappedBytes();

/// A stored PE. Valid until the next call that modifies the handlespace; never dereference an old one.
struct PeRef {
  std::uint32_t slot = 0;
  friend bool operator==(const PeRef&, const PeRef&) = default;
};

/// Where an entry came from, besides the PE parameter.
struct EntryContext {
  ConnectionId connection = kNoConnection;  // the PE's registration association (own PEs)
  TimePoint expires = kNever;               // deadline for expire(): foreign PEs now + life, or a keep-alive
  /// With Config::record_changes: false leaves out the Added change of a PE this call adds (a PE learned
  /// from a peer while nobody reads such changes). An update of an existing entry is recorded as always,
  /// and so are the entry's later changes.
  bool record_added = true;
};

struct Registered {
  PeRef ref{};
  bool added = false;  // false: an existing entry was updated in place (re-registration)
};

/// A removed entry, as a bulk operation reports it.
struct RemovedPe {
  PoolHandle pool{};
  PeId pe = 0;
  PrId owner = 0;
  friend bool operator==(const RemovedPe&, const RemovedPe&) = default;
};

/// One change, recorded when Config::record_changes is set. `Added` and `Updated` mean "send ADD";
/// `Removed` means "send DEL"; `Rehomed` is an owner change (takeover), `previous_owner` says from whom.
struct Change {
  enum class Kind : std::uint8_t { Added, Updated, Removed, Rehomed };
  Kind kind = Kind::Added;
  PoolHandle pool{};
  PeId pe = 0;
  PrId owner = 0;
  PrId previous_owner = 0;
  /// Removed: the entry as it was just before it went (what a DEL carries, RFC 5353: the full PE
  /// parameter); null for the other kinds. Shared, so copying a change stays cheap.
  std::shared_ptr<const wire::PoolElement> removed{};

  friend bool operator==(const Change& a, const Change& b) {
    const bool same_removed = a.removed == b.removed || (a.removed && b.removed && *a.removed == *b.removed);
    return a.kind == b.kind && a.pool == b.pool && a.pe == b.pe && a.owner == b.owner &&
           a.previous_owner == b.previous_owner && same_removed;
  }
};

static_assert(std::is_nothrow_move_constructible_v<Change>, "the journal moves changes when it grows");

/// One pool's figures, for metrics.
struct PoolStats {
  PoolHandle handle{};
  std::size_t size = 0;             // PEs
  std::uint64_t resolutions = 0;    // select() calls answered since the pool was (re)created
};

/// Where to continue paging a handle table. Entries of each owner are paged in the order they joined
/// that owner; `after` is the last serial returned (0 = from the start). Survives any modification:
/// an entry present for the whole paging is returned exactly once.
struct TableCursor {
  PrId owner = 0;
  std::uint64_t after = 0;
  friend bool operator==(const TableCursor&, const TableCursor&) = default;
};

struct TablePage {
  std::vector<PeRef> entries{};
  std::optional<TableCursor> next{};  // empty: this was the last page
};

namespace detail {
struct PeRecord;
struct PoolRecord;
class Impl;
}  // namespace detail

/// Read access to one stored PE. Cheap to copy; valid as long as the PeRef it came from.
class PeView {
 public:
  PeId id() const;
  PrId homePr() const;
  std::string_view pool() const;
  ConnectionId connection() const;
  TimePoint lastUpdate() const;
  TimePoint expires() const;
  std::uint32_t registrationLifeMs() const;
  wire::Policy policy() const;
  std::uint32_t degradation() const;  // PR-local accumulated degradation (digest 9.1 "Deg")
  wire::Transport userTransport() const;
  std::optional<wire::Transport> asapTransport() const;
  /// The PE parameter as ENRP sends it (policy words beyond the policy's fields are not kept).
  wire::PoolElement poolElement() const;

 private:
  friend class detail::Impl;
  PeView(const detail::PeRecord* record, const detail::PoolRecord* pool) : record_(record), pool_(pool) {}
  const detail::PeRecord* record_;
  const detail::PoolRecord* pool_;
};

/// The handlespace. Not thread-safe: the owning loop thread calls everything. No call throws on bad
/// input; refused operations return an Error with the RFC 5354 cause the peer should hear.
class Handlespace {
 public:
  explicit Handlespace(Config config = {});
  ~Handlespace();
  /// A moved-from handlespace may only be destroyed or assigned to.
  Handlespace(Handlespace&&) noexcept;
  Handlespace& operator=(Handlespace&&) noexcept;

  const Config& config() const;

  /// Adds `pe` to `pool` (creating the pool), or updates it in place if the PE ID is already there
  /// (re-registration: new values, load, owner, transports, connection, expiry; accumulated degradation
  /// is reset). Refuses, changing nothing, with:
  ///   InvalidValues - empty or too long handle, PE ID 0, unknown policy type, too few policy words,
  ///                   no user addresses or more than max_addresses;
  ///   PolicyInconsistent - the pool's policy type (fixed by its first PE) differs;
  ///   InconsistentTransportType / InconsistentDataControl - the user transport protocol or its
  ///                   Transport Use differs from the pool's.
  Result<Registered> registerPe(std::string_view pool, const wire::PoolElement& pe, const EntryContext& context,
                                TimePoint now);

  /// Removes one PE; returns false if it was not there. The pool disappears with its last PE.
  bool deregisterPe(std::string_view pool, PeId pe);

  std::optional<PeRef> find(std::string_view pool, PeId pe) const;
  bool contains(std::string_view pool, PeId pe) const { return find(pool, pe).has_value(); }
  /// A hint, no effect on contents: starts loading the index lines that a registration, lookup or
  /// deregistration of (pool, pe) reads first. A caller with a batch of operations (the entries of a
  /// table page) hints a few entries ahead of the one it applies, so the misses into big indexes overlap
  /// instead of following one another.
  void prefetch(std::string_view pool, PeId pe) const;
  /// A hint, no effect on contents: starts loading the entry's record, which view(ref) reads. A caller
  /// walking many entries (a table page built from handleTable's refs) hints a few ahead.
  void prefetch(PeRef ref) const;
  PeView view(PeRef ref) const;
  /// The PE parameter a handle resolution answer carries for `ref` (the entry without its ASAP transport,
  /// digest 6.6), encoded in `dialect`: built on first use and kept with the entry until the entry
  /// changes (re-registration, new home PR, removal), so an answer copies bytes instead of rebuilding and
  /// encoding the PE. Empty if the entry cannot be encoded in `dialect` (a 64-bit ID in classic). Valid
  /// until the next call that modifies the handlespace (asking for further parameters keeps it valid, so
  /// an answer can hold all of its PEs' parameters at once).
  std::span<const std::byte> resolutionParameter(PeRef ref, wire::Dialect dialect);

  /// Handle resolution: picks up to `count` PEs of `pool` by its policy (0 = Config::default_items;
  /// capped at max_items and the pool size), never the same PE twice, into `out` (cleared first), and
  /// advances the selection state of the first MaxIncrement of them. Returns how many were picked, or
  /// UnknownPoolHandle. Random policies draw from `rng`.
  Result<std::size_t> select(std::string_view pool, std::size_t count, Random& rng, std::vector<PeRef>& out);

  std::size_t size() const;       // PEs
  std::size_t poolCount() const;  // pools
  /// PEs in `pool` (0 if unknown).
  std::size_t poolSize(std::string_view pool) const;
  /// The pool's policy type, fixed by its first PE; nullopt if the pool is unknown.
  std::optional<std::uint32_t> poolPolicy(std::string_view pool) const;
  /// All PEs of `pool` (selection order for ordered policies); empty if unknown.
  std::vector<PeRef> poolMembers(std::string_view pool) const;
  /// Every pool handle, in no particular order.
  std::vector<PoolHandle> poolHandles() const;
  /// Every pool with its size and resolution count, in no particular order. O(pools): for metrics
  /// scrapes, not for the message path. A pool that empties and comes back starts counting from 0.
  std::vector<PoolStats> poolStats() const;

  /// The running audit checksums over the PEs whose home PR is `owner` (digest 8: Internet-16 for
  /// classic, Internet-32 for ng); the empty-set value for an owner without PEs. O(1).
  wire::OwnerChecksum ownerChecksum(PrId owner) const;
  /// The same, recomputed from the entries (O(n); audits and tests).
  wire::OwnerChecksum recomputeOwnerChecksum(PrId owner) const;
  std::size_t ownerSize(PrId owner) const;
  /// The home PRs that own at least one PE, ascending.
  std::vector<PrId> owners() const;

  /// One page of a handle table: up to `max` entries after `from`, of `owner` only (ENRP Handle Table
  /// Request with W=1) or of all owners in ascending PR ID order (W=0). max 0 is treated as 1.
  TablePage handleTable(std::optional<PrId> owner, TableCursor from, std::size_t max) const;

  /// Removes every PE of `owner` (a PR given up on without takeover). Returns what was removed.
  std::vector<RemovedPe> removeOwner(PrId owner);
  /// Takeover: makes `to` the home PR of every PE of `from`. Checksums move with them. Returns how many.
  std::size_t rehomeOwner(PrId from, PrId to);
  /// Makes `to` the home PR of one PE (Keep-Alive with H=1, takeover suggestion). False if absent.
  bool rehome(std::string_view pool, PeId pe, PrId to);

  /// Audit resynchronisation (digest 7.10, RFC 5353): marks every PE of `owner` before a Handle Table
  /// Request to it; any later registration of a PE (its entry in the responses) clears that PE's mark.
  /// Returns how many were marked.
  std::size_t markOwner(PrId owner);
  /// After the last Handle Table Response: removes the PEs of `owner` that are still marked.
  std::vector<RemovedPe> removeMarked(PrId owner);

  /// Removes every PE registered on `connection` (association lost; digest 7.1). kNoConnection
  /// removes nothing.
  std::vector<RemovedPe> removeConnection(ConnectionId connection);
  std::vector<PeRef> connectionMembers(ConnectionId connection) const;

  /// Sets the deadline of one entry (kNever: none).
  void setExpiry(PeRef ref, TimePoint expires);
  /// The earliest deadline, for arming the one timer the adapter keeps; nullopt if none.
  std::optional<TimePoint> nextExpiry();
  /// Removes every entry whose deadline is <= now; returns them in deadline order.
  std::vector<RemovedPe> expire(TimePoint now);

  /// The changes since the last call, oldest first (empty unless Config::record_changes).
  std::vector<Change> takeChanges();
  /// The same into `into`, whose previous contents are dropped: the journal and `into` trade buffers,
  /// so a caller that keeps `into` from batch to batch allocates nothing once both have grown to a
  /// batch's size (a table page brings about a thousand changes; a fresh buffer per page is fresh memory
  /// per page). Buffers beyond kKeptChanges changes are given up rather than kept for the next batch.
  void takeChanges(std::vector<Change>& into);
  static constexpr std::size_t kKeptChanges = 16384;
  /// Empties a buffer of used changes for keeping until the next takeChanges(into): its contents (removed
  /// PEs, pool handles) go now, and a buffer beyond kKeptChanges is given up.
  static void emptyForReuse(std::vector<Change>& buffer);
  /// Whether takeChanges() would return anything (cheap: lets a caller skip scheduling a flush).
  bool hasChanges() const;

  /// Bytes of memory the handlespace holds, counted from its containers' capacities (approximate:
  /// allocator overhead is not included). Benchmarks report it per PE.
  std::size_t memoryBytes() const;

  /// Makes room for `pes` PEs now: the PE records, the PE index and the expiry heap are allocated for
  /// that many and written, so the memory is in place before it is needed. A registrar that expects a
  /// handlespace of that size (the mentor's, which its ENRP start-up sync copies) calls it before it
  /// starts: the sync then neither faults in fresh pages nor rehashes the index as it grows. It costs
  /// about 190 bytes of resident memory per reserved PE from the call on. No effect on contents; a
  /// reservation below what is held already changes nothing.
  void reserve(std::size_t pes);

 private:
  std::unique_ptr<detail::Impl> impl_;
};

}  // namespace vnfpool::handlespace
