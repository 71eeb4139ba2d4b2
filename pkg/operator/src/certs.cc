#include "vnfpool/operator/certs.h"

#include <cpprest/asyncrt_utils.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <memory>

#include "vnfpool/kube/kinds.h"

namespace vnfpool::op {
namespace {

using Clock = std::chrono::system_clock;

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

kube::Error failure(std::string what) {
  kube::Error e;
  e.kind = kube::ErrorKind::BadInput;
  e.message = "certificate: " + std::move(what);
  return e;
}

PKey newKey() {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr);
  EVP_PKEY* key = nullptr;
  if (ctx != nullptr && EVP_PKEY_keygen_init(ctx) > 0 &&
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) > 0)
    EVP_PKEY_keygen(ctx, &key);
  EVP_PKEY_CTX_free(ctx);
  return PKey(key);
}

std::string toPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string toPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

Cert readCert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PKey readKey(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return PKey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

bool addExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

kube::Result<Cert> build(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                         std::chrono::seconds validity, bool is_ca, const std::vector<std::string>& names) {
  Cert cert(X509_new());
  if (!cert) return failure("out of memory");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(validity.count()));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("vnfpool"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key);
  X509* iss = issuer ? issuer : cert.get();
  bool ok = true;
  if (is_ca) {
    ok = addExt(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
         addExt(cert.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign") &&
         addExt(cert.get(), iss, NID_subject_key_identifier, "hash");
  } else {
    std::string san;
    for (const auto& n : names) {
      unsigned char buf[16];
      const bool ip = inet_pton(AF_INET, n.c_str(), buf) == 1 || inet_pton(AF_INET6, n.c_str(), buf) == 1;
      san += (san.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + n;
    }
    ok = addExt(cert.get(), iss, NID_basic_constraints, "critical,CA:FALSE") &&
         addExt(cert.get(), iss, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
         addExt(cert.get(), iss, NID_ext_key_usage, "serverAuth") &&
         (san.empty() || addExt(cert.get(), iss, NID_subject_alt_name, san));
  }
  if (!ok) return failure("cannot add extensions (bad name in " + cn + "?)");
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return failure("signing failed");
  return cert;
}

}  // namespace

kube::Result<KeyPair> makeCa(const std::string& common_name, std::chrono::seconds validity) {
  PKey key = newKey();
  if (!key) return failure("key generation failed");
  auto cert = build(common_name, key.get(), nullptr, key.get(), validity, true, {});
  if (!cert.ok()) return cert.error();
  return KeyPair{toPem(cert.value().get()), toPem(key.get())};
}

kube::Result<KeyPair> makeServingCert(const KeyPair& ca, const std::vector<std::string>& names,
                                      std::chrono::seconds validity) {
  Cert ca_cert = readCert(ca.cert_pem);
  PKey ca_key = readKey(ca.key_pem);
  if (!ca_cert || !ca_key) return failure("unreadable CA certificate or key");
  if (names.empty()) return failure("no names for the serving certificate");
  PKey key = newKey();
  if (!key) return failure("key generation failed");
  auto cert = build(names.front(), key.get(), ca_cert.get(), ca_key.get(), validity, false, names);
  if (!cert.ok()) return cert.error();
  return KeyPair{toPem(cert.value().get()), toPem(key.get())};
}

kube::Result<Clock::time_point> certificateNotAfter(const std::string& pem) {
  Cert cert = readCert(pem);
  if (!cert) return failure("unreadable certificate");
  int days = 0, secs = 0;
  if (ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert.get())) == 0) return failure("bad notAfter");
  return Clock::now() + std::chrono::hours(24) * days + std::chrono::seconds(secs);
}

bool signedBy(const std::string& pem, const std::string& ca_pem) {
  Cert cert = readCert(pem);
  Cert ca = readCert(ca_pem);
  if (!cert || !ca) return false;
  EVP_PKEY* key = X509_get0_pubkey(ca.get());
  return key != nullptr && X509_verify(cert.get(), key) == 1;
}

CertManager::CertManager(kube::Client& client, CertOptions options) : client_(client), options_(std::move(options)) {}

Clock::time_point CertManager::rotationDue(const CertBundle& bundle) const {
  const auto total = std::chrono::duration_cast<std::chrono::seconds>(options_.cert_validity);
  const auto before = std::chrono::seconds(static_cast<std::int64_t>(static_cast<double>(total.count()) *
                                                                     (1.0 - options_.rotate_at_fraction)));
  return bundle.not_after - before;
}

kube::Result<CertBundle> CertManager::ensure(Clock::time_point now) {
  kube::TypedClient<kube::Secret> secrets(client_);
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto current = secrets.get(options_.namespace_name, options_.secret_name);
    if (!current.ok() && !current.notFound()) return current.error();
    std::optional<kube::Secret> secret;
    if (current.ok()) secret = current.value();

    CertBundle bundle;
    bool usable = false;
    if (secret) {
      const auto& d = secret->data;
      auto get = [&](const char* k) { auto it = d.find(k); return it == d.end() ? std::string() : it->second; };
      bundle.ca = {get("ca.crt.current"), get("ca.key")};
      if (bundle.ca.cert_pem.empty()) bundle.ca.cert_pem = get("ca.crt");
      bundle.ca_bundle = get("ca.crt");
      bundle.serving = {get("tls.crt"), get("tls.key")};
      auto after = certificateNotAfter(bundle.serving.cert_pem);
      auto ca_after = certificateNotAfter(bundle.ca.cert_pem);
      if (after.ok() && ca_after.ok() && !bundle.serving.key_pem.empty() && !bundle.ca.key_pem.empty() &&
          signedBy(bundle.serving.cert_pem, bundle.ca.cert_pem)) {
        bundle.not_after = after.value();
        const bool ca_fresh = ca_after.value() > now + options_.cert_validity;
        usable = ca_fresh && now < rotationDue(bundle);
      }
    }
    if (!usable) {
      // Renew: keep the CA while it outlives the new serving certificate, else make a new one and keep
      // the old one in the bundle so Pods of clients holding the old caBundle still verify.
      std::string previous_ca = bundle.ca.cert_pem;
      auto ca_after = certificateNotAfter(bundle.ca.cert_pem);
      const bool keep_ca = !bundle.ca.key_pem.empty() && ca_after.ok() &&
                           ca_after.value() > now + options_.cert_validity + options_.cert_validity;
      if (!keep_ca) {
        auto ca = makeCa("vnfpool-webhook-ca", options_.ca_validity);
        if (!ca.ok()) return ca.error();
        bundle.ca = ca.value();
      }
      auto serving = makeServingCert(bundle.ca, options_.names, options_.cert_validity);
      if (!serving.ok()) return serving.error();
      bundle.serving = serving.value();
      bundle.ca_bundle = bundle.ca.cert_pem;
      if (!keep_ca && !previous_ca.empty() && certificateNotAfter(previous_ca).ok()) bundle.ca_bundle += previous_ca;
      bundle.not_after = certificateNotAfter(bundle.serving.cert_pem).value();

      kube::Secret out = secret.value_or(kube::Secret{});
      out.metadata.name = options_.secret_name;
      out.metadata.namespace_name = options_.namespace_name;
      out.metadata.labels["app.kubernetes.io/part-of"] = "vnfpool";
      out.metadata.labels["app.kubernetes.io/component"] = "webhook";
      out.type = "kubernetes.io/tls";
      out.data["ca.crt"] = bundle.ca_bundle;
      out.data["ca.crt.current"] = bundle.ca.cert_pem;
      out.data["ca.key"] = bundle.ca.key_pem;
      out.data["tls.crt"] = bundle.serving.cert_pem;
      out.data["tls.key"] = bundle.serving.key_pem;
      auto written = secret ? secrets.update(out) : secrets.create(out);
      if (!written.ok()) {
        if (written.conflict()) continue;   // another replica wrote first: adopt what it wrote
        return written.error();
      }
    }
    if (auto patched = patchCaBundle(bundle.ca_bundle); !patched.ok()) return patched.error();
    return bundle;
  }
  kube::Error e;
  e.kind = kube::ErrorKind::Api;
  e.status = 409;
  e.reason = "Conflict";
  e.message = "certificate Secret kept changing under us";
  return e;
}

