// Pool member selection policies (digest section 9: RFC 5356, the delay draft, RSPLIB's private policies):
// what each policy orders or weighs by, and the arithmetic of its keys. Pure functions, shared by the
// registrar's handlespace and, later, by the PU-side cache, so both select with the same rules.
#pragma once

#include <cstdint>
#include <span>

#include "vnfpool/wire/types.h"

namespace vnfpool::handlespace {

/// How a policy picks: `Ordered` returns the first entries by (key, sequence number); `Weighted` draws
/// without replacement with probability proportional to a weight.
enum class PolicyClass : std::uint8_t { Ordered, Weighted };

/// What a selection adds to an entry's PR-local degradation (digest 9.2).
enum class DegradationStep : std::uint8_t { None, Degradation, Increment };

/// Everything the selection code needs to know about one policy type. Word indexes point into the
/// policy's value words in wire order; kNoWord when the policy has no such field.
struct PolicyTraits {
  static constexpr std::int8_t kNoWord = -1;
  std::uint32_t type = 0;
  PolicyClass cls = PolicyClass::Ordered;
  bool round_based = false;  // Weighted Round Robin: ordered by (round, sequence)
  bool uniform = false;      // Random: every entry weighs 1
  /// Entries whose first `MaxIncrement` selections advance their state (digest 9.3): 1 for ordered
  /// policies and the randomized-least-used family, 0 for RAND, WRAND and WRAND-DPF.
  std::uint32_t default_max_increment = 1;
  DegradationStep step = DegradationStep::None;
  std::uint8_t word_count = 0;  // value words the policy defines
  std::int8_t weight = kNoWord, priority = kNoWord, load = kNoWord, degradation = kNoWord, increment = kNoWord,
              load_dpf = kNoWord, weight_dpf = kNoWord, distance = kNoWord;
};

/// The traits of a policy type code; nullptr for a type this implementation cannot select with.
const PolicyTraits* policyTraits(std::uint32_t type);

/// The largest value of loads and keys (100 % load); every sum saturates here (digest 9.1).
inline constexpr std::uint32_t kMaxValue = 0xFFFFFFFFu;

/// Saturating sum of 32-bit policy values.
constexpr std::uint32_t saturatingAdd(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t sum = a + b;
  return sum > kMaxValue ? kMaxValue : static_cast<std::uint32_t>(sum);
}

/// The ordering key of an entry of an Ordered policy other than WRR: smaller is selected first, ties go
/// to the lower sequence number (round robin among equals). `words` must hold `traits.word_count` words.
///   RR 0; PRIO MAX-P; LU L; LUD L+Deg; PLU L+Inc; PLUD L+Inc+Deg; LU-DPF L+dist*LDPF;
///   LUD-DPF L+Deg+dist*LDPF; PLU-DPF L+Inc+dist*LDPF; PLUD-DPF L+Inc+Deg+dist*LDPF; all saturating.
std::uint32_t orderedKey(const PolicyTraits& traits, std::span<const std::uint32_t> words,
                         std::uint32_t degradation);

/// The selection weight of an entry of a Weighted policy (0 = never drawn):
///   RAND 1; WRAND W; WRAND-DPF W - round(W*dist*WDPF/MAX), 1 if that is negative, 0 if exactly 0;
///   RLU max(1, MAX-L); RPLU max(1, MAX-L-Inc); RLUD max(1, MAX-L-Deg); RPLUD max(1, MAX-L-Inc-Deg).
std::uint32_t selectionWeight(const PolicyTraits& traits, std::span<const std::uint32_t> words,
                              std::uint32_t degradation);

/// The WRR weight (selections per round) of an entry; 0 means the entry is never selected.
std::uint32_t roundWeight(const PolicyTraits& traits, std::span<const std::uint32_t> words);

/// What one advancing selection adds to the entry's degradation (0 for policies without degradation).
std::uint32_t degradationStep(const PolicyTraits& traits, std::span<const std::uint32_t> words);

}  // namespace vnfpool::handlespace
