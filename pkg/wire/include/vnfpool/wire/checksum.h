// The handlespace audit checksums: Internet-16 (classic, RFC 5353, bit-exact with RSPLIB) and Internet-32
// (ng). Both are sums of big-endian words kept as exact integers, so entries can be added and removed in
// any order and the result always equals a recomputation (digest, section 8).
#pragma once

#include <cstdint>
#include <string_view>

#include "vnfpool/wire/types.h"

namespace vnfpool::wire {

/// Unfolded Internet-16 sum of one entry: the pool handle (a zero byte appended if its length is odd)
/// followed by the 32-bit PE ID, as big-endian 16-bit words. Classic IDs only: the upper half is ignored.
std::uint64_t internet16Term(std::string_view pool_handle, PeId pe_id);
/// Unfolded Internet-32 sum of one entry: the handle zero-padded to a multiple of 4, then the 64-bit PE
/// ID, as big-endian 32-bit words.
std::uint64_t internet32Term(std::string_view pool_handle, PeId pe_id);

/// The checksum value of an exact sum: one's complement of the folded sum.
std::uint16_t internet16Finish(std::uint64_t sum);
std::uint32_t internet32Finish(std::uint64_t sum);

/// A running checksum over a set of entries (one owner's PEs): add() and remove() in any order.
class OwnerChecksum {
 public:
  void add(std::string_view pool_handle, PeId pe_id) {
    sum16_ += internet16Term(pool_handle, pe_id);
    sum32_ += internet32Term(pool_handle, pe_id);
  }
  /// Removes an entry that was added before (removing one never added gives a meaningless value).
  void remove(std::string_view pool_handle, PeId pe_id) {
    sum16_ -= internet16Term(pool_handle, pe_id);
    sum32_ -= internet32Term(pool_handle, pe_id);
  }
  std::uint16_t internet16() const { return internet16Finish(sum16_); }
  std::uint32_t internet32() const { return internet32Finish(sum32_); }
  /// The value for a Presence in `dialect` (Internet-16 widened, or Internet-32).
  std::uint32_t value(Dialect dialect) const { return dialect == Dialect::Classic ? internet16() : internet32(); }

  friend bool operator==(const OwnerChecksum&, const OwnerChecksum&) = default;

 private:
  std::uint64_t sum16_ = 0;
  std::uint64_t sum32_ = 0;
};

}  // namespace vnfpool::wire
