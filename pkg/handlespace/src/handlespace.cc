#include "vnfpool/handlespace/handlespace.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>

#include "impl.h"
#include "vnfpool/wire/codec.h"

namespace vnfpool::handlespace {
namespace detail {
namespace {

Error refuse(wire::Cause cause, std::string detail) {
  Error error;
  error.cause = cause;
  error.detail = std::move(detail);
  return error;
}

std::size_t packedSize(const wire::AddressList& list) {
  std::size_t n = 0;
  for (const auto& a : list) n += a.isV4() ? 5u : 17u;
  return n;
}

std::uint8_t* packInto(std::uint8_t* out, const wire::AddressList& list) {
  for (const auto& a : list) {
    const std::size_t len = a.isV4() ? 4u : 16u;
    *out++ = static_cast<std::uint8_t>(a.family);
    std::memcpy(out, a.bytes.data(), len);
    out += len;
  }
  return out;
}

// Transport Use (data only / data plus control) exists for SCTP, TCP and MPTCP; the other transports
// carry a reserved field there, which must not make two PEs "inconsistent".
bool hasTransportUse(wire::TransportKind kind) {
  return kind == wire::TransportKind::Sctp || kind == wire::TransportKind::Tcp ||
         kind == wire::TransportKind::Mptcp;
}

}  // namespace

void AddressPack::assign(const wire::AddressList& user, const wire::AddressList* asap) {
  const bool same = asap == nullptr || *asap == user;
  const std::size_t total = packedSize(user) + (same ? 0 : packedSize(*asap));
  std::uint8_t* out = bytes_;
  if (total > kInline && total == size_) {
    out = heap();  // a re-registration with the same address layout reuses the block
  } else {
    release();
    if (total > kInline) {
      out = new std::uint8_t[total];
      setHeap(out);
    }
  }
  size_ = static_cast<std::uint16_t>(total);
  out = packInto(out, user);
  if (!same) packInto(out, *asap);
  user_count_ = static_cast<std::uint8_t>(user.size());
  asap_count_ = same ? kSameAsUser : static_cast<std::uint8_t>(asap->size());
}

void AddressPack::decodeInto(std::size_t first, std::size_t count, wire::AddressList& out) const {
  const std::uint8_t* p = data();
  for (std::size_t i = 0; i < first; ++i) p += 1 + (static_cast<wire::IpAddress::Family>(*p) == wire::IpAddress::Family::V4 ? 4u : 16u);
  out.reserve(out.size() + count);
  for (std::size_t i = 0; i < count; ++i) {
    wire::IpAddress& a = out.emplace_back();
    a.family = static_cast<wire::IpAddress::Family>(*p++);
    const std::size_t len = a.isV4() ? 4u : 16u;
    std::memcpy(a.bytes.data(), p, len);
    p += len;
  }
}

Impl::~Impl() = default;

std::uint32_t Impl::allocateRecord() {
  const std::uint32_t slot = records_.allocate();
  record(slot).slot = slot;
  return slot;
}

void Impl::freeRecord(std::uint32_t slot) {
  // The addresses stay until the slot is reused (assign() releases or reuses their block): clearing
  // them here would read the record's third cache line for nothing.
  record(slot).pool = kNoSlot;
  records_.release(slot);
}

std::uint32_t Impl::findPool(std::string_view handle) const {
  return pool_index_.find(hashBytes(handle), [&](std::uint32_t s) { return pools_[s].handle == handle; });
}

std::pair<std::uint32_t, std::uint32_t> Impl::locate(std::string_view pool, std::uint64_t pool_hash, PeId pe) const {
  // Four lines, in two dependent steps instead of four: the two index lines load together, then the pool
  // record and the candidate PE record(s) do.
  const std::uint64_t pe_hash = peHash(pool_hash, pe);
  pool_index_.prefetch(pool_hash);
  pe_index_.forEachCandidate(pe_hash, [&](std::uint32_t s) { hintLine(&record(s)); });
  const std::uint32_t p = pool_index_.find(pool_hash, [&](std::uint32_t s) { return pools_[s].handle == pool; });
  if (p == kNoSlot) return {kNoSlot, kNoSlot};
  const std::uint32_t slot = pe_index_.find(pe_hash, [&](std::uint32_t s) {
    const PeRecord& r = record(s);
    return r.id == pe && r.pool == p;
  });
  return {p, slot};
}

void Impl::prefetch(std::string_view pool, PeId pe) const {
  const std::uint64_t pool_hash = hashBytes(pool);
  pool_index_.prefetch(pool_hash);
  pe_index_.prefetch(peHash(pool_hash, pe));
}

std::uint32_t Impl::findSlot(std::string_view pool, PeId pe) const {
  return locate(pool, hashBytes(pool), pe).second;
}

std::uint32_t Impl::createPool(std::string_view handle, std::uint64_t hash, const PolicyTraits& traits,
                               const wire::Transport& transport) {
  const std::uint32_t slot = pools_.allocate();
  PoolRecord& pool = pools_[slot];
  pool.handle.assign(handle);
  pool.hash = hash;
  pool.traits = &traits;
  pool.transport = transport.kind;
  pool.transport_use = hasTransportUse(transport.kind) ? transport.use : 0;
  pool_index_.insert(hash, slot);
  ++pool_count_;
  return slot;
}

void Impl::destroyPool(std::uint32_t pool_slot) {
  PoolRecord& pool = pools_[pool_slot];
  pool_index_.erase(pool.hash, pool_slot);
  pool.handle.clear();
  pool.traits = nullptr;
  pool.size = 0;
  pool.seq = 0;
  pool.round_hint = 0;
  pool.eligible = 0;
  pool.resolutions = 0;
  pool.large.reset();
  pool.small_count = 0;
  pools_.release(pool_slot);
  --pool_count_;
}

Result<Registered> Impl::registerPe(std::string_view pool_handle, const wire::PoolElement& pe,
                                    const EntryContext& context, TimePoint now) {
  using wire::Cause;
  if (pool_handle.empty()) return refuse(Cause::InvalidValues, "empty pool handle");
  if (pool_handle.size() > config_.max_pool_handle)
    return refuse(Cause::InvalidValues, "pool handle of " + std::to_string(pool_handle.size()) +
                                            " bytes exceeds the maximum of " +
                                            std::to_string(config_.max_pool_handle));
  if (pe.id == 0) return refuse(Cause::InvalidValues, "PE identifier 0 is invalid");
  const PolicyTraits* traits = policyTraits(pe.policy.type);
  if (traits == nullptr || traits->word_count > kPolicyWords)
    return refuse(Cause::InvalidValues, "unsupported policy type " + std::to_string(pe.policy.type));
  if (pe.policy.word_count < traits->word_count)
    return refuse(Cause::InvalidValues, "policy has " + std::to_string(pe.policy.word_count) + " value words, needs " +
                                            std::to_string(traits->word_count));
  const auto& user = pe.user_transport.addresses;
  if (user.empty()) return refuse(Cause::InvalidValues, "user transport has no address");
  if (user.size() > config_.max_addresses || user.size() > 0xFE)
    return refuse(Cause::InvalidValues, "user transport has too many addresses");
  if (pe.asap_transport &&
      (pe.asap_transport->addresses.size() > config_.max_addresses || pe.asap_transport->addresses.size() > 0xFE))
    return refuse(Cause::InvalidValues, "ASAP transport has too many addresses");

  const std::uint64_t hash = hashBytes(pool_handle);
  std::uint32_t pool_slot = kNoSlot, slot = kNoSlot;
  std::tie(pool_slot, slot) = locate(pool_handle, hash, pe.id);
  if (pool_slot != kNoSlot) {
    const PoolRecord& pool = pools_[pool_slot];
    // RFC 5352 / digest 6.5: the first PE fixes the pool's policy, transport protocol and Transport Use.
    if (pool.traits->type != pe.policy.type)
      return refuse(Cause::PolicyInconsistent, "pool uses policy type " + std::to_string(pool.traits->type));
    if (pool.transport != pe.user_transport.kind)
      return refuse(Cause::InconsistentTransportType, "pool uses another user transport protocol");
    if (hasTransportUse(pe.user_transport.kind) && pool.transport_use != pe.user_transport.use)
      return refuse(Cause::InconsistentDataControl, "pool uses another transport use (data/control)");
  }

  const bool added = slot == kNoSlot;
  if (added && context.connection != kNoConnection) connection_index_.prefetch(mix64(context.connection));
  if (!added) {
    // A re-registration writes the record's other two lines (values, transports): load them together.
    const auto* base = reinterpret_cast<const char*>(&record(slot));
    hintLine<true>(base + 64);
    hintLine<true>(base + 128);
  }
  if (added) {
    if (pool_slot == kNoSlot) pool_slot = createPool(pool_handle, hash, *traits, pe.user_transport);
    slot = allocateRecord();
  }
  PoolRecord& pool = pools_[pool_slot];
  PeRecord& r = record(slot);
  const std::uint32_t old_round_weight = added ? 0 : roundWeight(*traits, r.policyWords());

  r.words = {};
  r.word_count = traits->word_count;
  std::copy_n(pe.policy.words.begin(), traits->word_count, r.words.begin());
  r.degradation = 0;  // digest 9.2: a (re-)registration clears the PR-local degradation
  r.life_ms = pe.registration_life_ms;
  r.last_update = now;
  r.user_kind = pe.user_transport.kind;
  r.user_port = pe.user_transport.port;
  r.user_use = pe.user_transport.use;
  r.user_service_code = pe.user_transport.service_code;
  r.marked = false;  // digest 7.10: an entry that is (re-)added during a resync is kept
  r.has_asap = pe.asap_transport.has_value();
  if (r.has_asap) {
    r.asap_kind = pe.asap_transport->kind;
    r.asap_port = pe.asap_transport->port;
    r.asap_use = pe.asap_transport->use;
  }
  r.addresses.assign(user, r.has_asap ? &pe.asap_transport->addresses : nullptr);
  dropEncoded(r);  // also what a previous user of a reused slot left

  if (added) {
    r.id = pe.id;
    r.pool = pool_slot;
    r.connection = context.connection;
    r.expires = kNever;
    r.heap_pos = kNoSlot;
    r.conn_prev = r.conn_next = kNoSlot;
    pe_index_.insert(peHash(pool.hash, pe.id), slot);
    addToOwner(slot, pe.home_pr, pool.handle);
    linkConnection(slot);
    insertIntoPool(pool, slot);
    ++pool.size;
    ++pe_count_;
    setExpiry(slot, context.expires);
    if (context.record_added) journal(Change::Kind::Added, pool.handle, pe.id, pe.home_pr, pe.home_pr);
  } else {
    const PrId previous = r.home_pr;
    if (previous != pe.home_pr) {
      removeFromOwner(slot, pool.handle);
      addToOwner(slot, pe.home_pr, pool.handle);
    }
    if (r.connection != context.connection) {
      unlinkConnection(slot);
      r.connection = context.connection;
      linkConnection(slot);
    }
    setExpiry(slot, context.expires);
    rekey(pool, slot, old_round_weight);
    journal(Change::Kind::Updated, pool.handle, pe.id, pe.home_pr, previous);
  }
  return Registered{PeRef{slot}, added};
}

bool Impl::deregister(std::string_view pool, PeId pe) {
  const std::uint32_t slot = findSlot(pool, pe);
  if (slot == kNoSlot) return false;
  removeSlot(slot, nullptr);
  return true;
}

void Impl::removeSlot(std::uint32_t slot, std::vector<RemovedPe>* removed) {
  PeRecord& r = record(slot);
  // The removal's other cache lines (owner item, expiry heap item, connection index, a weighted pool's
  // member entry) do not depend on each other: start loading them all now, so their misses overlap
  // instead of following one another.
  if (const OwnerState* st = owner(r.home_pr); st != nullptr && r.owner_pos < st->items.size())
    hintLine<true>(&st->items[r.owner_pos]);
  if (r.heap_pos != kNoSlot) hintLine<true>(&heap_[r.heap_pos]);
  if (r.connection != kNoConnection) connection_index_.prefetch(mix64(r.connection));
  const std::uint32_t pool_slot = r.pool;
  PoolRecord& pool = pools_[pool_slot];
  if (pool.large && pool.traits->cls == PolicyClass::Weighted)
    hintLine<true>(reinterpret_cast<const char*>(&r) + 64);  // its member position
  if (removed != nullptr) removed->push_back(RemovedPe{pool.handle, r.id, r.home_pr});
  if (config_.record_changes)
    journal(Change::Kind::Removed, pool.handle, r.id, r.home_pr, r.home_pr,
            std::make_shared<const wire::PoolElement>(view(slot).poolElement()));
  removeFromPool(pool, slot);
  pe_index_.erase(peHash(pool.hash, r.id), slot);
  removeFromOwner(slot, pool.handle);
  unlinkConnection(slot);
  if (r.heap_pos != kNoSlot) heapRemove(slot);
  --pool.size;
  --pe_count_;
  freeRecord(slot);
  if (pool.size == 0) destroyPool(pool_slot);  // RFC 5351: a pool exists while it has PEs
}

// ---- Encoded resolution parameters --------------------------------------------------------------------

void Impl::dropEncoded(PeRecord& r) {
  if (r.encoded == kNoSlot) return;
  EncodedPe& e = encoded_[r.encoded];
  for (auto& bytes : e.by_dialect) bytes.clear();
  e.next_free = encoded_free_;
  encoded_free_ = r.encoded;
  r.encoded = kNoSlot;
}

std::span<const std::byte> Impl::resolutionParameter(std::uint32_t slot, wire::Dialect dialect) {
  PeRecord& r = record(slot);
  const auto d = static_cast<std::size_t>(dialect);
  if (r.encoded != kNoSlot) {
    const wire::Bytes& bytes = encoded_[r.encoded].by_dialect[d];
    if (!bytes.empty()) return bytes;
  }
  wire::PoolElement element = view(slot).poolElement();
  element.asap_transport.reset();  // not part of a resolution answer (digest 6.6)
  auto encoded = wire::encodePoolElementParameter(element, dialect);
  if (!encoded.ok()) return {};  // not representable in this dialect (a 64-bit ID in classic)
  if (r.encoded == kNoSlot) {
    if (encoded_free_ != kNoSlot) {
      r.encoded = encoded_free_;
      encoded_free_ = encoded_[r.encoded].next_free;
    } else {
      r.encoded = static_cast<std::uint32_t>(encoded_.size());
      encoded_.emplace_back();
    }
    encoded_[r.encoded].next_free = kNoSlot;
  }
  wire::Bytes& bytes = encoded_[r.encoded].by_dialect[d];
  bytes = std::move(encoded).value();
  return bytes;
}

// ---- Owners -------------------------------------------------------------------------------------------

OwnerState* Impl::owner(PrId id) {
  auto it = std::lower_bound(owners_.begin(), owners_.end(), id,
                             [](const OwnerState& s, PrId v) { return s.id < v; });
  return it != owners_.end() && it->id == id ? &*it : nullptr;
}

const OwnerState* Impl::owner(PrId id) const { return const_cast<Impl*>(this)->owner(id); }

OwnerState& Impl::ownerOrCreate(PrId id) {
  auto it = std::lower_bound(owners_.begin(), owners_.end(), id,
                             [](const OwnerState& s, PrId v) { return s.id < v; });
  if (it != owners_.end() && it->id == id) return *it;
  OwnerState state;
  state.id = id;
  state.items = OwnerItems(owner_blocks_);
  return *owners_.insert(it, std::move(state));
}

void Impl::addToOwner(std::uint32_t slot, PrId owner_id, std::string_view handle) {
  PeRecord& r = record(slot);
  OwnerState& st = ownerOrCreate(owner_id);
  if (st.next_serial == 0xFFFFFFFFu) renumberOwner(st);
  const auto pos = static_cast<std::uint32_t>(st.items.size());
  st.items.push_back(OwnerItem{st.next_serial, slot});  // first: it may throw (a new block)
  ++st.next_serial;
  r.home_pr = owner_id;
  dropEncoded(r);  // the home PR is part of the encoded parameter
  r.owner_pos = pos;
  ++st.live;
  st.checksum.add(handle, r.id);
}

void Impl::renumberOwner(OwnerState& st) {
  // Once per 2^32 joins: drop removed items and number the rest from 1 (a cursor held across this
  // may see some entries twice).
  std::uint32_t serial = 0;
  std::size_t w = 0;
  for (const OwnerItem& item : st.items) {
    if (item.slot == kNoSlot) continue;
    record(item.slot).owner_pos = static_cast<std::uint32_t>(w);
    st.items[w++] = OwnerItem{++serial, item.slot};
  }
  st.items.truncate(w);
  st.next_serial = serial + 1;
}

void Impl::removeFromOwner(std::uint32_t slot, std::string_view handle) {
  PeRecord& r = record(slot);
  OwnerState* st = owner(r.home_pr);
  if (st == nullptr) return;  // cannot happen: every stored PE is in its owner's index
  st->items[r.owner_pos].slot = kNoSlot;
  r.owner_pos = kNoSlot;
  --st->live;
  st->checksum.remove(handle, r.id);
  if (st->live == 0) {
    st->items.clear();
  } else if (st->items.size() >= 64 && st->live * 2 < st->items.size()) {
    // Compact away the removed items (amortised O(1) per removal); serials keep their order.
    std::size_t w = 0;
    for (std::size_t i = 0; i < st->items.size(); ++i) {
      const OwnerItem item = st->items[i];
      if (item.slot == kNoSlot) continue;
      record(item.slot).owner_pos = static_cast<std::uint32_t>(w);
      st->items[w++] = item;
    }
    st->items.truncate(w);
  }
}

TablePage Impl::handleTable(std::optional<PrId> only, TableCursor from, std::size_t max) const {
  TablePage page;
  max = std::max<std::size_t>(max, 1);
  auto first = owners_.begin();
  auto last = owners_.end();
  if (only) {
    first = std::lower_bound(owners_.begin(), owners_.end(), *only,
                             [](const OwnerState& s, PrId v) { return s.id < v; });
    if (first == owners_.end() || first->id != *only) return page;
    last = first + 1;
  } else {
    first = std::lower_bound(owners_.begin(), owners_.end(), from.owner,
                             [](const OwnerState& s, PrId v) { return s.id < v; });
  }
  TableCursor at = from;
  for (auto st = first; st != last; ++st) {
    const std::uint64_t after = st->id == from.owner ? from.after : 0;
    for (std::size_t i = st->items.upperBound(after); i < st->items.size(); ++i) {
      const OwnerItem& item = st->items[i];
      if (item.slot == kNoSlot) continue;
      if (page.entries.size() == max) {
        page.next = at;  // there is at least one more entry
        return page;
      }
      page.entries.push_back(PeRef{item.slot});
      at = TableCursor{st->id, item.serial};
    }
  }
  return page;
}

std::vector<RemovedPe> Impl::removeOwner(PrId id) {
  std::vector<RemovedPe> removed;
  const OwnerState* st = owner(id);
  if (st == nullptr) return removed;
  std::vector<std::uint32_t> slots;
  slots.reserve(st->live);
  for (const OwnerItem& item : st->items)
    if (item.slot != kNoSlot) slots.push_back(item.slot);
  removed.reserve(slots.size());
  reserveJournal(slots.size());
  for (std::uint32_t slot : slots) removeSlot(slot, &removed);
  return removed;
}

void Impl::rehome(std::uint32_t slot, PrId to) {
  PeRecord& r = record(slot);
  const PrId previous = r.home_pr;
  if (previous == to) return;
  const std::string& handle = pools_[r.pool].handle;
  removeFromOwner(slot, handle);
  addToOwner(slot, to, handle);
  journal(Change::Kind::Rehomed, handle, r.id, to, previous);
}

std::size_t Impl::rehomeOwner(PrId from, PrId to) {
  if (from == to) return 0;
  const OwnerState* st = owner(from);
  if (st == nullptr) return 0;
  std::vector<std::uint32_t> slots;
  slots.reserve(st->live);
  for (const OwnerItem& item : st->items)
    if (item.slot != kNoSlot) slots.push_back(item.slot);
  reserveJournal(slots.size());
  for (std::uint32_t slot : slots) rehome(slot, to);
  return slots.size();
}

std::size_t Impl::markOwner(PrId id) {
  const OwnerState* st = owner(id);
  if (st == nullptr) return 0;
  for (const OwnerItem& item : st->items)
    if (item.slot != kNoSlot) record(item.slot).marked = true;
  return st->live;
}

std::vector<RemovedPe> Impl::removeMarked(PrId id) {
  std::vector<RemovedPe> removed;
  const OwnerState* st = owner(id);
  if (st == nullptr) return removed;
  std::vector<std::uint32_t> slots;
  for (const OwnerItem& item : st->items)
    if (item.slot != kNoSlot && record(item.slot).marked) slots.push_back(item.slot);
  removed.reserve(slots.size());
  reserveJournal(slots.size());
  for (std::uint32_t slot : slots) removeSlot(slot, &removed);
  return removed;
}

wire::OwnerChecksum Impl::recompute(PrId id) const {
  wire::OwnerChecksum sum;
  for (std::uint32_t p = 0; p < pools_.extent(); ++p) {
    const PoolRecord& pool = pools_[p];
    if (pool.traits == nullptr) continue;
    for (std::uint32_t slot : memberSlots(pool)) {
      const PeRecord& r = record(slot);
      if (r.home_pr == id) sum.add(pool.handle, r.id);
    }
  }
  return sum;
}

// ---- Connections --------------------------------------------------------------------------------------

void Impl::linkConnection(std::uint32_t slot) {
  PeRecord& r = record(slot);
  r.conn_prev = r.conn_next = kNoSlot;
  if (r.connection == kNoConnection) return;
  const std::uint64_t h = mix64(r.connection);
  const ConnectionId c = r.connection;
  const std::uint32_t head = connection_index_.find(h, [&](std::uint32_t s) { return record(s).connection == c; });
  if (head == kNoSlot) {
    connection_index_.insert(h, slot);
    return;
  }
  r.conn_next = head;
  record(head).conn_prev = slot;
  connection_index_.replace(h, head, slot);
}

void Impl::unlinkConnection(std::uint32_t slot) {
  PeRecord& r = record(slot);
  if (r.connection == kNoConnection) return;
  if (r.conn_prev != kNoSlot) {
    record(r.conn_prev).conn_next = r.conn_next;
  } else {
    const std::uint64_t h = mix64(r.connection);
    if (r.conn_next != kNoSlot)
      connection_index_.replace(h, slot, r.conn_next);
    else
      connection_index_.erase(h, slot);
  }
  if (r.conn_next != kNoSlot) record(r.conn_next).conn_prev = r.conn_prev;
  r.conn_prev = r.conn_next = kNoSlot;
}

std::vector<std::uint32_t> Impl::connectionSlots(ConnectionId connection) const {
  std::vector<std::uint32_t> slots;
  if (connection == kNoConnection) return slots;
  std::uint32_t s = connection_index_.find(mix64(connection),
                                           [&](std::uint32_t x) { return record(x).connection == connection; });
  for (; s != kNoSlot; s = record(s).conn_next) slots.push_back(s);
  return slots;
}

std::vector<RemovedPe> Impl::removeConnection(ConnectionId connection) {
  std::vector<RemovedPe> removed;
  const auto slots = connectionSlots(connection);
  removed.reserve(slots.size());
  reserveJournal(slots.size());
  for (std::uint32_t slot : slots) removeSlot(slot, &removed);
  return removed;
}

// ---- Expiry: a binary min-heap of (deadline, slot). A later deadline is applied lazily: the record holds
// the truth, the heap item may be earlier, and is corrected when it reaches the top. So refreshing an
// entry (the common case: every re-registration) costs O(1). ----------------------------------------------

void Impl::heapSet(std::size_t i, HeapItem item) {
  heap_[i] = item;
  if (item.slot != kNoSlot) record(item.slot).heap_pos = static_cast<std::uint32_t>(i);
}

void Impl::siftUp(std::size_t i) {
  const HeapItem item = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!(item.at < heap_[parent].at)) break;
    heapSet(i, heap_[parent]);
    i = parent;
  }
  heapSet(i, item);
}

