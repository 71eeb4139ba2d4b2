// Process metrics read from /proc at collection time (Linux). Private to vnfpool_observe.
#pragma once

#include <optional>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace vnfpool::observe::detail {

/// process_* metrics with the names of the Prometheus client libraries' process collectors. Families
/// whose source cannot be read are left out rather than reported as zero.
class ProcessCollector final : public prometheus::Collectable {
 public:
  ProcessCollector();
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // Constant for the life of the process, and /proc/stat (for the boot time) is long on big machines:
  // read once.
  std::optional<double> start_time_seconds_;
};

}  // namespace vnfpool::observe::detail
