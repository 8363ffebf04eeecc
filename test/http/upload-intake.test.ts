import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { HttpConfig } from "../../src/http/deps.js";
import { type RunningHttpServer, startHttpServer } from "../../src/http/server.js";
import { DEFAULT_UPLOAD_GRACE_MS } from "../../src/http/upload-intake.js";
import {
  type RealPipeline,
  realPipeline,
  slice,
  type TempRegistry,
  tempRegistry,
  testVoices,
} from "../enrolment/helpers.js";
import { errorOf, makeApp, rawRequest } from "./helpers.js";

/**
 * Uploads are read whole before they take one of the few slots for the models, at a minimum rate, and
 * within a memory budget: a real server, real speech, and clients that send their bodies 10 bytes a second.
 */

const WAV = { "Content-Type": "audio/wav" };
let pipeline: RealPipeline;
let female: Uint8Array;
beforeAll(async () => {
  pipeline = await realPipeline();
  [female] = await testVoices();
});
afterAll(() => pipeline.stop());

let temp: TempRegistry;
const servers: RunningHttpServer[] = [];
beforeEach(async () => {
  temp = await tempRegistry();
  await temp.registry.create("Alice");
});
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
  await temp.dispose();
});

async function serve(config: Partial<HttpConfig> = {}): Promise<string> {
  const server = await startHttpServer(makeApp(pipeline, temp, { config }).app, {
    host: "127.0.0.1",
    port: 0,
  });
  servers.push(server);
  return server.url;
}

/** registry.json and the clips, byte for byte. */
async function snapshot(): Promise<string> {
  const registry = await readFile(path.join(temp.dataDir, "registry.json"), "utf8").catch(() => "");
  return JSON.stringify([registry, await temp.clipFiles()]);
}

/** The attacker: a 192,044-byte WAV upload announced, then sent ten bytes a second. */
function trickler(base: string, route: string) {
  return rawRequest(base, {
    send: [
      `POST ${route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\nContent-Length: 192044\r\n\r\n`,
    ],
    trickle: { chunk: "RIFFxxxxxx", everyMs: 1000 },
  });
}

describe("slow uploads", () => {
  it("eight clients trickling bodies keep no real upload out, and are cut off with 408 after the grace period", async () => {
    const base = await serve();
    const attack = Array.from({ length: 8 }, (_, i) =>
      trickler(base, i % 2 === 0 ? "/api/identify" : "/api/speakers/alice/samples"),
    );
    await new Promise((r) => setTimeout(r, 500));

    // Real uploads while all eight trickle: served as if nobody else were there.
    const clip = slice(female, 0, 4);
    const t0 = performance.now();
    const identify = await fetch(`${base}/api/identify`, { method: "POST", headers: WAV, body: clip });
    expect(identify.status).toBe(200);
    const enrol = await fetch(`${base}/api/speakers/alice/samples`, {
      method: "POST",
      headers: WAV,
      body: clip,
    });
    expect(enrol.status).toBe(201);
    expect(performance.now() - t0).toBeLessThan(DEFAULT_UPLOAD_GRACE_MS);

    for (const answer of await Promise.all(attack.map((a) => a.answer))) {
      expect(answer.status).toBe(408);
      expect(answer.headers.connection).toBe("close");
      expect(JSON.parse(answer.body).error.code).toBe("upload_too_slow");
      expect(JSON.parse(answer.body).error.message).toMatch(
        /^the upload arrived too slowly \(\d+ bytes in 5\.\d s\)/,
      );
      // Cut at the end of the grace period (the bytes they sent buy them microseconds), not after minutes.
      expect(answer.ms).toBeGreaterThanOrEqual(DEFAULT_UPLOAD_GRACE_MS);
      expect(answer.ms).toBeLessThan(DEFAULT_UPLOAD_GRACE_MS + 2000);
    }
    // The real sample is the only change.
    expect(temp.registry.get("alice")!.samples).toHaveLength(1);
    expect(await temp.clipFiles()).toHaveLength(1);
  });

  it("answers 429 while every slot is busy, keeping the connection, and frees the slot after", async () => {
    const base = await serve({ maxUploadsInFlight: 1 });
    const clip = slice(female, 0, 12);
    const answers = await Promise.all(
      Array.from({ length: 3 }, () =>
        fetch(`${base}/api/identify`, { method: "POST", headers: WAV, body: clip }),
      ),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 429, 429]);
    const refused = answers.find((r) => r.status === 429)!;
    expect(refused.headers.get("retry-after")).toBe("5");
    // Its body was read (or drained), not left on the connection: it stays usable.
    expect(refused.headers.get("connection")).not.toBe("close");
    expect(await errorOf(refused)).toMatchObject({ code: "too_many_uploads" });
    const again = await fetch(`${base}/api/identify`, { method: "POST", headers: WAV, body: clip });
    expect(again.status).toBe(200);
  });

  it("bounds the memory of bodies being received, and frees it when a stalled one is cut off", async () => {
    // One upload at a time: 4 MiB of bodies in memory at most. A client sends almost all of a 4 MiB body
    // fast, then stalls; its deadline is 1 s plus its bytes at 1 MiB/s.
    const limit = 4 * 1024 * 1024;
    const base = await serve({
      maxUploadsInFlight: 1,
      bodyLimitBytes: limit,
      uploadGraceMs: 1000,
      minUploadBytesPerSecond: 1024 * 1024,
    });
    const before = await snapshot();
    const stalled = rawRequest(base, {
      send: [
        `POST /api/speakers/alice/samples HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\nContent-Length: ${limit}\r\n\r\n`,
        new Uint8Array(limit - 1024),
      ],
    });
    await new Promise((r) => setTimeout(r, 500));
    const clip = slice(female, 0, 4);
    const refused = await rawRequest(base, {
      send: [
        `POST /api/identify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\nContent-Length: ${clip.length}\r\n\r\n`,
        clip,
      ],
    }).answer;
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body).error.code).toBe("too_many_uploads");
    // Refused mid-body (no slot was taken yet): the rest is not read, the connection closes.
    expect(refused.headers.connection).toBe("close");

    const cut = await stalled.answer;
    expect(cut.status).toBe(408);
    expect(cut.ms).toBeLessThan(1000 + 4000 + 2000);
    const served = await fetch(`${base}/api/identify`, { method: "POST", headers: WAV, body: clip });
    expect(served.status).toBe(200);
    expect(await snapshot()).toBe(before);
  });

  it("refuses a body over the limit as it arrives when no Content-Length announced it", async () => {
    const base = await serve({ bodyLimitBytes: 64 * 1024 });
    const before = await snapshot();
    const chunk = new Uint8Array(16 * 1024).fill(0x41);
    const chunks = Array.from(
      { length: 8 },
      () => `${chunk.length.toString(16)}\r\n${"A".repeat(chunk.length)}\r\n`,
    );
    const answer = await rawRequest(base, {
      send: [
        "POST /api/speakers/alice/samples HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\nTransfer-Encoding: chunked\r\n\r\n",
        `${chunks.join("")}0\r\n\r\n`,
      ],
    }).answer;
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error).toEqual({
      code: "payload_too_large",
      message: "the request body exceeds the limit of 65536 bytes",
    });
    expect(await snapshot()).toBe(before);
  });
});
