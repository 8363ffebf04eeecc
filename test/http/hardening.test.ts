import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RunningHttpServer, startHttpServer } from "../../src/http/server.js";
import { MAX_SAMPLES_PER_SPEAKER } from "../../src/registry/registry.js";
import { asRf64, makeWav } from "../audio/make-wav.js";
import {
  type RealPipeline,
  realPipeline,
  slice,
  type TempRegistry,
  tempRegistry,
  testVoices,
} from "../enrolment/helpers.js";
import { unitVector } from "../registry/helpers.js";
import { errorOf, makeApp, multipart, type TestApp } from "./helpers.js";

const WAV = { "Content-Type": "audio/wav" };
let pipeline: RealPipeline;
let female: Uint8Array;
beforeAll(async () => {
  pipeline = await realPipeline();
  [female] = await testVoices();
});
afterAll(() => pipeline.stop());

let temp: TempRegistry;
let t: TestApp;
let server: RunningHttpServer;
let base: string;
beforeEach(async () => {
  temp = await tempRegistry();
  t = makeApp(pipeline, temp, { config: { allowedHosts: ["voiceid.lan"], maxEventStreams: 3 } });
  server = await startHttpServer(t.app, { host: "127.0.0.1", port: 0 });
  base = server.url;
  await temp.registry.create("Alice");
});
afterEach(async () => {
  await server.close();
  await temp.dispose();
});

/** registry.json and the clips, byte for byte: what "nothing was written" means. */
async function snapshot(): Promise<string> {
  const registry = await readFile(path.join(temp.dataDir, "registry.json"), "utf8").catch(() => "");
  return JSON.stringify([registry, await temp.clipFiles()]);
}

/** One raw HTTP/1.1 exchange, for requests fetch() will not send (a foreign Host, a malformed line). */
function raw(request: string): Promise<{ status: number; body: string }> {
  const { port, hostname } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    let data = "";
    socket.on("data", (d) => {
      data += d.toString();
    });
    socket.on("error", reject);
    socket.on("close", () => {
      const [head, ...rest] = data.split("\r\n\r\n");
      resolve({ status: Number(head.split(" ")[1]), body: rest.join("\r\n\r\n") });
    });
  });
}

