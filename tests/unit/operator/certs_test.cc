#include "vnfpool/operator/certs.h"

#include <gtest/gtest.h>

namespace vnfpool::op {
namespace {

using namespace std::chrono_literals;

TEST(Certs, ServingCertificateIsSignedByItsCaAndExpiresWhenAsked) {
  auto ca = makeCa("test-ca", 24h);
  ASSERT_TRUE(ca.ok()) << ca.error().message;
  auto serving = makeServingCert(ca.value(), {"webhook.ns.svc", "127.0.0.1"}, 1h);
  ASSERT_TRUE(serving.ok()) << serving.error().message;
  EXPECT_NE(serving.value().cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(serving.value().key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_TRUE(signedBy(serving.value().cert_pem, ca.value().cert_pem));
  auto other = makeCa("other-ca", 24h);
  EXPECT_FALSE(signedBy(serving.value().cert_pem, other.value().cert_pem));

  auto after = certificateNotAfter(serving.value().cert_pem);
  ASSERT_TRUE(after.ok());
  const auto left = after.value() - std::chrono::system_clock::now();
  EXPECT_GT(left, 59min);
  EXPECT_LT(left, 61min);
}

TEST(Certs, BadInputIsReported) {
  EXPECT_FALSE(certificateNotAfter("not a certificate").ok());
  EXPECT_FALSE(makeServingCert(KeyPair{"x", "y"}, {"a"}, 1h).ok());
  auto ca = makeCa("ca", 1h);
  EXPECT_FALSE(makeServingCert(ca.value(), {}, 1h).ok());
}

}  // namespace
}  // namespace vnfpool::op
