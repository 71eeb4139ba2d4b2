// Runs tests/kube/fake-apiserver as a child process for C++ tests. The server reports its URLs through
// an inherited pipe (--ready-fd), so starting needs no polling; the destructor stops it (SIGTERM, wait).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "vnfpool/kube/client.h"
#include "vnfpool/kube/config.h"

namespace vnfpool::kube::test {

class FakeServer {
 public:
  /// Starts the server with extra flags; throws std::runtime_error when it cannot start.
  explicit FakeServer(std::vector<std::string> extra_args = {});
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  const std::string& httpUrl() const { return http_; }
  const std::string& httpsUrl() const { return https_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& caFile() const { return ca_; }
  const std::string& workdir() const { return workdir_; }

  /// Plain-HTTP configuration without credentials (for the test-control endpoints and simple tests).
  Config httpConfig() const;
  /// Calls a /fake/v1/<what> control endpoint; returns the parsed JSON answer.
  Json control(const std::string& method, const std::string& what, const Json& body = Json::null()) const;
  /// Requests the server recorded since the last clear, optionally only those whose path ends with `suffix`.
  std::vector<Json> requests(const std::string& method = "", const std::string& suffix = "") const;

 private:
  pid_t pid_ = -1;
  std::string workdir_, http_, https_, kubeconfig_, ca_;
};

}  // namespace vnfpool::kube::test
