// The order tree's node search (order_tree.h): counting, without branches on the data, the places below
// the one sought.
#include "order_tree.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VNFPOOL_HAVE_AVX2_PATH 1
#endif

namespace vnfpool::handlespace::detail {
namespace {

#ifdef VNFPOOL_HAVE_AVX2_PATH
__attribute__((target("avx2"))) int countAvx2(const std::uint64_t* places, int n, std::uint64_t x) {
  // AVX2 compares 64-bit lanes as signed: flipping the top bit of both sides makes that an unsigned
  // comparison. Each lane that holds a place below x adds -1 to the running sum.
  const __m256i flip = _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ull));
  const __m256i bound = _mm256_xor_si256(_mm256_set1_epi64x(static_cast<long long>(x)), flip);
  __m256i sum = _mm256_setzero_si256();
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256i v =
        _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(places + i)), flip);
    sum = _mm256_add_epi64(sum, _mm256_cmpgt_epi64(bound, v));
  }
  const __m128i half = _mm_add_epi64(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
  int below = -static_cast<int>(_mm_cvtsi128_si64(half) + _mm_extract_epi64(half, 1));
  for (; i < n; ++i) below += places[i] < x;
  return below;
}

const bool kHaveAvx2 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
}();
#endif

}  // namespace

int countPlacesBelow(const std::uint64_t* places, int n, std::uint64_t x) {
#ifdef VNFPOOL_HAVE_AVX2_PATH
  if (kHaveAvx2) return countAvx2(places, n, x);
#endif
  return countPlacesBelowPortable(places, n, x);
}

int countPlacesBelowPortable(const std::uint64_t* places, int n, std::uint64_t x) {
  int below = 0;
  for (int i = 0; i < n; ++i) below += places[i] < x;
  return below;
}

}  // namespace vnfpool::handlespace::detail
