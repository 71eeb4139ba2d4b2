// The routes every daemon serves: GET /metrics, /healthz, /readyz.
#pragma once

#include "vnfpool/observe/health.h"
#include "vnfpool/observe/http_server.h"
#include "vnfpool/observe/metrics.h"

namespace vnfpool::observe {

/// GET /metrics: metrics.render() as text/plain; version=0.0.4. `metrics` must outlive the server's
/// activity (see HttpServer); render() is thread-safe, so any io_context will do.
void serveMetrics(HttpServer& server, const Metrics& metrics);

/// GET /healthz: 200 "ok" while alive, 503 with the reason once health.markBroken() was called.
/// GET /readyz: 200 "ok" when ready, 503 listing the failing checks otherwise ("?verbose" lists every
/// check in both cases). Readiness checks registered on `health` run on the server's thread.
/// `health` must outlive the server's activity.
void serveProbes(HttpServer& server, const Health& health);

}  // namespace vnfpool::observe