void Impl::siftDown(std::size_t i) {
  const HeapItem item = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1].at < heap_[child].at) ++child;
    if (!(heap_[child].at < item.at)) break;
    heapSet(i, heap_[child]);
    i = child;
  }
  heapSet(i, item);
}

void Impl::heapPush(std::uint32_t slot, TimePoint at) {
  heap_.push_back(HeapItem{at.time_since_epoch().count(), slot});
  siftUp(heap_.size() - 1);
}

void Impl::heapRemove(std::uint32_t slot) {
  // Removal only marks the item: no sifting, one memory access. Marked items are dropped when they reach
  // the top, or all at once when they outnumber the live ones.
  PeRecord& r = record(slot);
  heap_[r.heap_pos].slot = kNoSlot;
  r.heap_pos = kNoSlot;
  if (++heap_dead_ > 64 && heap_dead_ * 2 > heap_.size()) heapCompact();
}

void Impl::heapPopTop() {
  const HeapItem last = heap_.back();
  heap_.pop_back();
  if (heap_.empty()) return;
  heapSet(0, last);
  siftDown(0);
}

void Impl::heapCompact() {
  std::size_t w = 0;
  for (const HeapItem& item : heap_)
    if (item.slot != kNoSlot) heap_[w++] = item;
  heap_.resize(w);
  heap_dead_ = 0;
  for (std::size_t i = 0; i < w; ++i) heapSet(i, heap_[i]);
  for (std::size_t i = w / 2; i-- > 0;) siftDown(i);
}

