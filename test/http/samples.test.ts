import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SAMPLE_RATE } from "../../src/embedding/voiceprint.js";
import type { Identification } from "../../src/enrolment/enroller.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import type { EnrolmentView } from "../../src/http/views.js";
import {
  durationOf,
  PNG_BYTES,
  type RealPipeline,
  realPipeline,
  slice,
  type TempRegistry,
  tempRegistry,
  testVoices,
  truncated,
} from "../enrolment/helpers.js";
import {
  errorOf,
  jsonRequest,
  makeApp,
  multipart,
  type TestApp,
  WavLiveAudio,
  wavRequest,
} from "./helpers.js";

let pipeline: RealPipeline;
let female: Uint8Array; // LibriSpeech 103
let male: Uint8Array; // LibriSpeech 1040
let outsider: Uint8Array; // LibriSpeech 1235, never enrolled
beforeAll(async () => {
  pipeline = await realPipeline();
  [female, male, outsider] = await testVoices();
});
afterAll(() => pipeline.stop());

let temp: TempRegistry;
let t: TestApp;
beforeEach(async () => {
  temp = await tempRegistry();
  t = makeApp(pipeline, temp);
  await temp.registry.create("Alice");
  await temp.registry.create("Bob");
});
afterEach(() => temp.dispose());

const samplesOf = (id: string) => temp.registry.get(id)!.samples;

