import { Hono } from "hono";
import { quoteInput } from "../util/quote.js";
import { bearerToken } from "./auth.js";
import type { HttpDeps } from "./deps.js";
import { errorJson, handleError, settleUnreadBody } from "./errors.js";
import { allowedHostNames, hostGuard, sameOriginGuard } from "./guard.js";
import { commandsRoutes } from "./routes/commands.js";
import { eventsRoutes } from "./routes/events.js";
import { identifyRoutes } from "./routes/identify.js";
import { listeningRoutes } from "./routes/listening.js";
import { pageRoutes } from "./routes/page.js";
import { speakersRoutes } from "./routes/speakers.js";
import { healthRoutes, metricsRoutes } from "./routes/status.js";
import { timelineRoutes } from "./routes/timeline.js";
import { voicesRoutes } from "./routes/voices.js";
import { UploadIntake } from "./upload-intake.js";

/** Work to do when the server carrying an app closes (ending SSE streams); see startHttpServer. */
const shutdownHooks = new WeakMap<object, () => void>();

export function runShutdownHook(app: object): void {
  shutdownHooks.get(app)?.();
}

/**
 * The web page (/ and /assets) and the HTTP API: /health, /metrics, /api/speakers, /api/identify, /api/events, /api/listening, /api/commands, /api/voices, /api/timeline. Errors are JSON
 * `{"error": {"code", "message"}}` from one onError; the bearer token (when configured) guards
 * everything but /health; requests must name this daemon (Host) and state changes must not come from
 * another site's page; bodies are bounded in size (and uploads in time) as they are read.
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

  // Before anything else: a request for another name, or from another site's page, is not ours to serve.
  app.use(
    hostGuard(allowedHostNames({ boundHost: deps.config.host, allowedHosts: deps.config.allowedHosts })),
  );
  app.use(sameOriginGuard());

  if (deps.config.token !== undefined && deps.config.token !== "") {
    const auth = bearerToken(deps.config.token);
    app.use("/api/*", auth);
    app.use("/metrics", auth);
  }

  // Bodies are bounded where they are read: uploads by the intake, JSON by jsonBodyLimit on each JSON route.
  const uploads = new UploadIntake({
    maxBodyBytes: deps.config.bodyLimitBytes,
    maxInFlight: deps.config.maxUploadsInFlight,
    minBytesPerSecond: deps.config.minUploadBytesPerSecond,
    graceMs: deps.config.uploadGraceMs,
  });

  app.route("/", pageRoutes());
  app.route("/health", healthRoutes(deps));
  app.route("/metrics", metricsRoutes(deps));
  app.route("/api/speakers", speakersRoutes({ ...deps, logger: log }, uploads));
  app.route("/api/identify", identifyRoutes(deps, uploads));
  app.route("/api/listening", listeningRoutes(deps));
  app.route("/api/events", eventsRoutes({ ...deps, logger: log }, shutdown.signal));
  app.route("/api/commands", commandsRoutes(deps));
  app.route("/api/voices", voicesRoutes(deps));
  app.route("/api/timeline", timelineRoutes(deps));

  app.notFound((c) =>
    settleUnreadBody(
      c,
      errorJson(c, 404, "not_found", `no route for ${c.req.method} ${quoteInput(c.req.path)}`),
    ),
  );
  app.onError((err, c) => handleError(err, c, log));
  return app;
}
