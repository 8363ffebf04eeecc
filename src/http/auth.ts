import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.js";

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Requires `Authorization: Bearer <token>`. Both sides are hashed before the constant-time compare, so
 * neither the content nor the length of the token leaks through timing.
 */
export function bearerToken(token: string): MiddlewareHandler {
  const expected = digest(token);
  const challenge = { "WWW-Authenticate": 'Bearer realm="voiceid"' };
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (header === undefined) {
      throw new ApiError(401, "unauthorized", "missing Authorization: Bearer <token> header", challenge);
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]), expected)) {
      throw new ApiError(401, "unauthorized", "invalid bearer token", {
        "WWW-Authenticate": 'Bearer realm="voiceid", error="invalid_token"',
      });
    }
    await next();
  };
}
