import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import { runShutdownHook } from "./app.js";

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (see the returned url). */
  port: number;
  /** How long close() lets in-flight requests finish before cutting connections (default 2000 ms). */
  graceMs?: number;
  /** Longest a client may take to send its request headers (default 10 s; Node's own is 60 s). */
  headersTimeoutMs?: number;
  /**
   * Longest a client may take to send its whole request, body included (default 120 s: 20 MiB need
   * 175 kB/s; Node's own is 300 s). Uploads are also held to a minimum rate (UploadIntake).
   */
  requestTimeoutMs?: number;
}

const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;
/** How often Node checks those timeouts (its default, 30 s, would let a stalled request live that much longer). */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

export interface RunningHttpServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  /** Stops listening, ends SSE streams, waits up to graceMs for requests, then closes every connection. Idempotent. */
  close(): Promise<void>;
}

function jsonError(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

export class HttpListenError extends Error {
  readonly code = "http_listen_failed";
}

/** Serves `app` (from createHttpApp) with @hono/node-server. */
export async function startHttpServer(app: Hono, options: HttpServerOptions): Promise<RunningHttpServer> {
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  // Node refuses a headers timeout longer than the request's.
  const headersTimeout = Math.min(options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS, requestTimeout);
  // A client that trickles its request holds a socket only that long. A request line Node can parse but not
  // turn into a URL (bad escapes, a bad Host) still gets a JSON answer.
  const server: Server = createServer(
    { headersTimeout, requestTimeout, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    getRequestListener(app.fetch, {
      errorHandler: (err) => jsonError(400, "bad_request", `malformed request: ${(err as Error).message}`),
    }),
  );
  // ... and so does one Node cannot parse at all, or that did not arrive in time.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const timedOut = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
    const body = JSON.stringify({
      error: timedOut
        ? {
            code: "request_timeout",
            message: `the request did not arrive within ${headersTimeout / 1000} s (headers) or ${requestTimeout / 1000} s (whole)`,
          }
        : { code: "bad_request", message: `malformed request: ${err.code ?? err.message}` },
    });
    socket.end(
      `HTTP/1.1 ${timedOut ? "408 Request Timeout" : "400 Bad Request"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
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

  // In-flight requests per connection. Node's closeIdleConnections() skips connections that never sent a
  // request (browsers and undici open spare ones), so close() ends connections itself once they are quiet.
  const inFlight = new Map<Socket, number>();
  let closing: Promise<void> | null = null;
  let shuttingDown = false;
  const endIfQuiet = (socket: Socket) => {
    if (!shuttingDown || (inFlight.get(socket) ?? 0) > 0) return;
    // end() alone waits for the client's FIN, which an idle pooled client connection never sends.
    socket.end(() => socket.destroy());
  };
  server.on("connection", (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once("close", () => inFlight.delete(socket));
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once("close", () => {
      if (!inFlight.has(socket)) return;
      inFlight.set(socket, Math.max(0, (inFlight.get(socket) ?? 1) - 1));
      endIfQuiet(socket);
    });
  });

  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      shuttingDown = true;
      // Ends SSE streams; their responses finish and their connections are then quiet.
      runShutdownHook(app);
      const forceTimer = setTimeout(() => server.closeAllConnections(), options.graceMs ?? 2000);
      forceTimer.unref();
      server.close(() => {
        clearTimeout(forceTimer);
        resolve();
      });
      for (const socket of inFlight.keys()) endIfQuiet(socket);
    });
    return closing;
  };
  return { url: `http://${host}:${address.port}`, close };
}
