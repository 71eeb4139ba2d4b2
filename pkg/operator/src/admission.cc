#include "vnfpool/operator/admission.h"

#include <cpprest/asyncrt_utils.h>

namespace vnfpool::op {
namespace {
using kube::Json;

Json baseReview(const std::string& uid) {
  Json out = Json::object();
  out["apiVersion"] = Json::string("admission.k8s.io/v1");
  out["kind"] = Json::string("AdmissionReview");
  Json response = Json::object();
  response["uid"] = Json::string(uid);
  response["allowed"] = Json::boolean(true);
  out["response"] = std::move(response);
  return out;
}
}  // namespace

AdmissionOutcome admissionResponse(const kube::Json& review, const InjectionSettings& settings,
                                   const PoolLookup& lookup) {
  AdmissionOutcome out;
  const auto api_version = kube::getString(review, "apiVersion").value_or("");
  const auto uid = kube::getString(review, "request.uid");
  if (api_version != "admission.k8s.io/v1" || kube::getString(review, "kind").value_or("") != "AdmissionReview" ||
      !uid || uid->empty()) {
    out.result = "invalid";
    out.review = baseReview(uid.value_or(""));
    out.review["response"]["allowed"] = Json::boolean(false);
    kube::set(out.review, "response.status.code", Json::number(400));
    kube::set(out.review, "response.status.message",
              Json::string("expected an admission.k8s.io/v1 AdmissionReview with request.uid"));
    return out;
  }
  out.review = baseReview(*uid);
  const auto kind = kube::getString(review, "request.kind.kind").value_or("");
  const auto operation = kube::getString(review, "request.operation").value_or("");
  const kube::Json* object = kube::find(review, "request.object");
  if (kind != "Pod" || operation != "CREATE" || object == nullptr || !object->is_object()) {
    out.result = "skipped";
    return out;
  }
  const auto ns = kube::getString(review, "request.namespace")
                      .value_or(kube::getString(*object, "metadata.namespace").value_or("default"));
  auto decision = injectionPatch(*object, ns, settings, lookup);
  if (!decision.ok()) {
    out.result = "denied";
    out.review["response"]["allowed"] = Json::boolean(false);
    kube::set(out.review, "response.status.code", Json::number(422));
    kube::set(out.review, "response.status.reason", Json::string("Invalid"));
    kube::set(out.review, "response.status.message", Json::string("vnfpool: " + decision.error().message));
    return out;
  }
  if (!decision.value().mutate) {
    out.result = "skipped";
    return out;
  }
  const auto text = kube::toString(decision.value().patch);
  std::vector<unsigned char> bytes(text.begin(), text.end());
  out.review["response"]["patchType"] = Json::string("JSONPatch");
  out.review["response"]["patch"] = Json::string(utility::conversions::to_base64(bytes));
  out.result = "injected";
  return out;
}

}  // namespace vnfpool::op
