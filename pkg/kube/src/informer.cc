#include "vnfpool/kube/informer.h"

#include <random>

namespace vnfpool::kube {

std::string objectKey(const Json& object) {
  const auto ns = getString(object, "metadata.namespace").value_or("");
  const auto name = getString(object, "metadata.name").value_or("");
  return ns.empty() ? name : ns + "/" + name;
}

Informer::Informer(Client& client, ResourceRef resource, InformerOptions options)
    : client_(client), resource_(std::move(resource)), options_(std::move(options)) {}

void Informer::addHandlers(InformerHandlers handlers) { handlers_.push_back(std::move(handlers)); }

bool Informer::hasSynced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

bool Informer::waitForSync(std::stop_token stop) const {
  std::unique_lock lock(mu_);
  synced_cv_.wait(lock, stop, [this] { return synced_; });
  return synced_;
}

std::optional<Json> Informer::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

std::vector<Json> Informer::list() const {
  std::lock_guard lock(mu_);
  std::vector<Json> out;
  for (const auto& [k, v] : cache_) out.push_back(v);
  return out;
}

std::vector<std::string> Informer::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : cache_) out.push_back(k);
  return out;
}

std::string Informer::lastResourceVersion() const {
  std::lock_guard lock(mu_);
  return last_rv_;
}

InformerStats Informer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Status Informer::listAndReplace(const std::string& resource_version) {
  ListOptions o;
  o.label_selector = options_.label_selector;
  o.field_selector = options_.field_selector;
  o.resource_version = resource_version;
  o.limit = 500;
  auto listed = client_.listAll(resource_, options_.namespace_name, o);
  if (!listed.ok()) return listed.error();
  std::map<std::string, Json> fresh;
  for (auto& item : listed.value().items) fresh.emplace(objectKey(item), std::move(item));
  // Diff against the cache so handlers see what changed while we were not watching.
  std::vector<Json> added;
  std::vector<std::pair<Json, Json>> updated;
  std::vector<Json> deleted;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, obj] : fresh) {
      auto it = cache_.find(key);
      if (it == cache_.end()) {
        added.push_back(obj);
      } else if (getString(it->second, "metadata.resourceVersion") != getString(obj, "metadata.resourceVersion")) {
        updated.emplace_back(it->second, obj);
      }
    }
    for (const auto& [key, obj] : cache_) {
      if (fresh.count(key) == 0) deleted.push_back(obj);
    }
    cache_ = std::move(fresh);
    last_rv_ = listed.value().resource_version;
    ++stats_.lists;
    synced_ = true;
  }
  synced_cv_.notify_all();
  for (const auto& h : handlers_) {
    for (const auto& o2 : added) {
      if (h.on_add) h.on_add(o2);
    }
    for (const auto& [old_obj, new_obj] : updated) {
      if (h.on_update) h.on_update(old_obj, new_obj);
    }
    for (const auto& o2 : deleted) {
      if (h.on_delete) h.on_delete(o2);
    }
  }
  return Done{};
}

void Informer::apply(const WatchEvent& event) {
  if (event.type == WatchEvent::Type::Bookmark) {
    std::lock_guard lock(mu_);
    if (auto rv = getString(event.object, "metadata.resourceVersion")) last_rv_ = *rv;
    return;
  }
  const auto key = objectKey(event.object);
  std::optional<Json> old;
  {
    std::lock_guard lock(mu_);
    if (auto rv = getString(event.object, "metadata.resourceVersion")) last_rv_ = *rv;
    auto it = cache_.find(key);
    if (it != cache_.end()) old = it->second;
    if (event.type == WatchEvent::Type::Deleted) {
      cache_.erase(key);
    } else {
      // The same uid and resourceVersion again (a re-delivered event) is not a change.
      if (old && getString(*old, "metadata.uid") == getString(event.object, "metadata.uid") &&
          getString(*old, "metadata.resourceVersion") == getString(event.object, "metadata.resourceVersion")) {
        return;
      }
      cache_[key] = event.object;
    }
  }
  for (const auto& h : handlers_) {
    if (event.type == WatchEvent::Type::Deleted) {
      if (h.on_delete) h.on_delete(old ? *old : event.object);
    } else if (old) {
      if (h.on_update) h.on_update(*old, event.object);
    } else if (h.on_add) {
      h.on_add(event.object);
    }
  }
}

Status Informer::watchOnce(std::stop_token stop) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  const auto lo = options_.min_watch_timeout.count();
  const auto hi = std::max(options_.max_watch_timeout.count(), lo);
  std::uniform_int_distribution<long> pick(lo, hi);
  WatchOptions o;
  o.resource_version = lastResourceVersion();
  o.label_selector = options_.label_selector;
  o.field_selector = options_.field_selector;
  o.allow_bookmarks = true;
  o.timeout = std::chrono::seconds(pick(rng));
  // Resync runs between watch streams, so a stream must not outlast the resync period.
  if (options_.resync_period.count() > 0) o.timeout = std::min(o.timeout, options_.resync_period);
  {
    std::lock_guard lock(mu_);
    ++stats_.watches;
  }
  auto last = client_.watch(resource_, options_.namespace_name, o, [this](const WatchEvent& e) {
    apply(e);
    return true;
  }, stop);
  if (!last.ok()) return last.error();
  return Done{};
}

void Informer::backoff(std::stop_token stop, std::chrono::milliseconds& delay) {
  std::mutex m;
  std::unique_lock lock(m);
  std::condition_variable_any cv;
  cv.wait_for(lock, stop, delay, [] { return false; });   // returns early when stop is requested
  delay = std::min(delay * 2, options_.max_backoff);
}

void Informer::resync() {
  for (const auto& obj : list()) {
    for (const auto& h : handlers_) {
      if (h.on_update) h.on_update(obj, obj);
    }
  }
}

void Informer::run(std::stop_token stop) {
  auto delay = options_.initial_backoff;
  bool need_list = true;
  std::string list_rv = "0";   // the first list may come from any cache; relists after 410 must not
  auto next_resync = std::chrono::steady_clock::now() + options_.resync_period;
  while (!stop.stop_requested()) {
    if (need_list) {
      auto listed = listAndReplace(list_rv);
      if (!listed.ok()) {
        {
          std::lock_guard lock(mu_);
          ++stats_.errors;
        }
        backoff(stop, delay);
        continue;
      }
      need_list = false;
      delay = options_.initial_backoff;
    }
    if (options_.resync_period.count() > 0 && std::chrono::steady_clock::now() >= next_resync) {
      resync();
      next_resync = std::chrono::steady_clock::now() + options_.resync_period;
    }
    auto watched = watchOnce(stop);
    if (watched.ok()) {
      delay = options_.initial_backoff;
      continue;   // the server ended the stream at its timeout: watch again from the last version
    }
    const Error& e = watched.error();
    if (e.kind == ErrorKind::Cancelled) break;
    if (e.expired()) {
      std::lock_guard lock(mu_);
      ++stats_.expired;
      need_list = true;
      list_rv = "";   // consistent read from the server, like client-go after "too old"
      continue;
    }
    {
      std::lock_guard lock(mu_);
      ++stats_.errors;
    }
    backoff(stop, delay);
  }
}

}  // namespace vnfpool::kube
