#include "vnfpool/wire/checksum.h"

#include <gtest/gtest.h>

namespace vnfpool::wire {
namespace {

// Test vectors of the protocol digest, section 8.3.
TEST(Internet16, SingleEntryVectors) {
  EXPECT_EQ(internet16Term("EchoPool", 0x12345678), 0x1D659u);
  EXPECT_EQ(internet16Finish(0x1D659), 0x29A5);
  EXPECT_EQ(internet16Term("CalcAppPool", 0x00000001), 0x23CF4u);  // odd length: padded with one zero byte
  EXPECT_EQ(internet16Finish(0x23CF4), 0xC309);
  EXPECT_EQ(internet16Term("FractalGeneratorPool", 0xDEADBEEF), 0x581BAu);
  EXPECT_EQ(internet16Finish(0x581BA), 0x7E40);
}

TEST(Internet16, OwnerOfThreeAndEmpty) {
  OwnerChecksum owner;
  EXPECT_EQ(owner.internet16(), 0xFFFF);
  owner.add("EchoPool", 0x12345678);
  owner.add("CalcAppPool", 0x00000001);
  owner.add("FractalGeneratorPool", 0xDEADBEEF);
  EXPECT_EQ(owner.internet16(), 0x6AEF);
  EXPECT_EQ(owner.value(Dialect::Classic), 0x6AEFu);
}

TEST(Internet32, SingleEntryVectors) {
  EXPECT_EQ(internet32Term("EchoPool", 0x0000000012345678), 0xA8072E53u);
  EXPECT_EQ(internet32Finish(0xA8072E53), 0x57F8D1ACu);
  EXPECT_EQ(internet32Term("CalcAppPool", 0x0123456789ABCDEF), 0x17F105C09u);
  EXPECT_EQ(internet32Finish(0x17F105C09), 0x80EFA3F5u);
  EXPECT_EQ(internet32Term("FractalGeneratorPool", 0xFEDCBA9876543210), 0x34756FEA2u);
  EXPECT_EQ(internet32Finish(0x34756FEA2), 0xB8A9015Au);
}

TEST(Internet32, IncrementalRemoveEqualsRecomputation) {
  OwnerChecksum owner;
  EXPECT_EQ(owner.internet32(), 0xFFFFFFFFu);
  owner.add("EchoPool", 0x0000000012345678);
  owner.add("CalcAppPool", 0x0123456789ABCDEF);
  owner.add("FractalGeneratorPool", 0xFEDCBA9876543210);
  EXPECT_EQ(owner.internet32(), 0x919176FCu);
  owner.remove("CalcAppPool", 0x0123456789ABCDEF);
  EXPECT_EQ(owner.internet32(), 0x10A1D307u);

  OwnerChecksum recomputed;
  recomputed.add("FractalGeneratorPool", 0xFEDCBA9876543210);
  recomputed.add("EchoPool", 0x0000000012345678);
  EXPECT_EQ(owner, recomputed);
}

TEST(OwnerChecksum, AddThenRemoveAllIsEmpty) {
  OwnerChecksum owner;
  for (PeId id = 1; id < 5000; ++id) owner.add("pool-" + std::to_string(id % 7), id * 0x9E3779B97F4A7C15ull);
  for (PeId id = 4999; id >= 1; --id) owner.remove("pool-" + std::to_string(id % 7), id * 0x9E3779B97F4A7C15ull);
  EXPECT_EQ(owner, OwnerChecksum{});
  EXPECT_EQ(owner.internet16(), 0xFFFF);
}

}  // namespace
}  // namespace vnfpool::wire
