#include "vnfpool/observe/endpoints.h"

#include <string>

namespace vnfpool::observe {

void serveMetrics(HttpServer& server, const Metrics& metrics) {
  server.route("GET", "/metrics", [&metrics](const HttpRequest&) {
    return HttpResponse{200, std::string(kMetricsContentType), metrics.render()};
  });
}

void serveProbes(HttpServer& server, const Health& health) {
  auto answer = [](const Report& report, const HttpRequest& req) {
    return HttpResponse{report.ok ? 200U : 503U, "text/plain; charset=utf-8", report.body(req.hasQueryParam("verbose"))};
  };
  server.route("GET", "/healthz", [&health, answer](const HttpRequest& req) { return answer(health.liveness(), req); });
  server.route("GET", "/readyz", [&health, answer](const HttpRequest& req) { return answer(health.readiness(), req); });
}

}  // namespace vnfpool::observe