void Impl::setExpiry(std::uint32_t slot, TimePoint expires) {
  PeRecord& r = record(slot);
  const TimePoint previous = r.expires;
  r.expires = expires;
  if (expires == kNever) {
    if (r.heap_pos != kNoSlot) heapRemove(slot);
    return;
  }
  if (r.heap_pos == kNoSlot) {
    heapPush(slot, expires);
  } else if (expires < previous && expires.time_since_epoch().count() < heap_[r.heap_pos].at) {
    // The heap item is never later than the record's deadline, so only an earlier deadline than the
    // previous one can need it moved (and only then is the heap read at all).
    heap_[r.heap_pos].at = expires.time_since_epoch().count();
    siftUp(r.heap_pos);
  }
}

std::optional<TimePoint> Impl::nextExpiry() {
  while (!heap_.empty()) {
    const HeapItem top = heap_[0];
    if (top.slot == kNoSlot) {
      heapPopTop();
      --heap_dead_;
      continue;
    }
    const TimePoint truth = record(top.slot).expires;
    if (truth.time_since_epoch().count() == top.at) return truth;
    heap_[0].at = truth.time_since_epoch().count();  // a lazily postponed deadline: put it where it belongs
    siftDown(0);
  }
  return std::nullopt;
}

std::vector<RemovedPe> Impl::expire(TimePoint now) {
  std::vector<RemovedPe> removed;
  for (auto next = nextExpiry(); next && *next <= now; next = nextExpiry()) removeSlot(heap_[0].slot, &removed);
  return removed;
}