describe("uploads that declare absurd audio", () => {
  it("refuses a WAV that declares a 1 Hz sample rate, from its header, without resampling it", async () => {
    // 20 kB at 1 Hz: 10,000 "seconds"; resampled 16,000x it would take minutes and gigabytes.
    const wav = makeWav({ channels: 1, sampleRate: 1, bitsPerSample: 16, data: new Uint8Array(20_000) });
    const before = await snapshot();
    const res = await fetch(`${base}/api/speakers/alice/samples`, {
      method: "POST",
      headers: { "Content-Type": "audio/wav" },
      body: wav,
    });
    expect(await errorOf(res)).toMatchObject({ status: 422, code: "invalid_wav" });
    expect(await snapshot()).toBe(before);
    for (const rate of [7999, 384_001]) {
      const odd = makeWav({ channels: 1, sampleRate: rate, bitsPerSample: 16, data: new Uint8Array(64) });
      const answer = await errorOf(
        await fetch(`${base}/api/identify`, { method: "POST", headers: WAV, body: odd }),
      );
      expect(answer).toMatchObject({ status: 422, code: "invalid_wav" });
      expect(answer.message).toMatch(new RegExp(`sample rate ${rate} Hz is not supported`));
    }
  });

  it("refuses audio longer than allowed from the header alone (413), before decoding", async () => {
    // 8 kHz 8-bit: 1 MB is 131 s, over the 30 s test limit.
    const wav = makeWav({ channels: 1, sampleRate: 8000, bitsPerSample: 8, data: new Uint8Array(1_050_000) });
    const res = await fetch(`${base}/api/speakers/alice/samples`, {
      method: "POST",
      headers: WAV,
      body: wav,
    });
    const answer = await errorOf(res);
    expect(answer).toMatchObject({ status: 413, code: "clip_too_long" });
    expect(answer.message).toMatch(/131\.3 s long, at most 30 s/);
  });

  it("keeps answering /health while uploads are decoded and embedded", async () => {
    const clip = slice(female, 0, 12);
    let uploadsDone = false;
    const uploads = Promise.all(
      Array.from({ length: 4 }, () =>
        fetch(`${base}/api/identify`, {
          method: "POST",
          headers: { "Content-Type": "audio/wav" },
          body: clip,
        }),
      ),
    ).finally(() => {
      uploadsDone = true;
    });
    // Health checks answered while the uploads were still being worked on.
    let answeredDuring = 0;
    while (!uploadsDone) {
      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(200);
      if (!uploadsDone) answeredDuring++;
    }
    expect((await uploads).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(answeredDuring).toBeGreaterThanOrEqual(4);
  });
});

describe("RF64 uploads", () => {
  it("without a ds64 chunk: identify and enrolment both answer 422 in a user's words, and nothing is kept", async () => {
    const rf64 = asRf64(slice(female, 0, 4), { ds64: false });
    const before = await snapshot();
    const answers = [];
    for (const route of ["/api/identify", "/api/speakers/alice/samples"]) {
      answers.push(
        await errorOf(await fetch(`${base}${route}`, { method: "POST", headers: WAV, body: rf64 })),
      );
    }
    const reason =
      'an RF64 file must carry its sizes in a "ds64" chunk and this one has none; save it as a standard WAV file';
    expect(answers).toEqual([
      { status: 422, code: "invalid_wav", message: reason },
      { status: 422, code: "invalid_wav", message: `clip 1 of 1: ${reason}; nothing was enrolled` },
    ]);
    expect(await snapshot()).toBe(before);
  });

  it("with its ds64 chunk: identified and enrolled alike, the clip kept as sent", async () => {
    const rf64 = asRf64(slice(female, 0, 4), { ds64: true });
    const identified = await fetch(`${base}/api/identify`, { method: "POST", headers: WAV, body: rf64 });
    expect(identified.status).toBe(200);
    const enrolled = await fetch(`${base}/api/speakers/alice/samples`, {
      method: "POST",
      headers: WAV,
      body: rf64,
    });
    expect(enrolled.status).toBe(201);
    const [sample] = temp.registry.get("alice")!.samples;
    const clip = await fetch(`${base}/api/speakers/alice/samples/${sample.id}/audio`);
    expect(new Uint8Array(await clip.arrayBuffer())).toEqual(rf64);
  });
});

describe("requests from other sites", () => {
  const wavBody = () => slice(female, 0, 4);

  it("does not create a speaker from a cross-origin text/plain form post", async () => {
    const before = await snapshot();
    const res = await fetch(`${base}/api/speakers`, {
      method: "POST",
      headers: { "Content-Type": "text/plain", Origin: "http://evil.example" },
      body: JSON.stringify({ name: "Mallory" }),
    });
    expect(await errorOf(res)).toMatchObject({ status: 403, code: "cross_site_request" });
    // Without an Origin (a non-browser client), text/plain is still not JSON.
    const plain = await fetch(`${base}/api/speakers`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ name: "Mallory" }),
    });
    expect(await errorOf(plain)).toMatchObject({ status: 415, code: "unsupported_media_type" });
    expect(await snapshot()).toBe(before);
    expect(temp.registry.list().map((s) => s.name)).toEqual(["Alice"]);
  });

  it("does not enrol a sample from a cross-site multipart upload (Origin or Sec-Fetch-Site)", async () => {
    const before = await snapshot();
    const attempts: Record<string, string>[] = [
      { Origin: "http://evil.example" },
      { Origin: "null" },
      { Origin: `http://localhost:1${new URL(base).port}` },
      { "Sec-Fetch-Site": "cross-site" },
      { "Sec-Fetch-Site": "same-site" },
    ];
    for (const headers of attempts) {
      const res = await fetch(`${base}/api/speakers/alice/samples`, {
        method: "POST",
        headers,
        body: multipart([{ name: "x.wav", bytes: wavBody() }]),
      });
      expect(await errorOf(res)).toMatchObject({ status: 403, code: "cross_site_request" });
    }
    const deleted = await fetch(`${base}/api/speakers/alice`, {
      method: "DELETE",
      headers: { Origin: "http://evil.example" },
    });
    expect(deleted.status).toBe(403);
    expect(await snapshot()).toBe(before);
  });

  it("serves its own page's requests and non-browser clients", async () => {
    const own = await fetch(`${base}/api/speakers/alice/samples`, {
      method: "POST",
      headers: { Origin: base, "Sec-Fetch-Site": "same-origin" },
      body: multipart([{ name: "x.wav", bytes: wavBody() }]),
    });
    expect(own.status).toBe(201);
    const curl = await fetch(`${base}/api/speakers`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Bob" }),
    });
    expect(curl.status).toBe(201);
  });

  it("answers only to Host names of this daemon (DNS rebinding)", async () => {
    const { port } = new URL(base);
    const ask = (host: string) =>
      raw(`GET /api/speakers HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    const evil = await ask(`evil.example:${port}`);
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body).error.code).toBe("host_not_allowed");
    const post = await raw(
      `POST /api/speakers HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{"name":"Eve12"}`,
    );
    expect(post.status).toBe(403);
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `[::1]:${port}`,
      "voiceid.lan",
      "app.localhost",
    ]) {
      expect((await ask(host)).status, host).toBe(200);
    }
    expect(temp.registry.list().map((s) => s.name)).toEqual(["Alice"]);
  });
});

describe("smaller holes", () => {
  it("refuses unknown JSON fields instead of dropping them", async () => {
    const res = await fetch(`${base}/api/speakers`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Bob", treshold: 0.7 }),
    });
    const answer = await errorOf(res);
    expect(answer).toMatchObject({ status: 400, code: "invalid_request" });
    expect(answer.message).toMatch(/treshold/);
    const patch = await fetch(`${base}/api/speakers/alice`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Alicia", admin: true }),
    });
    expect(patch.status).toBe(400);
    expect(temp.registry.list().map((s) => s.name)).toEqual(["Alice"]);
  });

  it("refuses names that name nobody or are another speaker's id", async () => {
    for (const name of [".", "..", "-", "'"]) {
      const res = await fetch(`${base}/api/speakers`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name }),
      });
      expect(await errorOf(res)).toMatchObject({ status: 400, code: "invalid_speaker_name" });
    }
    await temp.registry.create("Zoë");
    expect(temp.registry.get("zoe")!.name).toBe("Zoë");
    // "Zoe" is not "Zoë", but it is Zoë's id: a lookup of "zoe" would have two answers.
    const clash = await fetch(`${base}/api/speakers/alice`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "zoe" }),
    });
    expect(await errorOf(clash)).toMatchObject({ status: 400, code: "invalid_speaker_name" });
    // New ids skip other speakers' names too.
    await temp.registry.create("Speaker-2");
    await temp.registry.create("Speaker");
    const ids = temp.registry.list().map((s) => [s.name, s.id]);
    expect(ids).toEqual([
      ["Alice", "alice"],
      ["Zoë", "zoe"],
      ["Speaker-2", "speaker-2"],
      ["Speaker", "speaker"],
    ]);
    const del = await fetch(`${base}/api/speakers/speaker-2`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect(temp.registry.list().map((s) => s.name)).toEqual(["Alice", "Zoë", "Speaker"]);
  });

  it("refuses names that look like another person's, and the words Home Assistant shows for no one", async () => {
    await temp.registry.create("STRASSE");
    const before = await snapshot();
    const create = async (name: string) =>
      errorOf(
        await fetch(`${base}/api/speakers`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ name }),
        }),
      );
    for (const name of ["Ａｌｉｃｅ", "Straße", "AIice"]) {
      const answer = await create(name);
      expect(answer, name).toMatchObject({ status: 409, code: "speaker_exists" });
      expect(answer.message, name).toMatch(/^".+" looks like the name of speaker "(Alice|STRASSE)"/);
    }
    expect(await create("\u0410lice")).toEqual({
      status: 400,
      code: "invalid_speaker_name",
      message:
        'invalid speaker name "\u0410lice": mixes Latin and Cyrillic letters, which look alike; write it in one script',
    });
    for (const name of ["unrecognized", "Unknown", "unknown-3", "None", "Unavailable"]) {
      expect(await create(name), name).toMatchObject({ status: 400, code: "invalid_speaker_name" });
    }
    const rename = await fetch(`${base}/api/speakers/alice`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Strasse" }),
    });
    expect(await errorOf(rename)).toMatchObject({ status: 409, code: "speaker_exists" });
    expect(await snapshot()).toBe(before);
  });

  it("caps the samples of one speaker", async () => {
    const full = Array.from({ length: MAX_SAMPLES_PER_SPEAKER }, (_, i) => ({
      voiceprints: { [pipeline.extractor.modelId]: unitVector(i) },
      speechSeconds: 4,
      durationSeconds: 5,
      source: "test",
    }));
    await temp.registry.addSamples({ speaker: "alice" }, full);
    const before = await snapshot();
    const res = await fetch(`${base}/api/speakers/alice/samples`, {
      method: "POST",
      headers: { "Content-Type": "audio/wav" },
      body: slice(female, 0, 4),
    });
    expect(await errorOf(res)).toMatchObject({ status: 409, code: "too_many_samples" });
    expect(await snapshot()).toBe(before);
  });

  it("caps open event streams and frees a place when one closes", async () => {
    const streams = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const abort = new AbortController();
        const res = await fetch(`${base}/api/events`, { signal: abort.signal });
        expect(res.status).toBe(200);
        return { abort, reader: res.body!.getReader() };
      }),
    );
    const refused = await fetch(`${base}/api/events`);
    expect(await errorOf(refused)).toMatchObject({ status: 429, code: "too_many_streams" });
    streams[0].abort.abort();
    await streams[0].reader.closed.catch(() => {});
    let again: Response | null = null;
    for (let i = 0; i < 50 && again?.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 20));
      again = await fetch(`${base}/api/events`);
      if (again.status !== 200) await again.body?.cancel();
    }
    expect(again?.status).toBe(200);
    await again?.body?.cancel();
    for (const s of streams.slice(1)) s.abort.abort();
  });

  it("answers malformed requests with a JSON error", async () => {
    for (const line of [
      "GET /a b HTTP/1.1",
      "GET http://[x/ HTTP/1.1",
      "GET /api/speakers/%E0%A4%A HTTP/1.1",
    ]) {
      const res = await raw(`${line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect(res.status, line).toBeGreaterThanOrEqual(400);
      expect(res.status, line).toBeLessThan(500);
      const body = res.body.includes("\r\n0\r\n") ? res.body.split("\r\n")[1] : res.body;
      expect(JSON.parse(body).error.code, line).toMatch(/^[a-z_]+$/);
    }
  });
});
