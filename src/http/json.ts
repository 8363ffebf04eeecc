import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import { quoteInput } from "../util/quote.js";
import { ApiError } from "./errors.js";

/** Every JSON body of this API is a few short fields (a name is 64 characters at most). */
export const MAX_JSON_BODY_BYTES = 4096;

/**
 * For every route that reads JSON: a larger body is refused with 413 from its Content-Length, or as it
 * arrives, before anything is parsed.
 */
export const jsonBodyLimit = bodyLimit({
  maxSize: MAX_JSON_BODY_BYTES,
  onError: () => {
    throw new ApiError(
      413,
      "payload_too_large",
      `a JSON request body is at most ${MAX_JSON_BODY_BYTES} bytes`,
    );
  },
});

/**
 * Parses a JSON request body against `schema` (strict: unknown fields are refused); 415 unless it is sent
 * as application/json (a type no page can send to another site without its consent), 400 with what is
 * wrong otherwise.
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json" && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      `${type === "" ? "no Content-Type" : `Content-Type ${quoteInput(type)}`}: send the body as application/json`,
    );
  }
  const text = await c.req.text();
  if (text.trim() === "") throw new ApiError(400, "invalid_request", "the request needs a JSON body");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, "invalid_json", `the body is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join(".") : "body";
      // zod's own message would repeat the keys whole.
      if (issue.code === "unrecognized_keys") {
        return `${where}: unknown field ${issue.keys
          .slice(0, 3)
          .map((key) => quoteInput(key))
          .join(", ")}`;
      }
      return `${where}: ${issue.message}`;
    });
    throw new ApiError(400, "invalid_request", issues.join("; "));
  }
  return parsed.data;
}
