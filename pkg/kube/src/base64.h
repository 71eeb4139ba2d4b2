// Base64 (RFC 4648) for kubeconfig *-data fields and basic auth.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vnfpool::kube::detail {

/// Decodes standard base64 (padding optional, whitespace ignored); nullopt on any other character.
std::optional<std::string> base64Decode(std::string_view text);
std::string base64Encode(std::string_view bytes);

}  // namespace vnfpool::kube::detail
