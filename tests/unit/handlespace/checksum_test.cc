// Per-owner audit checksums kept by the handlespace: the digest's vectors (section 8.3), and incremental
// maintenance equal to recomputation.
#include <gtest/gtest.h>

#include "test_util.h"
#include "vnfpool/handlespace/handlespace.h"

namespace vnfpool::handlespace {
namespace {

using test::pe;
const wire::Policy kRr = wire::Policy::make(wire::PolicyType::RoundRobin);

TEST(OwnerChecksumTest, Internet16VectorsFromTheDigest) {
  Handlespace hs;
  EXPECT_EQ(hs.ownerChecksum(1).internet16(), 0xFFFF);
  ASSERT_TRUE(hs.registerPe("EchoPool", pe(0x12345678, kRr, 1), {}, {}).ok());
  EXPECT_EQ(hs.ownerChecksum(1).internet16(), 0x29A5);
  ASSERT_TRUE(hs.registerPe("CalcAppPool", pe(0x00000001, kRr, 1), {}, {}).ok());
  ASSERT_TRUE(hs.registerPe("FractalGeneratorPool", pe(0xDEADBEEF, kRr, 1), {}, {}).ok());
  ASSERT_TRUE(hs.registerPe("EchoPool", pe(0x1111, kRr, 2), {}, {}).ok());  // another owner: not counted
  EXPECT_EQ(hs.ownerChecksum(1).internet16(), 0x6AEF);
  EXPECT_EQ(hs.recomputeOwnerChecksum(1).internet16(), 0x6AEF);
}

TEST(OwnerChecksumTest, Internet32VectorsFromTheDigest) {
  Handlespace hs;
  EXPECT_EQ(hs.ownerChecksum(1).internet32(), 0xFFFFFFFFu);
  ASSERT_TRUE(hs.registerPe("EchoPool", pe(0x0000000012345678, kRr, 1), {}, {}).ok());
  EXPECT_EQ(hs.ownerChecksum(1).internet32(), 0x57F8D1ACu);
  ASSERT_TRUE(hs.registerPe("CalcAppPool", pe(0x0123456789ABCDEF, kRr, 1), {}, {}).ok());
  ASSERT_TRUE(hs.registerPe("FractalGeneratorPool", pe(0xFEDCBA9876543210, kRr, 1), {}, {}).ok());
  EXPECT_EQ(hs.ownerChecksum(1).internet32(), 0x919176FCu);
  ASSERT_TRUE(hs.deregisterPe("CalcAppPool", 0x0123456789ABCDEF));
  EXPECT_EQ(hs.ownerChecksum(1).internet32(), 0x10A1D307u);
  EXPECT_EQ(hs.recomputeOwnerChecksum(1).internet32(), 0x10A1D307u);
}

TEST(OwnerChecksumTest, ReRegistrationAndOwnerChangeKeepChecksumsExact) {
  Handlespace hs;
  ASSERT_TRUE(hs.registerPe("EchoPool", pe(0x12345678, kRr, 1), {}, {}).ok());
  ASSERT_TRUE(hs.registerPe("EchoPool", pe(0x12345678, kRr, 1), {}, {}).ok());  // unchanged set
  EXPECT_EQ(hs.ownerChecksum(1).internet16(), 0x29A5);
  ASSERT_TRUE(hs.registerPe("EchoPool", pe(0x12345678, kRr, 2), {}, {}).ok());  // re-registered elsewhere
  EXPECT_EQ(hs.ownerChecksum(1).internet16(), 0xFFFF);
  EXPECT_EQ(hs.ownerChecksum(2).internet16(), 0x29A5);
}

}  // namespace
}  // namespace vnfpool::handlespace
