// The handlespace's private data structures. See docs/handlespace.md for the picture and the costs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "weight_tree.h"
#include "arena.h"
#include "order_tree.h"
#include "owner_items.h"
#include "slot_table.h"
#include "vnfpool/handlespace/handlespace.h"
#include "vnfpool/handlespace/policy.h"

namespace vnfpool::handlespace::detail {

/// Policy value words kept per PE: the most any selectable policy defines.
inline constexpr std::size_t kPolicyWords = 4;
/// WRR key of an entry whose weight is 0: it sorts last and is never returned.
inline constexpr std::uint32_t kNeverKey = 0xFFFFFFFFu;
/// WRR rounds are renumbered before they reach this (a wrap would reorder the rounds).
inline constexpr std::uint32_t kRoundLimit = 0xFFFFFF00u;

/// The addresses of a PE's user and ASAP transports, packed as [family byte][4 or 16 bytes] each, inline
/// when they fit in 30 bytes (one IPv4 plus one IPv6 address take 22), on the heap otherwise. When the ASAP transport has the same addresses as the user transport
/// (the usual case: same host) they are stored once. Byte-aligned, so it packs tightly into PeRecord.
class AddressPack {
 public:
  static constexpr std::size_t kInline = 30;
  static constexpr std::uint8_t kSameAsUser = 0xFF;
  AddressPack() = default;
  AddressPack(const AddressPack&) = delete;
  AddressPack& operator=(const AddressPack&) = delete;
  ~AddressPack() { release(); }

  void assign(const wire::AddressList& user, const wire::AddressList* asap);
  /// The user (ASAP) transport's addresses, appended to `out`.
  void userInto(wire::AddressList& out) const { decodeInto(0, user_count_, out); }
  bool asapSameAsUser() const { return asap_count_ == kSameAsUser; }
  void asapInto(wire::AddressList& out) const {
    if (asap_count_ == kSameAsUser) {
      userInto(out);
    } else {
      decodeInto(user_count_, asap_count_, out);
    }
  }
  std::size_t heapBytes() const { return size_ > kInline ? size_ : 0; }
  void clear() { release(); }

 private:
  // Heap storage keeps its pointer in the first bytes of bytes_ (copied, never type-punned).
  std::uint8_t* heap() const {
    std::uint8_t* p;
    std::memcpy(&p, bytes_, sizeof p);
    return p;
  }
  void setHeap(std::uint8_t* p) { std::memcpy(bytes_, &p, sizeof p); }
  const std::uint8_t* data() const { return size_ > kInline ? heap() : bytes_; }
  void decodeInto(std::size_t first, std::size_t count, wire::AddressList& out) const;
  void release() {
    if (size_ > kInline) delete[] heap();
    size_ = 0;
  }

