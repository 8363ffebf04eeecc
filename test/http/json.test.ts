import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MAX_JSON_BODY_BYTES } from "../../src/http/json.js";
import { type RunningHttpServer, startHttpServer } from "../../src/http/server.js";
import {
  type RealPipeline,
  realPipeline,
  type TempRegistry,
  tempRegistry,
  testVoices,
} from "../enrolment/helpers.js";
import { errorOf, makeApp, rawRequest, WavLiveAudio } from "./helpers.js";

/**
 * JSON bodies are small: a larger one is refused before it is parsed, and no answer repeats more than a
 * short prefix of what it refuses. A real server; the 19 MiB invalid name.
 */

let pipeline: RealPipeline;
let live: WavLiveAudio;
beforeAll(async () => {
  pipeline = await realPipeline();
  live = new WavLiveAudio((await testVoices())[1], 0);
});
afterAll(() => pipeline.stop());

let temp: TempRegistry;
let server: RunningHttpServer;
let base: string;
beforeEach(async () => {
  temp = await tempRegistry();
  await temp.registry.create("Alice");
  const { app, deps } = makeApp(pipeline, temp, { liveAudio: live });
  deps.listening = {
    get: () => ({ listening: true, changedAt: new Date(0).toISOString() }),
    set: async () => {
      throw new Error("a refused body must not reach the switch");
    },
  };
  server = await startHttpServer(app, { host: "127.0.0.1", port: 0 });
  base = server.url;
});
afterEach(async () => {
  await server.close();
  await temp.dispose();
});

async function snapshot(): Promise<string> {
  const registry = await readFile(path.join(temp.dataDir, "registry.json"), "utf8").catch(() => "");
  return JSON.stringify([registry, await temp.clipFiles()]);
}

const JSON_ROUTES = [
  ["POST", "/api/speakers"],
  ["PATCH", "/api/speakers/alice"],
  ["POST", "/api/speakers/alice/record"],
  ["POST", "/api/listening"],
] as const;

/** The body: an invalid 19 MiB name. */
const hugeNameBody = () => JSON.stringify({ name: `${"x".repeat(19 * 1024 * 1024)}+` });

describe("JSON bodies over the limit", () => {
  it("are refused with 413 on every JSON route before parsing, in a short answer", async () => {
    const before = await snapshot();
    const body = hugeNameBody();
    for (const [method, route] of JSON_ROUTES) {
      const res = await fetch(`${base}${route}`, {
        method,
        body,
        headers: { "Content-Type": "application/json" },
      });
      const text = await res.text();
      expect(res.status, route).toBe(413);
      expect(JSON.parse(text).error).toEqual({
        code: "payload_too_large",
        message: `a JSON request body is at most ${MAX_JSON_BODY_BYTES} bytes`,
      });
    }
    expect(await snapshot()).toBe(before);
    expect(live.calls).toEqual([]);
  });

  it("are refused as they arrive when no Content-Length announced them", async () => {
    const before = await snapshot();
    const answer = await rawRequest(base, {
      send: [
        "POST /api/speakers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        `2000\r\n{"name":"${"x".repeat(0x2000 - 9)}\r\n0\r\n\r\n`,
      ],
    }).answer;
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error).toEqual({
      code: "payload_too_large",
      message: `a JSON request body is at most ${MAX_JSON_BODY_BYTES} bytes`,
    });
    expect(await snapshot()).toBe(before);
  });
});

describe("answers to bad input", () => {
  it("quote at most a short, escaped prefix of a bad name, field, path or header", async () => {
    const before = await snapshot();
    const name = `"quoted"\n${"x".repeat(1000)}+`;
    for (const method of ["POST", "PATCH"]) {
      const route = method === "POST" ? "/api/speakers" : "/api/speakers/alice";
      const res = await fetch(`${base}${route}`, {
        method,
        body: JSON.stringify({ name }),
        headers: { "Content-Type": "application/json" },
      });
      const answer = await errorOf(res);
      expect(answer).toMatchObject({ status: 400, code: "invalid_speaker_name" });
      expect(answer.message).toBe(
        `invalid speaker name ${JSON.stringify(name.slice(0, 40))}… (1010 characters): must be at most 64 characters`,
      );
    }
    const field = await errorOf(
      await fetch(`${base}/api/speakers`, {
        method: "POST",
        body: JSON.stringify({ name: "Bob", [`k${"y".repeat(3000)}`]: 1 }),
        headers: { "Content-Type": "application/json" },
      }),
    );
    expect(field.message).toBe(`body: unknown field "k${"y".repeat(39)}"… (3001 characters)`);
    const longPath = `/api/speakers/${"z".repeat(8000)}`;
    const missing = await errorOf(await fetch(`${base}${longPath}`));
    expect(missing.message.length).toBeLessThan(150);
    const noSample = await errorOf(
      await fetch(`${base}/api/speakers/alice/samples/${"s".repeat(8000)}`, { method: "DELETE" }),
    );
    expect(noSample).toEqual({
      status: 404,
      code: "sample_not_found",
      message: `speaker "alice" has no sample "${"s".repeat(40)}"… (8000 characters)`,
    });
    const foreign = await errorOf(
      await fetch(`${base}/api/speakers/alice`, {
        method: "DELETE",
        headers: { Origin: `http://${"o".repeat(5000)}` },
      }),
    );
    expect(foreign).toMatchObject({ status: 403, code: "cross_site_request" });
    expect(foreign.message.length).toBeLessThan(250);
    const host = await rawRequest(base, {
      send: [`GET /api/speakers HTTP/1.1\r\nHost: ${"h".repeat(5000)}.example\r\nConnection: close\r\n\r\n`],
    }).answer;
    expect(host.status).toBe(403);
    expect(host.body.length).toBeLessThan(300);
    expect(await snapshot()).toBe(before);
  });
});
