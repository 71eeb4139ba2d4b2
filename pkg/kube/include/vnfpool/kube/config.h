// Where the API server is and how to authenticate: in-cluster service account or kubeconfig files.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vnfpool/kube/result.h"

namespace vnfpool::kube {

/// Produces the Authorization header value for requests ("Bearer ...", "Basic ..."), or "" for none.
/// Implementations are thread-safe. The value is a secret: never log it or put it in an Error.
class Credentials {
 public:
  virtual ~Credentials() = default;
  /// `refresh` is true after the server answered 401: drop any cached value and read it again.
  virtual Result<std::string> authorization(bool refresh) = 0;
};

/// A fixed bearer token or basic-auth pair from a kubeconfig.
class StaticCredentials final : public Credentials {
 public:
  explicit StaticCredentials(std::string header_value) : value_(std::move(header_value)) {}
  Result<std::string> authorization(bool) override { return value_; }

 private:
  std::string value_;
};

/// A bearer token read from a file that the kubelet rotates (projected service-account tokens).
/// Re-read when older than `period` (client-go uses one minute) and whenever `refresh` is asked.
class FileTokenCredentials final : public Credentials {
 public:
  using Now = std::function<std::chrono::steady_clock::time_point()>;
  explicit FileTokenCredentials(std::string path, std::chrono::seconds period = std::chrono::seconds(60),
                                Now now = [] { return std::chrono::steady_clock::now(); });
  /// Errors (Config) when the file cannot be read or is empty; the message names the file only.
  Result<std::string> authorization(bool refresh) override;

 private:
  std::string path_;
  std::chrono::seconds period_;
  Now now_;
  std::mutex mu_;
  std::string cached_;
  std::chrono::steady_clock::time_point read_at_{};
};

/// A client.authentication.k8s.io ExecCredential plugin from a kubeconfig `users[].user.exec`.
/// Runs the command (with KUBERNETES_EXEC_INFO set), caches the token until
/// status.expirationTimestamp, and runs it again on `refresh`.
class ExecCredentials final : public Credentials {
 public:
  struct Spec {
    std::string command;
    std::vector<std::string> args{};
    std::vector<std::pair<std::string, std::string>> env{};
    std::string api_version = "client.authentication.k8s.io/v1";
  };
  explicit ExecCredentials(Spec spec) : spec_(std::move(spec)) {}
  Result<std::string> authorization(bool refresh) override;

  /// Runs the plugin once more and returns its whole status object (token, client certificate data).
  /// Used at configuration time to pick up client certificates. Errors name the command, never output.
  struct Output {
    std::string token{};
    std::string client_certificate_pem{};
    std::string client_key_pem{};
    std::optional<std::chrono::system_clock::time_point> expires{};
  };
  Result<Output> run();

 private:
  Result<Output> invoke();   // runs the plugin; the caller holds mu_
  Spec spec_;
  std::mutex mu_;
  std::optional<Output> cached_{};
};

/// Everything needed to talk to one API server.
struct Config {
  std::string server{};                 // "https://10.0.0.1:443", "https://[fd00::1]:6443", "http://127.0.0.1:8080"
  std::string ca_pem{};                 // CAs to trust (PEM); empty: the system store
  std::string client_certificate_pem{};
  std::string client_key_pem{};
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name{};        // SNI / verification name when it differs from the host
  std::string namespace_name = "default";
  std::shared_ptr<Credentials> credentials{};   // null: no Authorization header
  std::string user_agent = "vnfpool/0.1";
  double qps = 5.0;                     // client-side rate limit (client-go defaults: 5 qps, burst 10)
  int burst = 10;
  std::chrono::seconds request_timeout{30};     // per request; watches add their own timeout on top
  int max_retries = 5;                  // for 429 / 503 with Retry-After and transient transport errors
};

/// Reads environment variables; tests substitute their own.
using Getenv = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> systemGetenv(const std::string& name);

/// Paths of the service-account files mounted into every Pod.
struct InClusterPaths {
  std::string token = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

/// In-cluster configuration: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (IPv6 literals
/// bracketed), the service-account CA and namespace, and the token file re-read every 60 s and after a
/// 401. Errors (Config) when the variables are unset ("not running in a cluster") or files are missing.
Result<Config> loadInCluster(const InClusterPaths& paths = {}, const Getenv& getenv = systemGetenv);

struct KubeconfigOptions {
  std::vector<std::string> files{};   // empty: $KUBECONFIG (':'-separated), else ~/.kube/config
  std::string context{};              // empty: current-context
};

/// Out-of-cluster configuration from kubeconfig files. Several files merge as client-go does: the first
/// file to set a map entry (cluster, context, user by name) or a scalar (current-context) wins; relative
/// paths resolve against the directory of the file that named them. Supports CA/cert/key as files or
/// *-data, token, tokenFile, username/password, exec plugins and insecure-skip-tls-verify. Errors
/// (Config) on unreadable or malformed files, missing entries, and unsupported auth (auth-provider).
Result<Config> loadKubeconfig(const KubeconfigOptions& options = {}, const Getenv& getenv = systemGetenv);

/// In-cluster when KUBERNETES_SERVICE_HOST is set, otherwise kubeconfig.
Result<Config> loadDefault(const Getenv& getenv = systemGetenv);

/// "[fd00::1]" for IPv6 literals, the host unchanged otherwise.
std::string bracketHost(const std::string& host);

}  // namespace vnfpool::kube
