import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { SourceUnavailableError } from "../errors.js";
import type { HttpsSource } from "../manifest.js";
import type { FileSource } from "./types.js";

/**
 * A plain download, streamed to disk with progress. A host that does not answer within
 * `connectTimeoutMs` (a firewalled network drops packets rather than refusing) fails the source quickly,
 * so set-up moves on instead of waiting minutes.
 */
export function httpsSource(
  source: HttpsSource,
  timeoutMs = 15 * 60_000,
  connectTimeoutMs = 20_000,
): FileSource {
  return {
    description: `https ${source.url}`,
    async fetchTo(dest, ctx) {
      ctx.logger.info(`downloading ${ctx.fileName} from ${source.url}`);
      let res: Response;
      try {
        const answered = new AbortController();
        const noAnswer = setTimeout(
          () => answered.abort(new Error(`no answer in ${connectTimeoutMs / 1000} s`)),
          connectTimeoutMs,
        );
        try {
          res = await fetch(source.url, {
            redirect: "follow",
            signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), answered.signal]),
          });
        } finally {
          clearTimeout(noAnswer);
        }
      } catch (err) {
        throw new SourceUnavailableError(`request failed: ${describeFetchError(err)}`);
      }
      if (!res.ok || res.body === null) {
        await res.body?.cancel().catch(() => {});
        throw new SourceUnavailableError(`HTTP ${res.status} ${res.statusText}`.trim());
      }
      const lengthHeader = res.headers.get("content-length");
      const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
      const progress = ctx.progress.start(ctx.fileName, total);
      const out = createWriteStream(dest);
      let done = 0;
      try {
        for await (const chunk of res.body) {
          done += chunk.length;
          progress.update(done);
          if (!out.write(chunk)) await once(out, "drain");
        }
        out.end();
        await once(out, "finish");
      } catch (err) {
        out.destroy();
        throw new SourceUnavailableError(
          `download interrupted after ${done} bytes: ${describeFetchError(err)}`,
        );
      } finally {
        progress.end();
      }
    },
  };
}

function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  const causeText =
    cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : undefined;
  return causeText !== undefined && causeText !== err.message ? `${err.message} (${causeText})` : err.message;
}
