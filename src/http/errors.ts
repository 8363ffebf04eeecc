import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { WavFormatError } from "../audio/wav.js";
import { codeOf, INVALID_WAV } from "../enrolment/errors.js";
import type { Logger } from "../util/log.js";

/** Body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** An HTTP error with a stable machine-readable `code`; thrown by routes, rendered by `handleError`. */
export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(status, { message });
    this.name = "ApiError";
  }
}

/** Status for the `code` of the domain errors (registry, enrolment, audio, models). */
const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  speaker_not_found: 404,
  sample_not_found: 404,
  speaker_exists: 409,
  speaker_ambiguous: 409,
  too_many_samples: 409,
  invalid_speaker_name: 400,
  invalid_threshold: 400,
  invalid_sample: 400,
  no_clips: 400,
  clip_too_long: 413,
  no_speech: 422,
  invalid_wav: 422,
  model_missing: 503,
  registry_not_started: 503,
};

/** Failures whose message may name files or internals: logged in full, answered generically. */
const OPAQUE: Record<string, { status: ContentfulStatusCode; message: string }> = {
  registry_write_failed: { status: 500, message: "the change could not be saved; see the daemon log" },
  registry_corrupt: { status: 503, message: "the speaker registry is unusable; see the daemon log" },
};

const CODE_BY_STATUS: Partial<Record<number, string>> = {
  400: "bad_request",
  401: "unauthorized",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "unprocessable_audio",
  503: "unavailable",
};

export function describeForClient(
  err: unknown,
): { status: ContentfulStatusCode; code: string; message: string; headers?: Record<string, string> } | null {
  if (err instanceof ApiError)
    return {
      status: err.status as ContentfulStatusCode,
      code: err.code,
      message: err.message,
      headers: err.headers,
    };
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    return { status, code: CODE_BY_STATUS[status] ?? "http_error", message: err.message || `HTTP ${status}` };
  }
  // A ClipError carries its cause's code and a message naming the clip.
  const code = err instanceof WavFormatError ? INVALID_WAV : codeOf(err);
  if (code === undefined) return null;
  if (code === "registry_write_failed" && errnoOf(err) === "ENOSPC") {
    // The one write failure a user can act on: say so plainly.
    return {
      status: 507,
      code: "disk_full",
      message: "the disk holding the data directory is full; nothing was saved",
    };
  }
  const opaque = OPAQUE[code];
  if (opaque) return { status: opaque.status, code, message: opaque.message };
  const status = STATUS_BY_CODE[code];
  if (status === undefined) return null;
  return { status, code, message: (err as Error).message };
}

export function errorJson(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  const body: ErrorBody = { error: { code, message } };
  return c.json(body, status, headers);
}

/** Most of an unread body a refusal reads (and throws away) so that the connection stays usable. */
const MAX_DISCARDED_BODY_BYTES = 32 * 1024 * 1024;

/**
 * A refusal sent before the request body was read (unknown speaker, cross-site, no upload slot) leaves that
 * body on the connection. Clients write it to the end before they read the answer, so it is read and thrown
 * away first (nothing is kept); past MAX_DISCARDED_BODY_BYTES the connection closes after the answer instead.
 */
export async function settleUnreadBody(c: Context, response: Response): Promise<Response> {
  const body = c.req.raw.body;
  if (body === null || c.req.raw.bodyUsed) return response;
  const declared = Number(c.req.header("content-length") ?? 0);
  if (declared > MAX_DISCARDED_BODY_BYTES) {
    response.headers.set("Connection", "close");
    return response;
  }
  let read = 0;
  try {
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return response;
      read += value.length;
      if (read > MAX_DISCARDED_BODY_BYTES) {
        await reader.cancel();
        break;
      }
    }
  } catch {
    // The client went away or the stream broke: nothing left to keep alive.
  }
  response.headers.set("Connection", "close");
  return response;
}

/** The one place errors become responses (installed with app.onError). */
export function handleError(err: unknown, c: Context, logger: Logger): Promise<Response> {
  return settleUnreadBody(c, errorResponse(err, c, logger));
}

function errorResponse(err: unknown, c: Context, logger: Logger): Response {
  const known = describeForClient(err);
  if (known) {
    if (known.status >= 500) {
      logger.error("request failed", { method: c.req.method, path: c.req.path, error: describe(err) });
    } else {
      logger.debug("request rejected", { method: c.req.method, path: c.req.path, code: known.code });
    }
    return errorJson(c, known.status, known.code, known.message, known.headers);
  }
  if (c.req.raw.signal.aborted) {
    // The client hung up (mid-body, say): nobody reads this answer, and nothing failed on our side.
    logger.debug("client went away", { method: c.req.method, path: c.req.path, error: describe(err) });
    return errorJson(c, 400, "request_aborted", "the client went away");
  }
  logger.error("unexpected error handling request", {
    method: c.req.method,
    path: c.req.path,
    error: describe(err),
    stack: err instanceof Error ? err.stack : undefined,
  });
  return errorJson(c, 500, "internal_error", "internal server error");
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `; cause: ${err.cause.message}` : "";
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}

/** The errno code (ENOSPC, EACCES, ...) somewhere in an error's cause chain. */
function errnoOf(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("E")) return code;
  }
  return undefined;
}
