#include "vnfpool/observe/health.h"

#include <algorithm>
#include <exception>
#include <utility>

namespace vnfpool::observe {

namespace {

void sortChecks(std::vector<CheckResult>& checks) {
  std::stable_sort(checks.begin(), checks.end(), [](const CheckResult& a, const CheckResult& b) {
    if (a.ok != b.ok) return !a.ok;
    return a.name < b.name;
  });
}

using NamedCheck = std::pair<std::string, std::function<CheckResult()>>;

// Runs outside the lock: checks may take their own locks, or set conditions.
void runChecks(const std::vector<NamedCheck>& checks, std::vector<CheckResult>& out) {
  for (const auto& [name, fn] : checks) {
    CheckResult c;
    try {
      c = fn();
    } catch (const std::exception& e) {
      c = {name, false, e.what()};
    } catch (...) {
      c = {name, false, "unknown exception"};
    }
    c.name = name;
    out.push_back(std::move(c));
  }
}

}  // namespace

std::string Report::body(bool verbose) const {
  if (ok && !verbose) return "ok\n";
  std::string out;
  for (const auto& c : checks) {
    out += c.ok ? "[+]" : "[-]";
    out += c.name;
    if (c.ok) {
      out += " ok";
    } else {
      out += " failed";
      if (!c.detail.empty()) {
        out += ": ";
        out += c.detail;
      }
    }
    out += '\n';
  }
  out += ok ? "ok\n" : "failed\n";
  return out;
}

void Health::setCondition(std::string_view name, bool ok, std::string detail) {
  std::lock_guard lock(mutex_);
  auto it = conditions_.find(name);
  if (it == conditions_.end()) it = conditions_.emplace(std::string(name), CheckResult{std::string(name)}).first;
  it->second.ok = ok;
  it->second.detail = std::move(detail);
}

void Health::clearCondition(std::string_view name) {
  std::lock_guard lock(mutex_);
  if (auto it = conditions_.find(name); it != conditions_.end()) conditions_.erase(it);
}

void Health::addReadinessCheck(std::string name, std::function<CheckResult()> check) {
  std::lock_guard lock(mutex_);
  checks_.emplace_back(std::move(name), std::move(check));
}

void Health::addLivenessCheck(std::string name, std::function<CheckResult()> check) {
  std::lock_guard lock(mutex_);
  liveness_checks_.emplace_back(std::move(name), std::move(check));
}

void Health::setDraining() {
  std::lock_guard lock(mutex_);
  draining_ = true;
}

void Health::markBroken(std::string reason) {
  std::lock_guard lock(mutex_);
  if (broken_) return;
  broken_ = true;
  broken_reason_ = std::move(reason);
}

Report Health::readiness() const {
  Report r;
  std::vector<NamedCheck> checks;
  {
    std::lock_guard lock(mutex_);
    if (broken_) r.checks.push_back({"alive", false, broken_reason_});
    if (draining_) r.checks.push_back({"draining", false, "shutting down"});
    for (const auto& [name, c] : conditions_) r.checks.push_back(c);
    checks = liveness_checks_;
    checks.insert(checks.end(), checks_.begin(), checks_.end());
  }
  runChecks(checks, r.checks);
  r.ok = std::all_of(r.checks.begin(), r.checks.end(), [](const CheckResult& c) { return c.ok; });
  sortChecks(r.checks);
  return r;
}

Report Health::liveness() const {
  Report r;
  std::vector<NamedCheck> checks;
  {
    std::lock_guard lock(mutex_);
    r.checks.push_back({"alive", !broken_, broken_reason_});
    checks = liveness_checks_;
  }
  runChecks(checks, r.checks);
  r.ok = std::all_of(r.checks.begin(), r.checks.end(), [](const CheckResult& c) { return c.ok; });
  sortChecks(r.checks);
  return r;
}

}  // namespace vnfpool::observe
