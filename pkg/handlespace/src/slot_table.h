// An open-addressing hash index from a key to a 32-bit slot. The table stores only (hash tag, slot):
// 8 bytes per entry; the key itself lives in the record the slot names, and the caller compares it. That
// keeps the index small and a lookup to one probe sequence plus one record read.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "backed_memory.h"
#include "prefetch.h"

namespace vnfpool::handlespace::detail {

inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ull;
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ull;
  x ^= x >> 32;
  return x;
}

/// Hash of a byte string, 8 bytes at a time.
inline std::uint64_t hashBytes(std::string_view bytes) {
  std::uint64_t h = 0x243F6A8885A308D3ull ^ bytes.size();
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    // The last 1-7 bytes as whole loads (two overlapping 4-byte ones, or three single bytes), not as a
    // byte-wise copy into a word: reading a word back right after writing it byte by byte stalls the
    // load for about as long as a registration's hashing takes otherwise. The length is in the seed, so
    // the overlap loses nothing.
    std::uint64_t w;
    if (n >= 4) {
      std::uint32_t first, last;
      std::memcpy(&first, p, 4);
      std::memcpy(&last, p + n - 4, 4);
      w = first | (std::uint64_t{last} << 32);
    } else {
      const auto byte = [&](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])}; };
      w = byte(0) | (byte(n / 2) << 8) | (byte(n - 1) << 16);
    }
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
  }
  return mix64(h);
}

class SlotTable {
 public:
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

  /// The slot whose record matches (eq(slot) true) among those with this hash; kNone if none.
  template <typename Eq>
  std::uint32_t find(std::uint64_t hash, Eq&& eq) const {
    if (size_ == 0) return kNone;
    const std::uint32_t tag = tagOf(hash);
    for (std::size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.slot_plus_one == 0) return kNone;
      if (e.tag == tag && eq(e.slot_plus_one - 1)) return e.slot_plus_one - 1;
    }
  }

  /// Adds (hash, slot); the caller guarantees the key is not present yet.
  void insert(std::uint64_t hash, std::uint32_t slot) {
    if ((size_ + 1) * 8 > entries_.size() * 7) grow();
    place(tagOf(hash), slot + 1);
    ++size_;
  }

  /// Room for `n` entries without growing (the table is written now, so its pages are in memory).
  void reserve(std::size_t n) {
    std::size_t capacity = entries_.empty() ? 16 : entries_.size();
    while (n * 8 > capacity * 7) capacity *= 2;
    if (capacity > entries_.size()) rehash(capacity);
  }

  /// Removes the entry of `slot` (which must be present under `hash`).
  void erase(std::uint64_t hash, std::uint32_t slot) {
    std::size_t i = locate(hash, slot);
    // Backward-shift deletion: pull later members of the probe run into the hole, so no tombstones.
    for (std::size_t j = (i + 1) & mask_; entries_[j].slot_plus_one != 0; j = (j + 1) & mask_) {
      const std::size_t home = entries_[j].tag & mask_;
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        entries_[i] = entries_[j];
        i = j;
      }
    }
    entries_[i] = Entry{};
    --size_;
  }

  /// Points the entry of `old_slot` at `new_slot` (same key).
  void replace(std::uint64_t hash, std::uint32_t old_slot, std::uint32_t new_slot) {
    entries_[locate(hash, old_slot)].slot_plus_one = new_slot + 1;
  }

  /// Calls fn(slot) for every entry whose tag matches `hash`, without comparing keys: lets a caller start
  /// loading the candidate records while it looks up something else.
  template <typename Fn>
  void forEachCandidate(std::uint64_t hash, Fn&& fn) const {
    if (size_ == 0) return;
    const std::uint32_t tag = tagOf(hash);
    for (std::size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.slot_plus_one == 0) return;
      if (e.tag == tag) fn(e.slot_plus_one - 1);
    }
  }

  /// Starts loading the line where a lookup of `hash` begins (a hint; no effect on contents).
  void prefetch(std::uint64_t hash) const {
    if (!entries_.empty()) hintLine(&entries_[tagOf(hash) & mask_]);
  }

  std::size_t size() const { return size_; }
  std::size_t memoryBytes() const { return entries_.capacity() * sizeof(Entry); }

 private:
  struct Entry {
    std::uint32_t tag = 0;
    std::uint32_t slot_plus_one = 0;  // 0: empty
  };

  static std::uint32_t tagOf(std::uint64_t hash) { return static_cast<std::uint32_t>(hash ^ (hash >> 32)); }

  std::size_t locate(std::uint64_t hash, std::uint32_t slot) const {
    const std::uint32_t tag = tagOf(hash);
    std::size_t i = tag & mask_;
    while (entries_[i].slot_plus_one != slot + 1) i = (i + 1) & mask_;
    return i;
  }

  void place(std::uint32_t tag, std::uint32_t slot_plus_one) {
    std::size_t i = tag & mask_;
    while (entries_[i].slot_plus_one != 0) i = (i + 1) & mask_;
    entries_[i] = Entry{tag, slot_plus_one};
  }

  void grow() { rehash(entries_.empty() ? 16 : entries_.size() * 2); }

  void rehash(std::size_t capacity) {
    std::vector<Entry, BackedAllocator<Entry>> old;
    old.swap(entries_);
    entries_.reserve(capacity);
    // Written whole just below. Heap memory only: a mapped table faults in 2 MiB pieces already.
    if (capacity * sizeof(Entry) < kHugePage) prefault(entries_.data(), capacity * sizeof(Entry));
    entries_.assign(capacity, Entry{});
    mask_ = entries_.size() - 1;
    for (const Entry& e : old)
      if (e.slot_plus_one != 0) place(e.tag, e.slot_plus_one);
  }

  std::vector<Entry, BackedAllocator<Entry>> entries_{};
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace vnfpool::handlespace::detail
