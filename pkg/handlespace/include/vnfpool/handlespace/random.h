// Injected randomness. Every random choice (weighted selection, random policies) draws from a Random the
// caller owns, so a fixed seed reproduces a run exactly, in tests and in the simulator.
#pragma once

#include <cstdint>

namespace vnfpool::handlespace {

/// A small, fast pseudo-random generator (xoshiro256** seeded through splitmix64). Not cryptographic.
/// Not thread-safe: one instance per thread (the loop thread owns the registrar's).
class Random {
 public:
  /// Any seed is fine, 0 included; the same seed gives the same sequence on every platform.
  explicit Random(std::uint64_t seed = 0x5eed) {
    for (auto& word : s_) {
      seed += 0x9E3779B97F4A7C15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      word = z ^ (z >> 31);
    }
  }

  /// The next 64 random bits.
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, bound) without modulo bias; returns 0 when bound is 0.
  std::uint64_t below(std::uint64_t bound) {
    if (bound == 0) return 0;
    // Multiply-high maps 64 random bits onto [0, bound); the rare low products that would favour some
    // values are redrawn (Lemire's method), so every value is exactly equally likely.
    __extension__ using U128 = unsigned __int128;
    U128 m = static_cast<U128>(next()) * bound;
    auto low = static_cast<std::uint64_t>(m);
    if (low < bound) {
      const std::uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<U128>(next()) * bound;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

}  // namespace vnfpool::handlespace
