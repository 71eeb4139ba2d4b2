#include "vnfpool/operator/admission.h"

#include <cpprest/asyncrt_utils.h>
#include <gtest/gtest.h>

namespace vnfpool::op {
namespace {

kube::Json review(const std::string& object, const std::string& operation = "CREATE", const std::string& kind = "Pod") {
  auto j = kube::parseJson(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",)"
                           R"("kind":{"group":"","version":"v1","kind":")" + kind + R"("},"namespace":"default",)"
                           R"("operation":")" + operation + R"(","object":)" + object + "}}");
  EXPECT_TRUE(j.ok());
  return j.value();
}

const std::string kPod =
    R"({"metadata":{"name":"vnf","annotations":{"vnfpool.io/pool":"sip"}},"spec":{"containers":[{"name":"vnf","ports":[{"containerPort":80}]}]}})";

TEST(Admission, InjectsWithABase64JsonPatch) {
  auto out = admissionResponse(review(kPod), InjectionSettings{});
  EXPECT_EQ(out.result, "injected");
  EXPECT_EQ(out.review.at("apiVersion").as_string(), "admission.k8s.io/v1");
  EXPECT_EQ(out.review.at("response").at("uid").as_string(), "u-1");
  EXPECT_TRUE(out.review.at("response").at("allowed").as_bool());
  EXPECT_EQ(out.review.at("response").at("patchType").as_string(), "JSONPatch");
  auto bytes = utility::conversions::from_base64(out.review.at("response").at("patch").as_string());
  auto patch = kube::parseJson(std::string(bytes.begin(), bytes.end()));
  ASSERT_TRUE(patch.ok());
  EXPECT_TRUE(patch.value().is_array());
  EXPECT_EQ(patch.value().at(0).at("value").at(0).at("name").as_string(), "vnfpool-sidecar");
}

TEST(Admission, DeniesBadAnnotations) {
  auto out = admissionResponse(
      review(R"({"metadata":{"name":"v","annotations":{"vnfpool.io/pool":"sip","vnfpool.io/port":"x"}},"spec":{"containers":[{"name":"a"}]}})"),
      InjectionSettings{});
  EXPECT_EQ(out.result, "denied");
  EXPECT_FALSE(out.review.at("response").at("allowed").as_bool());
  EXPECT_NE(out.review.at("response").at("status").at("message").as_string().find("vnfpool.io/port"), std::string::npos);
}

TEST(Admission, OtherRequestsPassUnchanged) {
  for (auto out : {admissionResponse(review(kPod, "UPDATE"), InjectionSettings{}),
                   admissionResponse(review(kPod, "CREATE", "Service"), InjectionSettings{})}) {
    EXPECT_EQ(out.result, "skipped");
    EXPECT_TRUE(out.review.at("response").at("allowed").as_bool());
    EXPECT_FALSE(out.review.at("response").has_field("patch"));
  }
}

TEST(Admission, RejectsWhatIsNotAReview) {
  auto out = admissionResponse(kube::parseJson(R"({"kind":"Pod"})").value(), InjectionSettings{});
  EXPECT_EQ(out.result, "invalid");
  EXPECT_FALSE(out.review.at("response").at("allowed").as_bool());
}

}  // namespace
}  // namespace vnfpool::op
