import { Hono } from "hono";
import { Registry } from "prom-client";
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
  app.get("/", async (c) =>
    c.body(await deps.metrics(), 200, { "Content-Type": Registry.PROMETHEUS_CONTENT_TYPE }),
  );
  return app;
}