void Impl::reserve(std::size_t pes) {
  records_.reserve(pes);
  pe_index_.reserve(pes);
  order_slabs_.reserve(pes);  // as if every PE were in a large pool with an ordered policy
  owner_blocks_.reserve(pes / OwnerItems::kPerBlock + 1);
  if (pes > heap_.capacity()) {
    // Written once now (a vector cannot write capacity it does not hold), then emptied: the capacity stays.
    const std::size_t held = heap_.size();
    heap_.resize(pes);
    heap_.resize(held);
  }
}

std::size_t Impl::memoryBytes() const {
  std::size_t bytes = records_.memoryBytes() + pools_.memoryBytes() + order_slabs_.memoryBytes();
  bytes += pe_index_.memoryBytes() + pool_index_.memoryBytes() + connection_index_.memoryBytes();
  bytes += heap_.capacity() * sizeof(HeapItem) + scratch_.capacity() * sizeof(std::uint32_t);
  bytes += owners_.capacity() * sizeof(OwnerState);
  bytes += owner_blocks_.memoryBytes();
  for (const auto& st : owners_) bytes += st.items.memoryBytes();
  for (std::uint32_t p = 0; p < pools_.extent(); ++p) {
    const PoolRecord& pool = pools_[p];
    if (pool.large)
      bytes += sizeof(LargeSelection) + pool.large->weights.memoryBytes();  // order-tree nodes: the slabs
    if (pool.handle.capacity() > 15) bytes += pool.handle.capacity() + 1;
  }
  for (std::uint32_t slot = 0; slot < records_.extent(); ++slot) bytes += record(slot).addresses.heapBytes();
  bytes += encoded_.capacity() * sizeof(EncodedPe);
  for (const EncodedPe& e : encoded_)
    for (const auto& b : e.by_dialect) bytes += b.capacity();
  return bytes;
}

}  // namespace detail

