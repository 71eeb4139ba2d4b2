// Process metrics read from /proc at collection time (Linux). Private to vnfpool_observe.
#pragma once

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace vnfpool::observe::detail {

/// process_* metrics with the names of the Prometheus client libraries' process collectors. Families
/// whose source cannot be read are left out rather than reported as zero.
class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace vnfpool::observe::detail