  std::uint8_t bytes_[kInline]{};
  std::uint16_t size_ = 0;
  std::uint8_t user_count_ = 0;
  std::uint8_t asap_count_ = 0;  // kSameAsUser: the user addresses
};

/// One PE in 160 bytes. The first 64 hold everything a removal and a selection touch (identity,
/// selection state, index positions and links), so deregistering a PE reads one or two adjacent cache
/// lines of its record; the rest holds deadlines, policy values and transports. Lives in a chunked arena
/// (stable address), named by its slot number.
struct alignas(32) PeRecord {
  // Hot part.
  PeId id = 0;
  std::uint32_t seq = 0;              // selection sequence number (lower = less recently selected)
  std::uint32_t key = 0;              // Ordered: sort key (WRR: round); Weighted: weight
  std::uint32_t pool = kNoSlot;       // pool slot; kNoSlot: this record is free
  std::uint32_t slot = kNoSlot;       // this record's own slot
  std::uint32_t owner_pos = kNoSlot;  // index in the owner's item array
  std::uint32_t heap_pos = kNoSlot;   // index in the expiry heap
  std::uint32_t degradation = 0;      // PR-local accumulated degradation
  PrId home_pr = 0;
  ConnectionId connection = kNoConnection;
  std::uint32_t conn_prev = kNoSlot, conn_next = kNoSlot;
  // Cold part.
  TimePoint expires = kNever;
  TimePoint last_update{};
  union {
    std::uint32_t credit;    // WRR: selections left in this round
    std::uint32_t position;  // Weighted: index in the pool's member array
  };
  std::uint32_t life_ms = 0;
  std::array<std::uint32_t, kPolicyWords> words{};
  std::uint32_t user_service_code = 0;
  std::uint16_t user_port = 0, user_use = 0;
  std::uint16_t asap_port = 0, asap_use = 0;
  wire::TransportKind user_kind = wire::TransportKind::Sctp;
  wire::TransportKind asap_kind = wire::TransportKind::Sctp;
  std::uint8_t word_count = 0;
  bool has_asap : 1 = false;
  bool marked : 1 = false;  // audit resynchronisation (markOwner / removeMarked)
  AddressPack addresses{};
  // The entry's encoded resolution PE parameters (Impl::encoded_), kNoSlot: none. Dropped by every change
  // of what they encode; a freed record keeps its block until the slot is registered again.
  std::uint32_t encoded = kNoSlot;

  PeRecord() : credit(0) {}
  std::span<const std::uint32_t> policyWords() const { return {words.data(), word_count}; }
};
static_assert(sizeof(PeRecord) == 160, "the per-PE budget");
static_assert(offsetof(PeRecord, expires) == 64, "the hot part is 64 bytes");

/// Selection entry of a small pool: everything selection needs, so resolving touches no PE record.
struct SmallEntry {
  std::uint32_t slot = kNoSlot;
  std::uint32_t key = 0;  // Ordered: sort key (WRR: round); Weighted: weight
  std::uint32_t seq = 0;  // Ordered: sequence number, renumbered before it wraps
};

/// Sequence numbers are renumbered before a pool's counter passes this (they are kept in 32 bits).
inline constexpr std::uint64_t kSeqLimit = OrderTree::kMaxSeq;

/// Pools with up to this many PEs keep their selection order inline in the pool record.
inline constexpr std::uint32_t kSmallPool = 12;
/// A large pool that shrinks to this size goes back to the inline form (hysteresis).
inline constexpr std::uint32_t kBackToSmall = 6;

/// Selection structures of a pool past kSmallPool PEs.
struct LargeSelection {
  explicit LargeSelection(OrderTree::Slabs& slabs) : ordered(slabs) {}
  OrderTree ordered;                      // Ordered policies: (key, seq, slot) in selection order
  WeightTree weights{};                   // Weighted policies: members (slot, weight), dense
};

/// One pool, four cache lines: a resolution of a small pool reads the first two (handle, policy, the
/// first entries) and nothing else.
struct alignas(64) PoolRecord {
  std::string handle;
  const PolicyTraits* traits = nullptr;  // null: this slot is free
  std::uint64_t seq = 0;                 // last sequence number handed out
  std::uint32_t small_count = 0;
  std::uint32_t size = 0;
  std::array<SmallEntry, kSmallPool> small{};  // Ordered: sorted by (key, seq). Weighted: any order.
  std::unique_ptr<LargeSelection> large{};     // null: the inline form above
  std::uint64_t hash = 0;
  std::uint32_t round_hint = 0;  // WRR: the current round when no entry has a weight
  std::uint32_t eligible = 0;    // Weighted: members with weight > 0
  wire::TransportKind transport = wire::TransportKind::Sctp;
  std::uint16_t transport_use = 0;
  std::uint64_t resolutions = 0;  // handle resolutions answered (metrics); same line as `large`
};
static_assert(sizeof(PoolRecord) == 256, "four cache lines");

/// A PE's parameter as a handle resolution answer carries it (no ASAP transport), encoded per dialect
/// on first use (empty: not encoded yet). Blocks are reused through a free list.
struct EncodedPe {
  std::array<wire::Bytes, 2> by_dialect{};  // index: wire::Dialect
  std::uint32_t next_free = kNoSlot;
};

struct OwnerState {
  PrId id = 0;
  wire::OwnerChecksum checksum{};
  OwnerItems items{};  // ascending serial
  std::size_t live = 0;
  std::uint32_t next_serial = 1;  // renumbered before it wraps
};

#pragma pack(push, 4)
struct HeapItem {  // 12 bytes: the heap is one of the per-PE costs
  std::int64_t at = 0;           // deadline, TimePoint ticks (a plain integer: the struct is packed)
  std::uint32_t slot = kNoSlot;  // kNoSlot: removed, discarded when it reaches the top
};
#pragma pack(pop)

class Impl {
 public:
  explicit Impl(Config config) : config_(config) {}
  ~Impl();

