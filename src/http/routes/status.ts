import { Hono } from "hono";
import { PROMETHEUS_CONTENT_TYPE } from "../../metrics/prometheus.js";
import type { HttpDeps } from "../deps.js";

/** GET /health: 200 when every component is ok, else 503; always open (no token). */
export function healthRoutes(deps: HttpDeps): Hono {
  const app = new Hono();
  app.get("/", (c) => {
    const report = deps.health();
    return c.json(report, report.status === "ok" ? 200 : 503, { "Cache-Control": "no-store" });
  });
  return app;
}

/** GET /metrics: Prometheus text exposition. */
export function metricsRoutes(deps: HttpDeps): Hono {
  const app = new Hono();
  app.get("/", (c) => c.body(deps.metrics(), 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE }));
  return app;
}
