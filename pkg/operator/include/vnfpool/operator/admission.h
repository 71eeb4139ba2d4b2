// AdmissionReview v1 in and out: a pure function from the review the API server POSTs to the review the
// webhook answers (allowed, JSONPatch, or a denial naming the bad annotation).
#pragma once

#include <string>

#include "vnfpool/kube/json.h"
#include "vnfpool/operator/inject.h"

namespace vnfpool::op {

struct AdmissionOutcome {
  kube::Json review{};        // the AdmissionReview to send back
  std::string result{};       // "injected", "skipped", "denied", "invalid" (metric label)
};

/// Answers a review. A body that is not an AdmissionReview v1 with a request.uid gives result "invalid"
/// and a review with allowed=false (the HTTP layer answers 400 for it). Non-Pod or non-CREATE requests
/// are allowed unchanged.
AdmissionOutcome admissionResponse(const kube::Json& review, const InjectionSettings& settings,
                                   const PoolLookup& lookup = {});

}  // namespace vnfpool::op