  Result<Registered> registerPe(std::string_view pool, const wire::PoolElement& pe, const EntryContext& context,
                                TimePoint now);
  bool deregister(std::string_view pool, PeId pe);
  std::uint32_t findSlot(std::string_view pool, PeId pe) const;
  void prefetch(std::string_view pool, PeId pe) const;
  std::uint32_t findPool(std::string_view handle) const;
  Result<std::size_t> select(std::string_view pool, std::size_t count, Random& rng, std::vector<PeRef>& out);

  PeView view(std::uint32_t slot) const { return PeView(&record(slot), &pools_[record(slot).pool]); }
  std::span<const std::byte> resolutionParameter(std::uint32_t slot, wire::Dialect dialect);

  PeRecord& record(std::uint32_t slot) { return records_[slot]; }
  const PeRecord& record(std::uint32_t slot) const { return records_[slot]; }

  // Owners.
  OwnerState* owner(PrId id);
  const OwnerState* owner(PrId id) const;
  OwnerState& ownerOrCreate(PrId id);
  TablePage handleTable(std::optional<PrId> owner, TableCursor from, std::size_t max) const;
  std::vector<RemovedPe> removeOwner(PrId id);
  std::size_t rehomeOwner(PrId from, PrId to);
  std::size_t markOwner(PrId id);
  std::vector<RemovedPe> removeMarked(PrId id);
  void rehome(std::uint32_t slot, PrId to);
  wire::OwnerChecksum recompute(PrId id) const;
  /// The pool's PEs, in selection order for Ordered policies.
  std::vector<std::uint32_t> memberSlots(const PoolRecord& pool) const;
  std::vector<PrId> ownerIds() const {
    std::vector<PrId> ids;
    for (const auto& st : owners_)
      if (st.live > 0) ids.push_back(st.id);
    return ids;
  }

  // Connections.
  std::vector<std::uint32_t> connectionSlots(ConnectionId connection) const;
  std::vector<RemovedPe> removeConnection(ConnectionId connection);

  // Expiry.
  void setExpiry(std::uint32_t slot, TimePoint expires);
  std::optional<TimePoint> nextExpiry();
  std::vector<RemovedPe> expire(TimePoint now);

  std::size_t memoryBytes() const;
  void reserve(std::size_t pes);

  Config config_;
  // Before the pools: their order trees give their nodes back to these when they go.
  OrderTree::Slabs order_slabs_{};
  BlockSlab owner_blocks_{OwnerItems::kBlockBytes};  // before owners_, whose items live there
  // A pool is live while traits != nullptr. Chunks of 64 records (16 KiB), no huge-page regions: a
  // pool is a tenth of a PE or less, and a 2 MiB page would round its memory up by more than it saves.
  Arena<PoolRecord, 6, false> pools_{};
  SlotTable pool_index_{};
  std::size_t pool_count_ = 0;
  std::size_t pe_count_ = 0;
  std::vector<Change> changes_{};

