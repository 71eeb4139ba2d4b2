#include "vnfpool/wire/checksum.h"

namespace vnfpool::wire {

// Digest 8.1: words are big-endian; an odd-length handle is padded with one zero byte, so the PE ID
// always starts on an even offset. The sum is exact (uint64), which makes add/remove order-independent.
std::uint64_t internet16Term(std::string_view pool_handle, PeId pe_id) {
  std::uint64_t sum = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(pool_handle.data());
  const std::size_t n = pool_handle.size();
  std::size_t i = 0;
  for (; i + 1 < n; i += 2) sum += (std::uint64_t{p[i]} << 8) | p[i + 1];
  if (i < n) sum += std::uint64_t{p[i]} << 8;
  const auto id = static_cast<std::uint32_t>(pe_id);
  sum += id >> 16;
  sum += id & 0xFFFFu;
  return sum;
}

// Digest 8.2: 32-bit big-endian words; the handle is zero-padded to a multiple of 4.
std::uint64_t internet32Term(std::string_view pool_handle, PeId pe_id) {
  std::uint64_t sum = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(pool_handle.data());
  const std::size_t n = pool_handle.size();
  for (std::size_t i = 0; i < n; i += 4) {
    std::uint32_t word = 0;
    for (std::size_t k = 0; k < 4; ++k) word = (word << 8) | (i + k < n ? p[i + k] : 0u);
    sum += word;
  }
  sum += pe_id >> 32;
  sum += pe_id & 0xFFFFFFFFu;
  return sum;
}

std::uint16_t internet16Finish(std::uint64_t sum) {
  while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xFFFF);
}

std::uint32_t internet32Finish(std::uint64_t sum) {
  while (sum > 0xFFFFFFFFu) sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
  return static_cast<std::uint32_t>(~sum & 0xFFFFFFFFu);
}

}  // namespace vnfpool::wire
