#include "vnfpool/kube/controller.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace vnfpool::kube {

ObjectKey ObjectKey::parse(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

ObjectKey ObjectKey::of(const Json& object) {
  return {getString(object, "metadata.namespace").value_or(""), getString(object, "metadata.name").value_or("")};
}

Controller::Controller(Reconciler reconciler, int workers, ItemBackoff backoff, BucketLimiter bucket)
    : reconciler_(std::move(reconciler)), workers_(std::max(1, workers)), queue_(std::move(backoff), std::move(bucket)) {}

void Controller::watch(Informer& informer, std::function<std::vector<ObjectKey>(const Json&)> map) {
  auto push = [this, map](const Json& o) {
    for (const auto& k : map(o)) enqueue(k);
  };
  informer.addHandlers({push, [push](const Json&, const Json& now) { push(now); }, push});
}

void Controller::enqueue(const ObjectKey& key) {
  if (!key.name.empty()) queue_.add(key.str());
}

ControllerStats Controller::stats() const {
  return {reconciles_.load(), errors_.load(), requeues_after_.load()};
}

void Controller::work() {
  while (auto key = queue_.get()) {
    ++reconciles_;
    auto result = reconciler_(ObjectKey::parse(*key));
    if (!result.ok()) {
      ++errors_;
      queue_.addRateLimited(*key);
    } else {
      queue_.forget(*key);
      if (result.value().delay) {
        ++requeues_after_;
        queue_.addAfter(*key, *result.value().delay);
      }
    }
    queue_.done(*key);
  }
}

void Controller::run(std::stop_token stop) {
  std::vector<std::jthread> workers;
  for (int i = 0; i < workers_; ++i) workers.emplace_back([this] { work(); });
  std::mutex m;
  std::unique_lock lock(m);
  std::condition_variable_any cv;
  cv.wait(lock, stop, [] { return false; });   // until stop is requested
  queue_.shutDown();
}

}  // namespace vnfpool::kube