// ---- PeView -------------------------------------------------------------------------------------------

PeId PeView::id() const { return record_->id; }
PrId PeView::homePr() const { return record_->home_pr; }
std::string_view PeView::pool() const { return pool_->handle; }
ConnectionId PeView::connection() const { return record_->connection; }
TimePoint PeView::lastUpdate() const { return record_->last_update; }
TimePoint PeView::expires() const { return record_->expires; }
std::uint32_t PeView::registrationLifeMs() const { return record_->life_ms; }
std::uint32_t PeView::degradation() const { return record_->degradation; }

wire::Policy PeView::policy() const {
  wire::Policy policy;
  policy.type = pool_->traits->type;
  policy.word_count = record_->word_count;
  std::copy_n(record_->words.begin(), record_->word_count, policy.words.begin());
  return policy;
}

namespace {

void fillUserTransport(const detail::PeRecord& r, wire::Transport& t) {
  t.kind = r.user_kind;
  t.port = r.user_port;
  t.use = r.user_use;
  t.service_code = r.user_service_code;
  r.addresses.userInto(t.addresses);
}

/// `user`: the user transport's addresses if already decoded (copied when the ASAP ones are the same).
void fillAsapTransport(const detail::PeRecord& r, wire::Transport& t, const wire::AddressList* user) {
  t.kind = r.asap_kind;
  t.port = r.asap_port;
  t.use = r.asap_use;
  if (user != nullptr && r.addresses.asapSameAsUser()) {
    t.addresses.assign(user->begin(), user->end());
  } else {
    r.addresses.asapInto(t.addresses);
  }
}

}  // namespace

