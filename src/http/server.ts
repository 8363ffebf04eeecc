import { createServer, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { Hono } from "hono";
import { runShutdownHook } from "./app.js";

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (see the returned url). */
  port: number;
  /** How long close() lets in-flight requests finish before cutting connections (default 2000 ms). */
  graceMs?: number;
}

export interface RunningHttpServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  /** Stops listening, ends SSE streams, waits up to graceMs for requests, then closes every connection. Idempotent. */
  close(): Promise<void>;
}

export class HttpListenError extends Error {
  readonly code = "http_listen_failed";
}

/** Serves `app` (from createHttpApp) with @hono/node-server. */
export async function startHttpServer(app: Hono, options: HttpServerOptions): Promise<RunningHttpServer> {
  const created = createAdaptorServer({ fetch: app.fetch, createServer });
  if (!(created instanceof Server)) throw new Error("expected an HTTP/1 server from @hono/node-server");
  const server = created;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      const reason = err.code === "EADDRINUSE" ? "the port is already in use" : err.message;
      reject(
        new HttpListenError(`cannot listen on ${options.host}:${options.port}: ${reason}`, { cause: err }),
      );
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(options.port, options.host);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      runShutdownHook(app);
      const forceTimer = setTimeout(() => server.closeAllConnections(), options.graceMs ?? 2000);
      forceTimer.unref();
      server.close(() => {
        clearTimeout(forceTimer);
        resolve();
      });
      server.closeIdleConnections();
      // Responses that end now (SSE streams told to stop) leave keep-alive sockets behind; reap them too.
      const reaper = setInterval(() => server.closeIdleConnections(), 50);
      reaper.unref();
      server.once("close", () => clearInterval(reaper));
    });
    return closing;
  };
  return { url: `http://${host}:${address.port}`, close };
}
