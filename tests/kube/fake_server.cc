#include "fake_server.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

extern char** environ;

namespace vnfpool::kube::test {

FakeServer::FakeServer(std::vector<std::string> extra_args) {
  char tmpl[] = "/tmp/vnfpool-kube-fake-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  workdir_ = tmpl;
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  // --exit-with-parent: a test process that aborts (a sanitizer report, a signal) never orphans it.
  std::vector<std::string> args{VNFPOOL_PYTHON, VNFPOOL_FAKE_APISERVER, "--workdir", workdir_, "--ready-fd",
                                std::to_string(fds[1]), "--exit-with-parent"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = workdir_ + "/server.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const int rc = posix_spawn(&pid_, VNFPOOL_PYTHON, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start the fake API server");
  }
  std::string line;
  char c;
  while (true) {
    const ssize_t n = read(fds[0], &c, 1);
    if (n == 1) {
      if (c == '\n') break;
      line.push_back(c);
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  auto info = parseJson(line);
  if (!info.ok()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    throw std::runtime_error("the fake API server did not start; see " + log);
  }
  http_ = getString(info.value(), "http").value_or("");
  https_ = getString(info.value(), "https").value_or("");
  kubeconfig_ = getString(info.value(), "kubeconfig").value_or("");
  ca_ = getString(info.value(), "ca").value_or("");
}

FakeServer::~FakeServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(workdir_, ec);
}

Config FakeServer::httpConfig() const {
  Config c;
  c.server = http_;
  c.qps = 0;   // tests are not rate limited unless they say so
  return c;
}

Json FakeServer::control(const std::string& method, const std::string& what, const Json& body) const {
  auto transport = makeCpprestTransport(httpConfig());
  HttpRequest req{method, "/fake/v1/" + what};
  if (!body.is_null()) {
    req.body = toString(body);
    req.content_type = "application/json";
  }
  auto resp = transport.value()->send(req, "");
  if (!resp.ok()) throw std::runtime_error("control " + what + ": " + resp.error().describe());
  auto doc = parseJson(resp.value().body);
  if (!doc.ok()) throw std::runtime_error("control " + what + ": bad answer");
  return doc.value();
}

std::vector<Json> FakeServer::requests(const std::string& method, const std::string& suffix) const {
  std::vector<Json> out;
  const auto all = control("GET", "requests");
  for (const auto& r : all.at("requests").as_array()) {
    const auto m = getString(r, "method").value_or("");
    const auto p = getString(r, "path").value_or("");
    if (!method.empty() && m != method) continue;
    if (!suffix.empty() && (p.size() < suffix.size() || p.compare(p.size() - suffix.size(), suffix.size(), suffix) != 0)) {
      continue;
    }
    out.push_back(r);
  }
  return out;
}

}  // namespace vnfpool::kube::test

// cpprestsdk finishes a failed request (closing its response stream, releasing the request message and
// the pplx tasks chained to them) on its own thread pool; when the process exits right after such a
// failure (ClientTransportTest), that pending work is still queued and LeakSanitizer reports it. These
// are library shutdown artefacts, so in this test binary allocations made inside libcpprest are not
// reported. Our own allocations (made from our frames, not libcpprest's) are still checked.
extern "C" const char* __lsan_default_suppressions() { return "leak:libcpprest.so\n"; }
