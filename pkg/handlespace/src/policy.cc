#include "vnfpool/handlespace/policy.h"

#include <array>

namespace vnfpool::handlespace {
namespace {

using wire::PolicyField;
using wire::PolicyType;

// The word layout comes from wire's policy table, so the two libraries cannot disagree on which word is
// the load or the weight; this table adds only what selection needs.
PolicyTraits makeTraits(const wire::PolicyInfo& info) {
  PolicyTraits t;
  t.type = static_cast<std::uint32_t>(info.type);
  t.word_count = static_cast<std::uint8_t>(info.fields.size());
  for (std::size_t i = 0; i < info.fields.size(); ++i) {
    const auto index = static_cast<std::int8_t>(i);
    switch (info.fields[i]) {
      case PolicyField::Weight: t.weight = index; break;
      case PolicyField::Priority: t.priority = index; break;
      case PolicyField::Load: t.load = index; break;
      case PolicyField::LoadDegradation: t.degradation = index; break;
      case PolicyField::LoadIncrement: t.increment = index; break;
      case PolicyField::LoadDpf: t.load_dpf = index; break;
      case PolicyField::WeightDpf: t.weight_dpf = index; break;
      case PolicyField::Distance: t.distance = index; break;
    }
  }
  switch (info.type) {
    case PolicyType::Random:
      t.cls = PolicyClass::Weighted;
      t.uniform = true;
      t.default_max_increment = 0;
      break;
    case PolicyType::WeightedRandom:
    case PolicyType::WeightedRandomDpf:
      t.cls = PolicyClass::Weighted;
      t.default_max_increment = 0;
      break;
    case PolicyType::RandomizedLeastUsed:
    case PolicyType::RandomizedPriorityLeastUsed:
      t.cls = PolicyClass::Weighted;
      break;
    case PolicyType::RandomizedLeastUsedDegradation:
      t.cls = PolicyClass::Weighted;
      t.step = DegradationStep::Degradation;
      break;
    case PolicyType::RandomizedPriorityLeastUsedDegradation:
      t.cls = PolicyClass::Weighted;
      t.step = DegradationStep::Increment;
      break;
    case PolicyType::WeightedRoundRobin:
      t.round_based = true;
      break;
    case PolicyType::LeastUsedDegradation:
    case PolicyType::LeastUsedDegradationDpf:
      t.step = DegradationStep::Degradation;
      break;
    case PolicyType::PriorityLeastUsedDegradation:
    case PolicyType::PriorityLeastUsedDegradationDpf:
      t.step = DegradationStep::Increment;
      break;
    default:
      break;
  }
  return t;
}

struct TraitsTable {
  std::array<PolicyTraits, 32> entries{};
  std::size_t count = 0;
  TraitsTable() {
    for (const auto& info : wire::allPolicies())
      if (count < entries.size()) entries[count++] = makeTraits(info);
  }
};

std::uint32_t word(std::span<const std::uint32_t> words, std::int8_t index) {
  if (index < 0 || static_cast<std::size_t>(index) >= words.size()) return 0;
  return words[static_cast<std::size_t>(index)];
}

bool priorityLeastUsedFamily(std::uint32_t type) {
  switch (static_cast<PolicyType>(type)) {
    case PolicyType::PriorityLeastUsed:
    case PolicyType::PriorityLeastUsedDegradation:
    case PolicyType::PriorityLeastUsedDpf:
    case PolicyType::PriorityLeastUsedDegradationDpf:
    case PolicyType::RandomizedPriorityLeastUsed:
    case PolicyType::RandomizedPriorityLeastUsedDegradation:
      return true;
    default:
      return false;
  }
}

}  // namespace

const PolicyTraits* policyTraits(std::uint32_t type) {
  static const TraitsTable table;
  for (std::size_t i = 0; i < table.count; ++i)
    if (table.entries[i].type == type) return &table.entries[i];
  return nullptr;
}

std::uint32_t orderedKey(const PolicyTraits& traits, std::span<const std::uint32_t> words,
                         std::uint32_t degradation) {
  if (traits.priority != PolicyTraits::kNoWord) return kMaxValue - word(words, traits.priority);
  if (traits.load == PolicyTraits::kNoWord) return 0;  // RR (WRR keys come from its rounds)
  std::uint64_t key = word(words, traits.load);
  if (priorityLeastUsedFamily(traits.type)) key += word(words, traits.increment);
  if (traits.step != DegradationStep::None) key += degradation;
  if (traits.load_dpf != PolicyTraits::kNoWord) {
    // dist (ms) * LDPF (fraction of MAX per ms) is already in load units (digest 9.2).
    const std::uint64_t penalty = std::uint64_t{word(words, traits.distance)} * word(words, traits.load_dpf);
    if (penalty >= kMaxValue) return kMaxValue;
    key += penalty;
  }
  return saturatingAdd(key, 0);
}

std::uint32_t selectionWeight(const PolicyTraits& traits, std::span<const std::uint32_t> words,
                              std::uint32_t degradation) {
  if (traits.uniform) return 1;
  if (traits.weight != PolicyTraits::kNoWord) {
    const std::uint32_t w = word(words, traits.weight);
    if (traits.weight_dpf == PolicyTraits::kNoWord) return w;
    __extension__ using U128 = unsigned __int128;
    const U128 product = U128{w} * word(words, traits.distance) * word(words, traits.weight_dpf);
    const U128 penalty = (product + kMaxValue / 2) / kMaxValue;  // rounded to nearest
    if (penalty > w) return 1;                                    // negative weight: still reachable
    return static_cast<std::uint32_t>(w - static_cast<std::uint64_t>(penalty));
  }
  // Randomized least-used family: weight is the unused capacity, at least 1.
  std::uint64_t used = word(words, traits.load);
  if (priorityLeastUsedFamily(traits.type)) used += word(words, traits.increment);
  if (traits.step != DegradationStep::None) used += degradation;
  if (used >= kMaxValue) return 1;
  return static_cast<std::uint32_t>(kMaxValue - used);
}

std::uint32_t roundWeight(const PolicyTraits& traits, std::span<const std::uint32_t> words) {
  return word(words, traits.weight);
}

std::uint32_t degradationStep(const PolicyTraits& traits, std::span<const std::uint32_t> words) {
  switch (traits.step) {
    case DegradationStep::None: return 0;
    case DegradationStep::Degradation: return word(words, traits.degradation);
    case DegradationStep::Increment: return word(words, traits.increment);
  }
  return 0;
}

}  // namespace vnfpool::handlespace