describe("enrolment and identification over HTTP", () => {
  it("enrols from a WAV body and from a multipart form, then identifies a held-out recording", async () => {
    const half = durationOf(male) / 2;
    const alice = await t.app.request("/api/speakers/alice/samples", wavRequest(slice(female, 0, 7)));
    expect(alice.status).toBe(201);
    const aliceBody = (await alice.json()) as EnrolmentView;
    expect(aliceBody.speaker).toMatchObject({ id: "alice", enrolled: true, sampleCount: 1 });
    expect(aliceBody.samples).toHaveLength(1);
    expect(aliceBody.samples[0]).toMatchObject({ consistency: null, warnings: [] });

    const form = multipart([
      { name: "bob-1.wav", bytes: slice(male, 0, half / 2) },
      { name: "bob-2.wav", bytes: slice(male, half / 2, half), type: "audio/x-wav" },
    ]);
    const bob = await t.app.request("/api/speakers/bob/samples", { method: "POST", body: form });
    expect(bob.status).toBe(201);
    const bobBody = (await bob.json()) as EnrolmentView;
    expect(bobBody.samples.map((s) => s.name)).toEqual(["bob-1.wav", "bob-2.wav"]);
    expect(bobBody.samples[1].consistency!.mean).toBeGreaterThan(0.75);
    expect(bobBody.speaker.samples.map((s) => s.source)).toEqual(["http", "http"]);
    expect(samplesOf("bob")).toHaveLength(2);
    expect(await temp.clipFiles()).toHaveLength(3);

    const who = await t.app.request(
      "/api/identify",
      wavRequest(slice(male, half), "application/octet-stream"),
    );
    expect(who.status).toBe(200);
    const result = (await who.json()) as Identification;
    expect(result).toMatchObject({ speaker: "Bob", speakerId: "bob", reason: null, threshold: 0.82 });
    expect(result.scores.Bob).toBeGreaterThan(result.scores.Alice);

    const stranger = await t.app.request("/api/identify", {
      method: "POST",
      body: multipart([{ name: "who.wav", bytes: outsider }]),
    });
    expect(stranger.status).toBe(200);
    expect(await stranger.json()).toMatchObject({ speaker: null, speakerId: null, reason: "unknown" });

    const two = await t.app.request("/api/identify", {
      method: "POST",
      body: multipart([
        { name: "a.wav", bytes: slice(male, 0, 3) },
        { name: "b.wav", bytes: slice(male, 3, 6) },
      ]),
    });
    expect(await errorOf(two)).toMatchObject({ status: 400, code: "one_file_expected" });

    // Deleting a sample removes it and its clip.
    const sampleId = bobBody.samples[0].sampleId;
    expect((await t.app.request(`/api/speakers/bob/samples/${sampleId}`, { method: "DELETE" })).status).toBe(
      204,
    );
    expect(samplesOf("bob").map((s) => s.id)).toEqual([bobBody.samples[1].sampleId]);
    expect(await temp.clipFiles()).toHaveLength(2);
  });

  it("rejects bad uploads with the right status and writes nothing", async () => {
    const before = temp.registry.list();
    const silence = encodePcm16Wav(new Float32Array(2 * SAMPLE_RATE), SAMPLE_RATE);
    const text = new TextEncoder().encode("hello, this is not audio");
    const url = "/api/speakers/alice/samples";
    const cases: [string, RequestInit, number, string, RegExp?][] = [
      ["empty body", wavRequest(new Uint8Array(0)), 400, "empty_body"],
      ["truncated WAV", wavRequest(truncated(slice(female, 0, 3))), 422, "invalid_wav", /truncated WAV/],
      ["PNG as image/png", wavRequest(PNG_BYTES, "image/png"), 415, "unsupported_media_type"],
      [
        "PNG as octet-stream",
        wavRequest(PNG_BYTES, "application/octet-stream"),
        415,
        "unsupported_media_type",
        /RIFF/,
      ],
      ["PNG labelled audio/wav", wavRequest(PNG_BYTES, "audio/wav"), 422, "invalid_wav", /not a WAV file/],
      ["text/plain", wavRequest(text, "text/plain"), 415, "unsupported_media_type"],
      ["JSON", jsonRequest("POST", { audio: "x" }), 415, "unsupported_media_type"],
      ["silence", wavRequest(silence), 422, "no_speech", /no speech/],
      [
        "multipart with a text file",
        { method: "POST", body: multipart([{ name: "notes.txt", bytes: text, type: "text/plain" }]) },
        415,
        "unsupported_media_type",
        /notes\.txt/,
      ],
      [
        "multipart with one good and one truncated file",
        {
          method: "POST",
          body: multipart([
            { name: "good.wav", bytes: slice(female, 0, 4) },
            { name: "cut.wav", bytes: truncated(slice(female, 4, 8)) },
          ]),
        },
        422,
        "invalid_wav",
        /clip 2 of 2 \("cut\.wav"\)/,
      ],
    ];
    const noFiles = new FormData();
    noFiles.append("name", "just a field");
    cases.push(["multipart without files", { method: "POST", body: noFiles }, 400, "no_files"]);
    for (const [label, init, status, code, message] of cases) {
      const error = await errorOf(await t.app.request(url, init));
      expect({ label, status: error.status, code: error.code }).toEqual({ label, status, code });
      if (message) expect(error.message).toMatch(message);
    }
    // Unknown speaker: 404 before the body is even looked at.
    const unknown = await t.app.request("/api/speakers/nobody/samples", wavRequest(slice(female, 0, 4)));
    expect(await errorOf(unknown)).toMatchObject({ status: 404, code: "speaker_not_found" });

    expect(temp.registry.list()).toEqual(before);
    expect(await temp.clipFiles()).toEqual([]);
  });

  it("enforces the audio length and body size limits", async () => {
    const short = makeApp(pipeline, temp, { config: { maxUploadSeconds: 5, bodyLimitBytes: 200_000 } });
    const long = await short.app.request("/api/speakers/alice/samples", wavRequest(slice(female, 0, 6)));
    expect(await errorOf(long)).toMatchObject({ status: 413, code: "clip_too_long" });
    const big = slice(female, 0, 7); // 224 kB > 200 kB
    const tooBig = await short.app.request("/api/speakers/alice/samples", wavRequest(big));
    expect(await errorOf(tooBig)).toMatchObject({ status: 413, code: "payload_too_large" });
    // Without a Content-Length (a stream), the limit is counted while reading.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(big);
        controller.close();
      },
    });
    const streamed = await short.app.request("/api/identify", {
      method: "POST",
      body: stream,
      headers: { "Content-Type": "audio/wav" },
      duplex: "half",
    } as RequestInit);
    expect(await errorOf(streamed)).toMatchObject({ status: 413, code: "payload_too_large" });
    expect(samplesOf("alice")).toEqual([]);
    expect(await temp.clipFiles()).toEqual([]);
  });

  it("lands all of 10 concurrent enrolments of the same speaker", async () => {
    const roomy = makeApp(pipeline, temp, { config: { maxUploadsInFlight: 10 } });
    const clips = Array.from({ length: 10 }, (_, i) => slice(male, i, i + 3));
    const responses = await Promise.all(
      clips.map((bytes) => roomy.app.request("/api/speakers/bob/samples", wavRequest(bytes))),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(201));
    const ids = await Promise.all(
      responses.map(async (r) => ((await r.json()) as EnrolmentView).samples[0].sampleId),
    );
    expect(new Set(ids).size).toBe(10);
    expect(
      samplesOf("bob")
        .map((s) => s.id)
        .sort(),
    ).toEqual([...ids].sort());
    expect(await temp.clipFiles()).toEqual(ids.map((id) => `bob/${id}.wav`).sort());
  });
});