wire::Transport PeView::userTransport() const {
  wire::Transport t;
  fillUserTransport(*record_, t);
  return t;
}

std::optional<wire::Transport> PeView::asapTransport() const {
  if (!record_->has_asap) return std::nullopt;
  std::optional<wire::Transport> t;
  fillAsapTransport(*record_, t.emplace(), nullptr);
  return t;
}

wire::PoolElement PeView::poolElement() const {
  // Built in place (a table page builds hundreds of these): no temporary transports or address lists.
  wire::PoolElement pe;
  pe.id = record_->id;
  pe.home_pr = record_->home_pr;
  pe.registration_life_ms = record_->life_ms;
  fillUserTransport(*record_, pe.user_transport);
  pe.policy = policy();
  if (record_->has_asap) fillAsapTransport(*record_, pe.asap_transport.emplace(), &pe.user_transport.addresses);
  return pe;
}

// ---- Handlespace --------------------------------------------------------------------------------------

Handlespace::Handlespace(Config config) : impl_(std::make_unique<detail::Impl>(config)) {}
Handlespace::~Handlespace() = default;
Handlespace::Handlespace(Handlespace&&) noexcept = default;
Handlespace& Handlespace::operator=(Handlespace&&) noexcept = default;

const Config& Handlespace::config() const { return impl_->config_; }

