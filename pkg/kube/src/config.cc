#include "vnfpool/kube/config.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <fstream>
#include <map>
#include <sstream>

#include "base64.h"
#include "vnfpool/kube/json.h"

extern char** environ;

namespace vnfpool::kube {

namespace {

Error configError(std::string message) { return Error{ErrorKind::Config, 0, "", std::move(message)}; }

Result<std::string> readFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return configError("cannot read " + what + " " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

/// Parses "2026-01-01T10:00:00Z" (with optional fraction and offset Z only).
std::optional<std::chrono::system_clock::time_point> parseTime(const std::string& text) {
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

std::optional<std::string> systemGetenv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::string bracketHost(const std::string& host) {
  if (host.find(':') != std::string::npos && (host.empty() || host.front() != '[')) return "[" + host + "]";
  return host;
}

// ---- credentials ------------------------------------------------------------------------------------

FileTokenCredentials::FileTokenCredentials(std::string path, std::chrono::seconds period, Now now)
    : path_(std::move(path)), period_(period), now_(std::move(now)) {}

Result<std::string> FileTokenCredentials::authorization(bool refresh) {
  std::lock_guard lock(mu_);
  const auto now = now_();
  if (!refresh && !cached_.empty() && now - read_at_ < period_) return "Bearer " + cached_;
  auto text = readFile(path_, "token file");
  if (!text.ok()) {
    // Keep serving the last good token when a rotation is momentarily unreadable.
    if (!cached_.empty() && !refresh) return "Bearer " + cached_;
    return text.error();
  }
  auto token = trim(text.value());
  if (token.empty()) return configError("token file " + path_ + " is empty");
  cached_ = std::move(token);
  read_at_ = now;
  return "Bearer " + cached_;
}

Result<ExecCredentials::Output> ExecCredentials::run() {
  std::lock_guard lock(mu_);
  auto out = invoke();
  if (out.ok()) cached_ = out.value();
  return out;
}

Result<ExecCredentials::Output> ExecCredentials::invoke() {
  int out_pipe[2];
  if (pipe(out_pipe) != 0) return configError("exec plugin " + spec_.command + ": pipe: " + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  posix_spawn_file_actions_addclose(&actions, out_pipe[1]);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : spec_.env) env_strings.push_back(k + "=" + v);
  env_strings.push_back("KUBERNETES_EXEC_INFO={\"apiVersion\":\"" + spec_.api_version +
                        "\",\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false}}");
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> arg_strings{spec_.command};
  arg_strings.insert(arg_strings.end(), spec_.args.begin(), spec_.args.end());
  std::vector<char*> argv;
  for (auto& s : arg_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, spec_.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    return configError("exec plugin " + spec_.command + " could not be started: " + std::strerror(rc));
  }
  std::string output;
  char buf[4096];
  while (true) {
    const ssize_t n = read(out_pipe[0], buf, sizeof buf);
    if (n > 0) {
      output.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(out_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return configError("exec plugin " + spec_.command + " failed (exit status " +
                       std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
  }
  auto doc = parseJson(output);
  if (!doc.ok()) return configError("exec plugin " + spec_.command + " printed no valid ExecCredential JSON");
  if (getString(doc.value(), "kind").value_or("") != "ExecCredential") {
    return configError("exec plugin " + spec_.command + " printed JSON that is not an ExecCredential");
  }
  Output out;
  out.token = getString(doc.value(), "status.token").value_or("");
  out.client_certificate_pem = getString(doc.value(), "status.clientCertificateData").value_or("");
  out.client_key_pem = getString(doc.value(), "status.clientKeyData").value_or("");
  if (auto t = getString(doc.value(), "status.expirationTimestamp")) out.expires = parseTime(*t);
  if (out.token.empty() && out.client_certificate_pem.empty()) {
    return configError("exec plugin " + spec_.command + " returned neither a token nor a client certificate");
  }
  return out;
}

Result<std::string> ExecCredentials::authorization(bool refresh) {
  std::lock_guard lock(mu_);
  const bool stale = !cached_ || (cached_->expires && std::chrono::system_clock::now() >= *cached_->expires);
  if (refresh || stale) {
    auto out = invoke();
    if (!out.ok()) return out.error();
    cached_ = std::move(out).value();
  }
  return cached_->token.empty() ? std::string() : "Bearer " + cached_->token;
}

// ---- in-cluster -------------------------------------------------------------------------------------

Result<Config> loadInCluster(const InClusterPaths& paths, const Getenv& getenv) {
  const auto host = getenv("KUBERNETES_SERVICE_HOST");
  const auto port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port || host->empty() || port->empty()) {
    return configError("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  Config config;
  config.server = "https://" + bracketHost(*host) + ":" + *port;
  auto ca = readFile(paths.ca, "service-account CA");
  if (!ca.ok()) return ca.error();
  config.ca_pem = std::move(ca).value();
  auto creds = std::make_shared<FileTokenCredentials>(paths.token);
  if (auto first = creds->authorization(false); !first.ok()) return first.error();
  config.credentials = std::move(creds);
  if (auto ns = readFile(paths.namespace_file, "namespace file"); ns.ok() && !trim(ns.value()).empty()) {
    config.namespace_name = trim(ns.value());
  }
  return config;
}

// ---- kubeconfig -------------------------------------------------------------------------------------

namespace {

struct Entry {
  YAML::Node node;
  std::filesystem::path dir;   // directory of the file that defined it
};

struct Merged {
  std::map<std::string, Entry> clusters, contexts, users;
  std::string current_context;
};

std::string resolve(const std::filesystem::path& dir, const std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (dir / path).lexically_normal().string();
}

std::string scalar(const YAML::Node& node, const char* key) {
  const auto v = node[key];
  if (!v || !v.IsScalar()) return "";
  return v.as<std::string>();
}

Result<std::string> fileOrData(const Entry& e, const char* file_key, const char* data_key, const std::string& what) {
  const auto data = scalar(e.node, data_key);
  if (!data.empty()) {
    auto decoded = detail::base64Decode(data);
    if (!decoded) return configError(std::string(data_key) + " is not valid base64");
    return *decoded;
  }
  const auto file = scalar(e.node, file_key);
  if (file.empty()) return std::string();
  return readFile(resolve(e.dir, file), what);
}

Status mergeFile(const std::string& path, Merged& merged) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return configError("cannot read kubeconfig " + path);
  } catch (const YAML::Exception& e) {
    return configError("malformed kubeconfig " + path + ": " + e.what());
  }
  if (doc.IsNull()) return Done{};
  if (!doc.IsMap()) return configError("malformed kubeconfig " + path + ": the document is not a mapping");
  const auto dir = std::filesystem::absolute(path).parent_path();
  if (merged.current_context.empty()) merged.current_context = scalar(doc, "current-context");
  const std::pair<const char*, std::map<std::string, Entry>*> sections[] = {
      {"clusters", &merged.clusters}, {"contexts", &merged.contexts}, {"users", &merged.users}};
  for (const auto& [section, target] : sections) {
    const auto list = doc[section];
    if (!list || list.IsNull()) continue;
    if (!list.IsSequence()) return configError("malformed kubeconfig " + path + ": " + section + " is not a list");
    for (const auto& item : list) {
      const auto name = item.IsMap() ? scalar(item, "name") : "";
      if (name.empty()) return configError("malformed kubeconfig " + path + ": an entry of " + section + " has no name");
      const char* inner = std::string_view(section) == "clusters" ? "cluster"
                          : std::string_view(section) == "contexts" ? "context" : "user";
      const auto body = item[inner];
      target->emplace(name, Entry{body && body.IsMap() ? body : YAML::Node(YAML::NodeType::Map), dir});   // first wins
    }
  }
  return Done{};
}

std::vector<std::string> splitPaths(const std::string& list) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    const auto colon = list.find(':', pos);
    auto item = list.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    if (!item.empty()) out.push_back(item);
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  return out;
}

}  // namespace

namespace {
Result<Config> loadKubeconfigUnchecked(const KubeconfigOptions& options, const Getenv& getenv);
}  // namespace

Result<Config> loadKubeconfig(const KubeconfigOptions& options, const Getenv& getenv) {
  // yaml-cpp throws on conversions of unexpected node types (a map where a string belongs); such
  // files are malformed, which is a Config error, never an exception for the caller.
  try {
    return loadKubeconfigUnchecked(options, getenv);
  } catch (const YAML::Exception& e) {
    return configError(std::string("malformed kubeconfig: ") + e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    return configError(std::string("kubeconfig: ") + e.what());
  }
}

namespace {
Result<Config> loadKubeconfigUnchecked(const KubeconfigOptions& options, const Getenv& getenv) {
  std::vector<std::string> files = options.files;
  if (files.empty()) {
    if (auto env = getenv("KUBECONFIG"); env && !env->empty()) {
      files = splitPaths(*env);
    } else if (auto home = getenv("HOME")) {
      files.push_back(*home + "/.kube/config");
    }
  }
  if (files.empty()) return configError("no kubeconfig: set KUBECONFIG or create ~/.kube/config");
  Merged merged;
  bool any = false;
  for (const auto& f : files) {
    // client-go skips files of a KUBECONFIG list that do not exist, but not an explicitly named one.
    if (!std::filesystem::exists(f) && options.files.empty() && files.size() > 1) continue;
    if (auto st = mergeFile(f, merged); !st.ok()) return st.error();
    any = true;
  }
  if (!any) return configError("none of the kubeconfig files exist");
  const auto context_name = options.context.empty() ? merged.current_context : options.context;
  if (context_name.empty()) return configError("kubeconfig has no current-context and none was given");
  const auto ctx = merged.contexts.find(context_name);
  if (ctx == merged.contexts.end()) return configError("context \"" + context_name + "\" not found in kubeconfig");
  const auto cluster_name = scalar(ctx->second.node, "cluster");
  const auto cluster = merged.clusters.find(cluster_name);
  if (cluster == merged.clusters.end()) {
    return configError("cluster \"" + cluster_name + "\" of context \"" + context_name + "\" not found");
  }
  Config config;
  config.server = scalar(cluster->second.node, "server");
  if (config.server.empty()) return configError("cluster \"" + cluster_name + "\" has no server");
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return configError("cluster \"" + cluster_name + "\": server must be an http:// or https:// URL");
  }
  if (!scalar(cluster->second.node, "proxy-url").empty()) {
    return configError("cluster \"" + cluster_name + "\": proxy-url is not supported");
  }
  auto ca = fileOrData(cluster->second, "certificate-authority", "certificate-authority-data", "CA file");
  if (!ca.ok()) return ca.error();
  config.ca_pem = std::move(ca).value();
  config.insecure_skip_tls_verify = scalar(cluster->second.node, "insecure-skip-tls-verify") == "true";
  config.tls_server_name = scalar(cluster->second.node, "tls-server-name");
  if (auto ns = scalar(ctx->second.node, "namespace"); !ns.empty()) config.namespace_name = ns;

  const auto user_name = scalar(ctx->second.node, "user");
  if (user_name.empty()) return config;   // anonymous
  const auto user = merged.users.find(user_name);
  if (user == merged.users.end()) return configError("user \"" + user_name + "\" not found in kubeconfig");
  const Entry& u = user->second;
  if (u.node["auth-provider"]) {
    return configError("user \"" + user_name + "\": auth-provider \"" + scalar(u.node["auth-provider"], "name") +
                       "\" is not supported; use an exec credential plugin instead");
  }
  auto cert = fileOrData(u, "client-certificate", "client-certificate-data", "client certificate");
  if (!cert.ok()) return cert.error();
  auto key = fileOrData(u, "client-key", "client-key-data", "client key");
  if (!key.ok()) return key.error();
  config.client_certificate_pem = std::move(cert).value();
  config.client_key_pem = std::move(key).value();
  if (config.client_certificate_pem.empty() != config.client_key_pem.empty()) {
    return configError("user \"" + user_name + "\": client certificate and key must be given together");
  }
  if (const auto token = scalar(u.node, "token"); !token.empty()) {
    config.credentials = std::make_shared<StaticCredentials>("Bearer " + token);
  } else if (const auto token_file = scalar(u.node, "tokenFile"); !token_file.empty()) {
    auto creds = std::make_shared<FileTokenCredentials>(resolve(u.dir, token_file));
    if (auto first = creds->authorization(false); !first.ok()) return first.error();
    config.credentials = std::move(creds);
  } else if (const auto exec = u.node["exec"]; exec && exec.IsMap()) {
    ExecCredentials::Spec spec;
    spec.command = scalar(exec, "command");
    if (spec.command.empty()) return configError("user \"" + user_name + "\": exec has no command");
    if (spec.command.find('/') != std::string::npos) spec.command = resolve(u.dir, spec.command);
    if (auto v = scalar(exec, "apiVersion"); !v.empty()) spec.api_version = v;
    if (spec.api_version != "client.authentication.k8s.io/v1" && spec.api_version != "client.authentication.k8s.io/v1beta1") {
      return configError("user \"" + user_name + "\": exec apiVersion " + spec.api_version + " is not supported");
    }
    if (const auto args = exec["args"]; args && args.IsSequence()) {
      for (const auto& a : args) spec.args.push_back(a.as<std::string>());
    }
    if (const auto env = exec["env"]; env && env.IsSequence()) {
      for (const auto& e : env) spec.env.emplace_back(scalar(e, "name"), scalar(e, "value"));
    }
    auto creds = std::make_shared<ExecCredentials>(std::move(spec));
    auto first = creds->run();
    if (!first.ok()) return first.error();
    if (!first.value().client_certificate_pem.empty()) {
      config.client_certificate_pem = first.value().client_certificate_pem;
      config.client_key_pem = first.value().client_key_pem;
    }
    config.credentials = std::move(creds);
  } else if (const auto name = scalar(u.node, "username"); !name.empty()) {
    config.credentials = std::make_shared<StaticCredentials>(
        "Basic " + detail::base64Encode(name + ":" + scalar(u.node, "password")));
  }
  return config;
}

}  // namespace

Result<Config> loadDefault(const Getenv& getenv) {
  if (auto host = getenv("KUBERNETES_SERVICE_HOST"); host && !host->empty()) return loadInCluster({}, getenv);
  return loadKubeconfig({}, getenv);
}

}  // namespace vnfpool::kube