describe("POST /api/speakers/:id/record", () => {
  it("enrols from the live input", async () => {
    const live = new WavLiveAudio(female);
    const withMic = makeApp(pipeline, temp, { liveAudio: live });
    const res = await withMic.app.request("/api/speakers/alice/record", jsonRequest("POST", { seconds: 5 }));
    expect(res.status).toBe(201);
    const body = (await res.json()) as EnrolmentView;
    expect(live.calls).toEqual([5]);
    expect(body.samples[0].durationSeconds).toBeCloseTo(5, 2);
    expect(body.speaker.samples[0]).toMatchObject({ source: "microphone", hasClip: true });
    expect(await temp.clipFiles()).toEqual([`alice/${body.samples[0].sampleId}.wav`]);
  });

  it("validates, 404s unknown speakers, refuses a second recording and answers 503 without a live source", async () => {
    const live = new WavLiveAudio(female, 300);
    const withMic = makeApp(pipeline, temp, { liveAudio: live });
    const record = (id: string, body: unknown) =>
      withMic.app.request(`/api/speakers/${id}/record`, jsonRequest("POST", body));
    for (const seconds of [0, 0.5, 31, "5"]) {
      expect(await errorOf(await record("alice", { seconds }))).toMatchObject({
        status: 400,
        code: "invalid_request",
      });
    }
    expect(await errorOf(await record("nobody", { seconds: 3 }))).toMatchObject({
      status: 404,
      code: "speaker_not_found",
    });
    const [first, second] = await Promise.all([
      record("alice", { seconds: 3 }),
      record("alice", { seconds: 3 }),
    ]);
    expect(first.status).toBe(201);
    expect(await errorOf(second)).toMatchObject({ status: 409, code: "recording_in_progress" });
    expect(live.calls).toEqual([3]);

    const res = await t.app.request("/api/speakers/alice/record", jsonRequest("POST", { seconds: 3 }));
    expect(await errorOf(res)).toMatchObject({ status: 503, code: "live_audio_unavailable" });
    expect(samplesOf("alice")).toHaveLength(1);
  });
});

describe("what the web page reads about a person's samples", () => {
  it("serves kept clips, the samples' consistency and the scores a threshold is set against", async () => {
    await t.app.request("/api/speakers/alice/samples", wavRequest(slice(female, 0, 6)));
    await t.app.request("/api/speakers/alice/samples", wavRequest(slice(female, 6, 12)));
    await t.app.request("/api/speakers/bob/samples", wavRequest(slice(male, 0, 8)));

    const { speaker } = (await (await t.app.request("/api/speakers/alice")).json()) as {
      speaker: { consistency: number; samples: { id: string }[] };
    };
    expect(speaker.consistency).toBeGreaterThan(0.75);
    expect(speaker.consistency).toBeLessThanOrEqual(1);

    const scores = (await (await t.app.request("/api/speakers/alice/scores")).json()) as {
      threshold: number | null;
      defaultThreshold: number;
      own: { sampleId: string; score: number }[];
      others: { id: string; name: string; score: number }[];
    };
    expect(scores.threshold).toBeNull();
    expect(scores.defaultThreshold).toBe(0.82);
    expect(scores.own.map((o) => o.sampleId)).toEqual(speaker.samples.map((s) => s.id));
    expect(Math.min(...scores.own.map((o) => o.score))).toBeGreaterThan(0.75);
    expect(scores.others).toHaveLength(1);
    expect(scores.others[0]).toMatchObject({ id: "bob", name: "Bob" });
    expect(scores.others[0].score).toBeLessThan(Math.min(...scores.own.map((o) => o.score)));

    const clip = await t.app.request(`/api/speakers/alice/samples/${speaker.samples[0].id}/audio`);
    expect(clip.status).toBe(200);
    expect(clip.headers.get("content-type")).toBe("audio/wav");
    const bytes = new Uint8Array(await clip.arrayBuffer());
    expect(Buffer.from(bytes.subarray(0, 4)).toString("latin1")).toBe("RIFF");
    expect(durationOf(bytes)).toBeCloseTo(6, 1);
    expect(await errorOf(await t.app.request("/api/speakers/alice/samples/nope/audio"))).toMatchObject({
      status: 404,
    });
  });
});
