// Webhook certificates: an own CA and a serving certificate made with OpenSSL (EC P-256), stored in a
// Secret, rotated before expiry; the webhook configuration's caBundle is patched to trust them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "vnfpool/kube/client.h"
#include "vnfpool/kube/result.h"

namespace vnfpool::op {

struct KeyPair {
  std::string cert_pem{};
  std::string key_pem{};
};

/// A self-signed CA certificate valid for `validity` from now (backdated 1 minute for clock skew).
kube::Result<KeyPair> makeCa(const std::string& common_name, std::chrono::seconds validity);
/// A serving certificate signed by `ca` with the DNS names / IP addresses in `names` as subjectAltName
/// (an entry that parses as an IP address becomes an IP SAN).
kube::Result<KeyPair> makeServingCert(const KeyPair& ca, const std::vector<std::string>& names,
                                      std::chrono::seconds validity);
/// notAfter of the first certificate in `pem`.
kube::Result<std::chrono::system_clock::time_point> certificateNotAfter(const std::string& pem);
/// True if the certificate `pem` was signed by the first certificate in `ca_pem`.
bool signedBy(const std::string& pem, const std::string& ca_pem);

struct CertOptions {
  std::string namespace_name = "vnfpool-system";
  std::string secret_name = "vnfpool-webhook-tls";
  std::string webhook_configuration = "vnfpool-sidecar-injector";   // MutatingWebhookConfiguration
  std::vector<std::string> names{};           // SANs of the serving certificate
  std::chrono::seconds ca_validity{std::chrono::hours(24 * 365 * 5)};
  std::chrono::seconds cert_validity{std::chrono::hours(24 * 90)};
  double rotate_at_fraction = 2.0 / 3.0;      // renew once this much of the validity has passed
};

/// The Secret's content: ca.crt (the bundle: current CA, then the previous one during a rotation),
/// ca.key, tls.crt, tls.key.
struct CertBundle {
  std::string ca_bundle{};
  KeyPair ca{};
  KeyPair serving{};
  std::chrono::system_clock::time_point not_after{};
};

/// Keeps the Secret, the caBundle and the served certificate current. Every operator replica runs it;
/// optimistic concurrency on the Secret decides which replica's new certificate wins, the others adopt it.
class CertManager {
 public:
  CertManager(kube::Client& client, CertOptions options);

  /// One pass: reads the Secret; creates or renews what is missing, expiring (past the rotation point),
  /// or not matching the configured names; patches the webhook configuration's caBundle when it
  /// differs (NotFound for the configuration is not an error: the chart may create it later). Returns
  /// the bundle to serve.
  kube::Result<CertBundle> ensure(std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

  /// When the serving certificate should be renewed.
  std::chrono::system_clock::time_point rotationDue(const CertBundle& bundle) const;

 private:
  kube::Status patchCaBundle(const std::string& bundle);
  kube::Client& client_;
  CertOptions options_;
};

}  // namespace vnfpool::op