 private:
  std::uint32_t allocateRecord();
  void freeRecord(std::uint32_t slot);
  std::uint32_t createPool(std::string_view handle, std::uint64_t hash, const PolicyTraits& traits,
                           const wire::Transport& transport);
  void destroyPool(std::uint32_t pool_slot);
  // A PE's key in pe_index_ hashes its pool's *handle* hash, not the pool's slot: both probes of a
  // lookup (pool index and PE index) can then start from the message alone, in parallel.
  static std::uint64_t peHash(std::uint64_t pool_hash, PeId id) {
    return mix64(id ^ (pool_hash * 0x9E3779B97F4A7C15ull));
  }
  /// Finds (pool slot, PE slot) with the pool and PE index probes and their records loading together.
  std::pair<std::uint32_t, std::uint32_t> locate(std::string_view pool, std::uint64_t pool_hash, PeId pe) const;

  // Selection structures.
  void insertIntoPool(PoolRecord& pool, std::uint32_t slot);
  void removeFromPool(PoolRecord& pool, std::uint32_t slot);
  void rekey(PoolRecord& pool, std::uint32_t slot, std::uint32_t old_round_weight);  // keeps seq
  void advance(PoolRecord& pool, std::uint32_t slot);
  std::uint32_t currentRound(const PoolRecord& pool) const;
  void renumberRounds(PoolRecord& pool);
  void setWeight(PoolRecord& pool, PeRecord& r, std::uint32_t weight);
  std::uint32_t nextSeq(PoolRecord& pool);
  void renumberSeqs(PoolRecord& pool);
  void toLarge(PoolRecord& pool);
  void toSmall(PoolRecord& pool);
  std::size_t selectOrdered(PoolRecord& pool, std::size_t n, std::vector<PeRef>& out);
  std::size_t selectWeighted(PoolRecord& pool, std::size_t n, Random& rng, std::vector<PeRef>& out);

  void addToOwner(std::uint32_t slot, PrId owner_id, std::string_view handle);
  void removeFromOwner(std::uint32_t slot, std::string_view handle);
  void renumberOwner(OwnerState& st);
  void linkConnection(std::uint32_t slot);
  void unlinkConnection(std::uint32_t slot);
  void heapRemove(std::uint32_t slot);
  void heapPopTop();
  void heapCompact();
  void heapPush(std::uint32_t slot, TimePoint at);
  void siftUp(std::size_t i);
  void siftDown(std::size_t i);
  void heapSet(std::size_t i, HeapItem item);

  void removeSlot(std::uint32_t slot, std::vector<RemovedPe>* removed);
  void dropEncoded(PeRecord& r);
  /// Room in the change journal for a bulk operation's `count` changes at once (a takeover rehomes 10^4
  /// PEs: growing the journal by doubling would move every change a dozen times).
  void reserveJournal(std::size_t count) {
    if (config_.record_changes) changes_.reserve(changes_.size() + count);
  }
  void journal(Change::Kind kind, std::string_view pool, PeId pe, PrId owner, PrId previous,
               std::shared_ptr<const wire::PoolElement> removed = nullptr) {
    if (config_.record_changes) changes_.push_back(Change{kind, PoolHandle(pool), pe, owner, previous, std::move(removed)});
  }

  Arena<PeRecord, 10> records_{};
  SlotTable pe_index_{};
  SlotTable connection_index_{};  // connection -> first PE of its list
  std::vector<OwnerState> owners_{};  // ascending id
  std::vector<HeapItem, BackedAllocator<HeapItem>> heap_{};
  std::size_t heap_dead_ = 0;  // removed items still in heap_
  std::vector<std::uint32_t> scratch_{};
  std::vector<EncodedPe> encoded_{};
  std::uint32_t encoded_free_ = kNoSlot;
};

}  // namespace vnfpool::handlespace::detail
