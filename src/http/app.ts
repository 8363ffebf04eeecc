import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { bearerToken } from "./auth.js";
import type { HttpDeps } from "./deps.js";
import { ApiError, errorJson, handleError } from "./errors.js";
import { eventsRoutes } from "./routes/events.js";
import { identifyRoutes } from "./routes/identify.js";
import { speakersRoutes } from "./routes/speakers.js";
import { healthRoutes, metricsRoutes } from "./routes/status.js";

/** Work to do when the server carrying an app closes (ending SSE streams); see startHttpServer. */
const shutdownHooks = new WeakMap<object, () => void>();

export function runShutdownHook(app: object): void {
  shutdownHooks.get(app)?.();
}

/**
 * The HTTP API: /health, /metrics, /api/speakers, /api/identify, /api/events. Errors are JSON
 * `{"error": {"code", "message"}}` from one onError; the bearer token (when configured) guards
 * everything but /health; the body limit is checked before any body is read.
 */
export function createHttpApp(deps: HttpDeps): Hono {
  const log = deps.logger.child("http");
  const shutdown = new AbortController();
  const app = new Hono();
  shutdownHooks.set(app, () => shutdown.abort());

  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    log.debug("request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
    });
  });

  if (deps.config.token !== undefined && deps.config.token !== "") {
    const auth = bearerToken(deps.config.token);
    app.use("/api/*", auth);
    app.use("/metrics", auth);
  }

  const limit = deps.config.bodyLimitBytes;
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: limit,
      onError: () => {
        throw new ApiError(413, "payload_too_large", `the request body exceeds the limit of ${limit} bytes`);
      },
    }),
  );

  app.route("/health", healthRoutes(deps));
  app.route("/metrics", metricsRoutes(deps));
  app.route("/api/speakers", speakersRoutes({ ...deps, logger: log }));
  app.route("/api/identify", identifyRoutes(deps));
  app.route("/api/events", eventsRoutes({ ...deps, logger: log }, shutdown.signal));

  app.notFound((c) => errorJson(c, 404, "not_found", `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => handleError(err, c, log));
  return app;
}