Result<Registered> Handlespace::registerPe(std::string_view pool, const wire::PoolElement& pe,
                                           const EntryContext& context, TimePoint now) {
  return impl_->registerPe(pool, pe, context, now);
}

bool Handlespace::deregisterPe(std::string_view pool, PeId pe) { return impl_->deregister(pool, pe); }

void Handlespace::prefetch(std::string_view pool, PeId pe) const { impl_->prefetch(pool, pe); }

void Handlespace::prefetch(PeRef ref) const {
  // The record is 160 bytes on a 32-byte boundary: three lines at most.
  const auto* bytes = reinterpret_cast<const char*>(&impl_->record(ref.slot));
  detail::hintLine(bytes);
  detail::hintLine(bytes + 64);
  detail::hintLine(bytes + sizeof(detail::PeRecord) - 1);
}

std::optional<PeRef> Handlespace::find(std::string_view pool, PeId pe) const {
  const std::uint32_t slot = impl_->findSlot(pool, pe);
  if (slot == detail::kNoSlot) return std::nullopt;
  return PeRef{slot};
}

PeView Handlespace::view(PeRef ref) const { return impl_->view(ref.slot); }

std::span<const std::byte> Handlespace::resolutionParameter(PeRef ref, wire::Dialect dialect) {
  return impl_->resolutionParameter(ref.slot, dialect);
}

Result<std::size_t> Handlespace::select(std::string_view pool, std::size_t count, Random& rng,
                                        std::vector<PeRef>& out) {
  return impl_->select(pool, count, rng, out);
}

std::size_t Handlespace::size() const { return impl_->pe_count_; }
std::size_t Handlespace::poolCount() const { return impl_->pool_count_; }

