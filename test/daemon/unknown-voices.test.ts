import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runShipped } from "../helpers/cli.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { utterance } from "../identify/helpers.js";
import { MqttRecorder } from "../mqtt/recorder.js";
import {
  buildStream,
  type DaemonProcess,
  type EventPayload,
  enrolmentClips,
  enrolOverHttp,
  spawnDaemon,
  streamedPieces,
  waitForHealth,
} from "./helpers.js";

/**
 * Voices nobody enrolled, end to end: the shipped daemon on a real broker hears a visitor between a
 * member's turns, keeps them as one voice, is told who they are and names them from then on; a second
 * voice is ignored and makes no message at all. Real model, real speech.
 */

const ROOM = "hall";
const VISITOR = "911-128684-0000";
const TV = "1723-141149-0000";
/** An utterance in three parts of about 5 s: three turns of one voice. */
const thirds = (stem: string) => {
  const all = utterance(stem);
  const third = Math.floor(all.length / 3);
  return [0, 1, 2].map((i) => all.subarray(i * third, (i + 1) * third));
};

type Event = EventPayload & { voice: string | null };

let broker: MosquittoBroker;
let mqtt: MqttRecorder;
let daemon: DaemonProcess;
let alice: string;
const api = (p: string, init?: RequestInit) => fetch(`${daemon.httpUrl}${p}`, init);
const post = (p: string, body: unknown) =>
  api(p, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
const events = () => mqtt.on(`voiceid/${ROOM}/event`).map((m) => JSON.parse(m.payload) as Event);
const stoppedCount = () => events().filter((e) => e.type === "stopped").length;
/** Raw s16le (no WAV header, whose length would end the input): the daemon hears one endless stream. */
const pcm = (parts: Parameters<typeof buildStream>[0]) => buildStream(parts).wav.subarray(44);
/** Plays a stream and waits for its turns to stop (one per piece unless told otherwise). */
async function play(parts: Parameters<typeof buildStream>[0], turns: number, timeoutMs = 60_000) {
  const before = stoppedCount();
  daemon.feed(pcm(parts), false);
  await mqtt.waitUntil(
    () => (stoppedCount() >= before + turns ? true : undefined),
    `${turns} more stopped turns\n${daemon.log()}`,
    timeoutMs,
  );
  return events()
    .filter((e) => e.type === "stopped")
    .slice(before);
}
async function voices(ignored = false) {
  const res = await api(`/api/voices${ignored ? "?ignored=1" : ""}`);
  expect(res.status).toBe(200);
  return (
    (await res.json()) as { voices: Array<{ id: string; turns: number; clips: number; label: string }> }
  ).voices;
}

beforeAll(async () => {
  broker = await startMosquitto();
  mqtt = await MqttRecorder.start(broker.url, [`voiceid/${ROOM}/#`]);
  daemon = await spawnDaemon({
    mqttUrl: broker.url,
    room: ROOM,
    env: { VOICEID__UNKNOWN_VOICES__KEEP_CLIPS: "true" },
  });
  await waitForHealth(daemon, (h) => h.httpStatus === 200, "a healthy daemon");
  alice = await enrolOverHttp(daemon, "Alice", enrolmentClips().A);
}, 60_000);

afterAll(async () => {
  await mqtt?.stop().catch(() => {});
  await daemon?.dispose();
  await broker?.stop();
});

describe("voices nobody enrolled", () => {
  const visitor = thirds(VISITOR);
  const tv = thirds(TV);
  const a = streamedPieces();

  it("keeps a visitor's turns between a member's as one voice, with a stable id on MQTT", async () => {
    const stopped = await play(
      [0.5, ["A", a.a1], 2, ["V", visitor[0]], 2, ["A", a.a2], 2, ["V", visitor[1]], 2.5],
      4,
    );
    expect(stopped.map((e) => e.speakerId ?? e.reason)).toEqual([alice, "unknown", alice, "unknown"]);
    const [first, second] = stopped.filter((e) => e.reason === "unknown");
    expect(first.voice).toMatch(/^voice-\d+$/);
    expect(second.voice).toBe(first.voice);
    // Members' turns carry no voice.
    expect(stopped.filter((e) => e.speakerId === alice).every((e) => e.voice === null)).toBe(true);
    // Heard before: the second turn's "unrecognized" announcement already says which voice it is.
    const identified = mqtt
      .on(`voiceid/${ROOM}/identified`)
      .map((m) => JSON.parse(m.payload) as { event_type: string; voice: string | null; turnId: number });
    expect(identified.find((e) => e.turnId === second.turnId)).toMatchObject({
      event_type: "unrecognized",
      voice: first.voice,
    });
    const kept = await voices();
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ id: first.voice, turns: 2, clips: 2 });
    // Clips can be played before naming.
    const clip = await api(`/api/voices/${first.voice}/clips/0/audio`);
    expect(clip.headers.get("content-type")).toBe("audio/wav");
    expect((await clip.arrayBuffer()).byteLength).toBeGreaterThan(44 + 2 * 16_000);
  }, 120_000);

  it("refuses hostile voice ids and labels, and changes nothing", async () => {
    const before = JSON.stringify(await voices());
    const speakers = await (await api("/api/speakers")).text();
    expect((await api("/api/voices/..%2F..%2Fregistry.json")).status).toBe(400);
    expect((await post("/api/voices/voice-1%00/ignore", { label: "x" })).status).toBe(400);
    expect((await post("/api/voices/voice-999/ignore", { label: "TV" })).status).toBe(404);
    const id = (await voices())[0].id;
    expect((await post(`/api/voices/${id}/ignore`, { label: "TV\u0007" })).status).toBe(400);
    expect((await post(`/api/voices/${id}/ignore`, { label: "x".repeat(300) })).status).toBe(400);
    expect((await post(`/api/voices/${id}/assign`, { name: "voice-7" })).status).toBe(400);
    expect((await post(`/api/voices/${id}/assign`, { name: "Bob", extra: 1 })).status).toBe(400);
    expect((await post(`/api/voices/${id}/assign`, { speakerId: "nobody-here" })).status).toBe(404);
    // A page on another site cannot name or ignore anyone.
    const crossSite = await api(`/api/voices/${id}/ignore`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Origin: "https://evil.example",
        "Sec-Fetch-Site": "cross-site",
      },
      body: JSON.stringify({ label: "TV" }),
    });
    expect(crossSite.status).toBe(403);
    expect(JSON.stringify(await voices())).toBe(before);
    expect(await (await api("/api/speakers")).text()).toBe(speakers);
  });

  it("names the visitor from the next turn on once told who they are", async () => {
    const id = (await voices())[0].id;
    const res = await post(`/api/voices/${id}/assign`, { name: "Victor" });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { speaker: { id: string }; samples: number };
    expect(body.samples).toBe(2);
    // The voice became the person: it is no longer listed, and its clips went with it.
    expect(await voices()).toEqual([]);
    const [turn] = await play([1, ["V", visitor[2]], 2.5], 1);
    expect(turn).toMatchObject({ speakerId: body.speaker.id, reason: null, voice: null });
    const announced = events().filter((e) => e.turnId === turn.turnId && e.type === "updated");
    expect(announced[0]?.speakerId).toBe(body.speaker.id);
  }, 120_000);

  it("ignores a voice: its later turns make no MQTT message; the CLI lists and forgets it", async () => {
    const stopped = await play([1, ["TV", tv[0]], 2, ["TV", tv[1]], 2.5], 2);
    const id = stopped[0].voice!;
    expect(stopped[1].voice).toBe(id);
    const env = { VOICEID_HTTP_PORT: new URL(daemon.httpUrl).port, VOICEID_CONFIG: "" };
    const ignored = await runShipped(["voices", "ignore", id, "TV"], { env });
    expect(ignored.stderr).toBe("");
    expect(ignored.code).toBe(0);
    const listed = await runShipped(["voices", "--ignored", "--json"], { env });
    expect(JSON.parse(listed.stdout)).toMatchObject([{ id, label: "TV" }]);

    const messagesBefore = mqtt.messages.length;
    // The TV talks, then Alice: only Alice's turn reaches the broker.
    const before = stoppedCount();
    daemon.feed(pcm([1, ["TV", tv[2]], 2.5, ["A", a.a1], 2.5]), false);
    await mqtt.waitUntil(() => (stoppedCount() > before ? true : undefined), "Alice's turn", 60_000);
    const after = mqtt.messages.slice(messagesBefore).filter((m) => m.topic === `voiceid/${ROOM}/event`);
    // Alice's turn alone: its start (held until she was named), her name, its end.
    expect(after.map((m) => JSON.parse(m.payload) as Event).map((e) => [e.type, e.speakerId])).toEqual([
      ["started", null],
      ["updated", alice],
      ["stopped", alice],
    ]);
    expect(daemon.log()).toMatch(new RegExp(`\\(ignored\\).*"voice":"${id}"`));

    const clipsDir = path.join(daemon.dataDir, "unknown-voices");
    const forgotten = await runShipped(["voices", "forget", id], { env });
    expect(forgotten.code).toBe(0);
    expect(await voices(true)).toEqual([]);
    expect(existsSync(clipsDir) ? readdirSync(clipsDir) : []).toEqual([]);
  }, 180_000);

  it("keeps nothing while muted", async () => {
    const off = await post("/api/listening", { listening: false });
    expect(off.status).toBe(200);
    daemon.feed(pcm([1, ["TV", tv[0]], 2, ["TV", tv[1]], 2.5]), false);
    // Listening again, then a member's turn: once it is reported, the muted audio is long gone.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await post("/api/listening", { listening: true })).status).toBe(200);
    await play([1, ["A", a.a2], 2.5], 1);
    expect(await voices()).toEqual([]);
    const file = path.join(daemon.dataDir, "unknown-voices.json");
    expect(readFileSync(file, "utf8")).not.toMatch(/"voice-\d+","createdAt".*"ignored":false/);
  }, 120_000);
});