kube::Status CertManager::patchCaBundle(const std::string& bundle) {
  if (options_.webhook_configuration.empty()) return kube::Done{};
  auto config = client_.get(kube::resources::kMutatingWebhookConfiguration, "", options_.webhook_configuration);
  if (config.notFound()) return kube::Done{};
  if (!config.ok()) return config.error();
  const auto* hooks = kube::find(config.value(), "webhooks");
  if (hooks == nullptr || !hooks->is_array()) return kube::Done{};
  std::vector<unsigned char> bytes(bundle.begin(), bundle.end());
  const auto encoded = utility::conversions::to_base64(bytes);
  kube::Json patch = kube::Json::array();
  std::size_t n = 0;
  for (std::size_t i = 0; i < hooks->size(); ++i) {
    if (kube::getString(hooks->at(i), "clientConfig.caBundle").value_or("") == encoded) continue;
    kube::Json op = kube::Json::object();
    op["op"] = kube::Json::string("add");
    op["path"] = kube::Json::string("/webhooks/" + std::to_string(i) + "/clientConfig/caBundle");
    op["value"] = kube::Json::string(encoded);
    patch[n++] = std::move(op);
  }
  if (n == 0) return kube::Done{};
  auto r = client_.patch(kube::resources::kMutatingWebhookConfiguration, "", options_.webhook_configuration,
                         kube::PatchType::JsonPatch, patch);
  if (!r.ok()) return r.error();
  return kube::Done{};
}

}  // namespace vnfpool::op