std::size_t Handlespace::poolSize(std::string_view pool) const {
  const std::uint32_t p = impl_->findPool(pool);
  return p == detail::kNoSlot ? 0 : impl_->pools_[p].size;
}

std::optional<std::uint32_t> Handlespace::poolPolicy(std::string_view pool) const {
  const std::uint32_t p = impl_->findPool(pool);
  if (p == detail::kNoSlot) return std::nullopt;
  return impl_->pools_[p].traits->type;
}

std::vector<PeRef> Handlespace::poolMembers(std::string_view pool) const {
  std::vector<PeRef> refs;
  const std::uint32_t p = impl_->findPool(pool);
  if (p == detail::kNoSlot) return refs;
  for (std::uint32_t slot : impl_->memberSlots(impl_->pools_[p])) refs.push_back(PeRef{slot});
  return refs;
}

std::vector<PoolHandle> Handlespace::poolHandles() const {
  std::vector<PoolHandle> handles;
  handles.reserve(impl_->pool_count_);
  for (std::uint32_t p = 0; p < impl_->pools_.extent(); ++p)
    if (impl_->pools_[p].traits != nullptr) handles.push_back(impl_->pools_[p].handle);
  return handles;
}

std::vector<PoolStats> Handlespace::poolStats() const {
  std::vector<PoolStats> stats;
  stats.reserve(impl_->pool_count_);
  for (std::uint32_t p = 0; p < impl_->pools_.extent(); ++p) {
    const auto& pool = impl_->pools_[p];
    if (pool.traits != nullptr) stats.push_back(PoolStats{pool.handle, pool.size, pool.resolutions});
  }
  return stats;
}

wire::OwnerChecksum Handlespace::ownerChecksum(PrId owner) const {
  const auto* st = impl_->owner(owner);
  return st == nullptr ? wire::OwnerChecksum{} : st->checksum;
}

wire::OwnerChecksum Handlespace::recomputeOwnerChecksum(PrId owner) const { return impl_->recompute(owner); }

std::size_t Handlespace::ownerSize(PrId owner) const {
  const auto* st = impl_->owner(owner);
  return st == nullptr ? 0 : st->live;
}

std::vector<PrId> Handlespace::owners() const {
  return impl_->ownerIds();
}

TablePage Handlespace::handleTable(std::optional<PrId> owner, TableCursor from, std::size_t max) const {
  return impl_->handleTable(owner, from, max);
}

std::vector<RemovedPe> Handlespace::removeOwner(PrId owner) { return impl_->removeOwner(owner); }
std::size_t Handlespace::rehomeOwner(PrId from, PrId to) { return impl_->rehomeOwner(from, to); }

bool Handlespace::rehome(std::string_view pool, PeId pe, PrId to) {
  const std::uint32_t slot = impl_->findSlot(pool, pe);
  if (slot == detail::kNoSlot) return false;
  impl_->rehome(slot, to);
  return true;
}

std::size_t Handlespace::markOwner(PrId owner) { return impl_->markOwner(owner); }
std::vector<RemovedPe> Handlespace::removeMarked(PrId owner) { return impl_->removeMarked(owner); }

std::vector<RemovedPe> Handlespace::removeConnection(ConnectionId connection) {
  return impl_->removeConnection(connection);
}

std::vector<PeRef> Handlespace::connectionMembers(ConnectionId connection) const {
  std::vector<PeRef> refs;
  for (std::uint32_t s : impl_->connectionSlots(connection)) refs.push_back(PeRef{s});
  return refs;
}

void Handlespace::setExpiry(PeRef ref, TimePoint expires) { impl_->setExpiry(ref.slot, expires); }
std::optional<TimePoint> Handlespace::nextExpiry() { return impl_->nextExpiry(); }
std::vector<RemovedPe> Handlespace::expire(TimePoint now) { return impl_->expire(now); }

bool Handlespace::hasChanges() const { return !impl_->changes_.empty(); }

std::vector<Change> Handlespace::takeChanges() {
  std::vector<Change> out;
  out.swap(impl_->changes_);
  // The next batch is likely of a similar size (a table page, a takeover): room for it up front, so
  // the journal does not grow through a dozen reallocations per batch (capped: one huge batch should
  // not pin its size for good).
  impl_->changes_.reserve(std::min<std::size_t>(out.size(), 4096));
  return out;
}

void Handlespace::takeChanges(std::vector<Change>& into) {
  emptyForReuse(into);
  into.swap(impl_->changes_);
}

void Handlespace::emptyForReuse(std::vector<Change>& buffer) {
  buffer.clear();
  if (buffer.capacity() > kKeptChanges) std::vector<Change>().swap(buffer);  // one huge batch does not pin its size
}

std::size_t Handlespace::memoryBytes() const { return impl_->memoryBytes(); }
void Handlespace::reserve(std::size_t pes) { impl_->reserve(pes); }

}  // namespace vnfpool::handlespace
