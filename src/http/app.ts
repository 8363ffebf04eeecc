import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { quoteInput } from "../util/quote.js";
import { bearerToken } from "./auth.js";
import type { HttpDeps } from "./deps.js";
import { ApiError, errorJson, handleError, settleUnreadBody } from "./errors.js";
import { allowedHostNames, hostGuard, sameOriginGuard } from "./guard.js";
import { eventsRoutes } from "./routes/events.js";
import { identifyRoutes } from "./routes/identify.js";
import { listeningRoutes } from "./routes/listening.js";
import { pageRoutes } from "./routes/page.js";
import { speakersRoutes } from "./routes/speakers.js";
import { healthRoutes, metricsRoutes } from "./routes/status.js";

/** Uploads accepted at once: each holds its body (up to bodyLimitBytes) until the models get to it. */
export const DEFAULT_MAX_UPLOADS_IN_FLIGHT = 4;

/** Work to do when the server carrying an app closes (ending SSE streams); see startHttpServer. */
const shutdownHooks = new WeakMap<object, () => void>();

export function runShutdownHook(app: object): void {
  shutdownHooks.get(app)?.();
}

/**
 * The web page (/ and /assets) and the HTTP API: /health, /metrics, /api/speakers, /api/identify, /api/events, /api/listening. Errors are JSON
 * `{"error": {"code", "message"}}` from one onError; the bearer token (when configured) guards
 * everything but /health; requests must name this daemon (Host) and state changes must not come from
 * another site's page; the body limit is checked before any body is read.
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

  // JSON routes hold their bodies to far less (jsonBodyLimit).
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

  // Uploads wait their turn for the models holding their whole body: bound how many may wait.
  const maxUploads = deps.config.maxUploadsInFlight ?? DEFAULT_MAX_UPLOADS_IN_FLIGHT;
  let uploads = 0;
  const uploadSlot: MiddlewareHandler = async (c, next) => {
    if (c.req.method !== "POST") return next();
    if (uploads >= maxUploads) {
      throw new ApiError(
        429,
        "too_many_uploads",
        `${maxUploads} uploads are being processed; try again shortly`,
        {
          "Retry-After": "5",
        },
      );
    }
    uploads++;
    try {
      await next();
    } finally {
      uploads--;
    }
  };
  app.use("/api/identify", uploadSlot);
  app.use("/api/speakers/:id/samples", uploadSlot);

  app.route("/", pageRoutes());
  app.route("/health", healthRoutes(deps));
  app.route("/metrics", metricsRoutes(deps));
  app.route("/api/speakers", speakersRoutes({ ...deps, logger: log }));
  app.route("/api/identify", identifyRoutes(deps));
  app.route("/api/listening", listeningRoutes(deps));
  app.route("/api/events", eventsRoutes({ ...deps, logger: log }, shutdown.signal));

  app.notFound((c) =>
    settleUnreadBody(
      c,
      errorJson(c, 404, "not_found", `no route for ${c.req.method} ${quoteInput(c.req.path)}`),
    ),
  );
  app.onError((err, c) => handleError(err, c, log));
  return app;
}
