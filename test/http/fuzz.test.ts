import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningHttpServer, startHttpServer } from "../../src/http/server.js";
import {
  type RealPipeline,
  realPipeline,
  slice,
  type TempRegistry,
  tempRegistry,
  testVoices,
} from "../enrolment/helpers.js";
import { makeApp, WavLiveAudio } from "./helpers.js";

/**
 * A bounded fuzz run against every route of a real server with the real models: random bytes and mutated
 * real WAVs, random JSON, odd content types and paths. No answer may be a 5xx or a non-JSON error, and no
 * refused request may change the registry (registry.json and the clips, byte for byte).
 */

const REQUESTS = 320;
const SEED = 20261201;

let pipeline: RealPipeline;
let temp: TempRegistry;
let server: RunningHttpServer;
let wav: Uint8Array;
beforeAll(async () => {
  pipeline = await realPipeline();
  const [female, male] = await testVoices();
  wav = slice(female, 0, 3);
  temp = await tempRegistry();
  await temp.registry.create("Alice");
  const t = makeApp(pipeline, temp, { liveAudio: new WavLiveAudio(male, 0) });
  server = await startHttpServer(t.app, { host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await server?.close();
  await temp?.dispose();
  await pipeline?.stop();
});

function random(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

describe("fuzzing every route", () => {
  it(`answers ${REQUESTS} hostile requests without a 5xx and changes nothing when it refuses`, async () => {
    const rnd = random(SEED);
    const int = (n: number) => Math.floor(rnd() * n);
    const pick = <T>(items: readonly T[]): T => items[int(items.length)];
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));

    const mutatedWav = (): Uint8Array => {
      const out = wav.slice();
      const view = new DataView(out.buffer);
      switch (int(7)) {
        case 0: // random header bytes
          for (let i = 0; i < 1 + int(6); i++) out[int(44)] = int(256);
          break;
        case 1: // sample rate anywhere in u32
          view.setUint32(
            24,
            pick([0, 1, 100, 7999, 8000, 44_100, 384_000, 384_001, 0xffffffff, int(2 ** 32)]),
            true,
          );
          break;
        case 2: // channels and block align
          view.setUint16(22, pick([0, 2, 3, 255, 65_535]), true);
          if (rnd() < 0.5) view.setUint16(32, int(65_536), true);
          break;
        case 3: // bits per sample / format tag
          view.setUint16(34, pick([0, 1, 7, 12, 24, 33, 64]), true);
          view.setUint16(20, pick([1, 2, 3, 0xfffe, int(65_536)]), true);
          break;
        case 4: // declared sizes
          view.setUint32(40, pick([0, 1, 0xffffffff, out.length * 1000, int(2 ** 32)]), true);
          if (rnd() < 0.5) view.setUint32(16, pick([0, 15, 40, 0xffffffff]), true);
          break;
        case 5: // truncated
          return out.subarray(0, int(out.length));
        default: // body bytes overwritten
          for (let i = 0; i < 200; i++) out[44 + int(out.length - 44)] = int(256);
      }
      return out;
    };
    const audioBody = (): Uint8Array => (rnd() < 0.7 ? mutatedWav() : bytes(int(4000)));
    const jsonish = (): string =>
      pick([
        JSON.stringify({ name: String.fromCharCode(...bytes(1 + int(20))) }),
        JSON.stringify({ name: "Bob", threshold: pick([-1, 2, "0.5", null, 1e300]) }),
        JSON.stringify({ seconds: pick([0, 1, 31, -5, "5", null]) }),
        JSON.stringify(pick([[], null, 1, "x", { name: { a: 1 } }, { extra: 1 }])),
        "{name:",
        "%%%",
        String.fromCharCode(...bytes(int(64))),
      ]);
    const strangeIds = ["..", ".", "%2e%2e", "%E0%A4%A", "unknown", "x".repeat(300), "%00", "a%2Fb", "%"];
    // Half the time the real speaker, so requests get past the lookup to the body.
    const oddId = () => (rnd() < 0.5 ? pick(["alice", "ALICE", "Alice"]) : pick(strangeIds));
    const contentType = (audio: boolean) =>
      pick(
        audio
          ? ["audio/wav", "application/octet-stream", "audio/x-wav; codecs=1", "text/plain", "", "audio/mpeg"]
          : [
              "application/json",
              "text/plain",
              "application/x-www-form-urlencoded",
              "",
              "application/json; x",
            ],
      );

    const snapshot = async () =>
      JSON.stringify([
        await readFile(path.join(temp.dataDir, "registry.json"), "utf8").catch(() => ""),
        await temp.clipFiles(),
      ]);
    let state = await snapshot();
    const statuses = new Map<number, number>();
    const refusedButChanged: string[] = [];
    const bad: string[] = [];

    for (let i = 0; i < REQUESTS; i++) {
      const kind = int(9);
      let method = "POST";
      let url = "/api/speakers";
      let body: RequestInit["body"];
      const headers: Record<string, string> = {};
      if (kind <= 2) {
        url = pick(["/api/speakers/alice/samples", "/api/identify", `/api/speakers/${oddId()}/samples`]);
        if (rnd() < 0.25) {
          const form = new FormData();
          for (let f = 0; f < 1 + int(3); f++) form.append("file", new Blob([audioBody()]), `f${f}.wav`);
          body = form;
        } else {
          body = audioBody();
          const type = contentType(true);
          if (type) headers["Content-Type"] = type;
        }
      } else if (kind <= 5) {
        method = pick(["POST", "PATCH", "PATCH", "POST"]);
        url = pick(["/api/speakers", `/api/speakers/${oddId()}`, "/api/speakers/alice/record"]);
        body = jsonish();
        const type = contentType(false);
        if (type) headers["Content-Type"] = type;
      } else if (kind === 6) {
        method = "DELETE";
        // Never Alice herself: the run needs her.
        url = pick([
          `/api/speakers/${pick(strangeIds)}`,
          `/api/speakers/alice/samples/${oddId()}`,
          `/api/speakers/${oddId()}/learned`,
        ]);
      } else if (kind === 7) {
        method = pick(["GET", "PUT", "OPTIONS", "HEAD"]);
        url = pick([`/api/speakers/${oddId()}`, "/api/speakers", "/metrics", "/health", `/${oddId()}`]);
      } else {
        url = `/api/speakers/alice/samples`;
        body = bytes(int(2000));
        headers["Content-Type"] = `multipart/form-data; boundary=${pick(["x", "", "--", "a".repeat(80)])}`;
      }
      const res = await fetch(`${server.url}${url}`, { method, headers, body });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const label = `#${i} ${method} ${url} -> ${res.status}`;
      if (res.status >= 500) bad.push(`${label}: ${text.slice(0, 200)}`);
      if (res.status >= 400 && method !== "HEAD") {
        try {
          const parsed = JSON.parse(text) as { error?: { code?: unknown } };
          if (typeof parsed.error?.code !== "string") bad.push(`${label}: error without a code: ${text}`);
        } catch {
          bad.push(`${label}: non-JSON error body ${JSON.stringify(text.slice(0, 100))}`);
        }
      }
      const now = await snapshot();
      if (res.status >= 400 && now !== state) refusedButChanged.push(label);
      state = now;
    }

    const summary = [...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
    console.log(`fuzz: ${REQUESTS} requests, seed ${SEED}; statuses ${summary.join(", ")}`);
    expect(bad).toEqual([]);
    expect(refusedButChanged).toEqual([]);
    // The run must have exercised refusals and acceptances both, or it tested nothing.
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
    expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
  });
});
