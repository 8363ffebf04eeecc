import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { MqttRecorder, readRetained } from "../mqtt/recorder.js";
import {
  buildStream,
  conversationStream,
  type DaemonProcess,
  type EventPayload,
  enrolmentClips,
  enrolOverHttp,
  parseEvents,
  type StreamPiece,
  spawnDaemon,
  streamedPieces,
  type TestStream,
  waitForHealth,
  within,
} from "./helpers.js";

/**
 * The daemon as a user runs it: a real `voiceid run --input -` process, a real mosquitto, speakers
 * enrolled over its HTTP API, real speech on stdin, and an independent MQTT subscriber watching.
 */

const ROOM = "e2e";
const base = `voiceid/${ROOM}`;
const discoveryTopic = `homeassistant/device/voiceid_${ROOM}/config`;
const talkingTopic = (id: string) => `${base}/speaker/${encodeURIComponent(id)}/talking`;

let broker: MosquittoBroker;
let recorder: MqttRecorder | null = null;
let daemon: DaemonProcess | null = null;
const ids = { A: "", B: "" };
let stream: TestStream;
let exitCode: number | string;
let retained: Map<string, string>;

beforeAll(async () => {
  broker = await startMosquitto();
  recorder = await MqttRecorder.start(broker.url, [`${base}/#`, "homeassistant/#"]);
  daemon = await spawnDaemon({ mqttUrl: broker.url, room: ROOM });
  await waitForHealth(daemon, (h) => h.httpStatus === 200 && h.status === "ok", "a healthy daemon");

  const clips = enrolmentClips();
  ids.A = await enrolOverHttp(daemon, "Alice", clips.A);
  ids.B = await enrolOverHttp(daemon, "Bob", clips.B);
  // Discovery follows the registry: wait until both talking sensors are announced before speaking.
  await recorder.waitFor(
    (m) => m.topic === discoveryTopic && m.payload.includes(ids.A) && m.payload.includes(ids.B),
    "discovery with both speakers",
  );

  stream = conversationStream();
  daemon.feed(stream.wav);
  exitCode = await within(daemon.exited, 45_000, "the daemon to exit after its input ended", daemon);
  retained = await readRetained(broker.url, [`${base}/#`, "homeassistant/#"]);
});

afterAll(async () => {
  await recorder?.stop();
  await daemon?.dispose();
  await broker?.stop();
});

/** One speaker turn as the events tell it. */
interface Segment {
  turnId: number;
  events: EventPayload[];
  /** Indices in recorder.messages of its started / stopped event. */
  startedAt: number;
  stoppedAt: number;
  /** The stream piece (true speaker) it overlaps most. */
  piece: StreamPiece;
}

function segments(): Segment[] {
  const messages = recorder!.messages;
  const bySegment = new Map<number, Omit<Segment, "piece">>();
  messages.forEach((m, index) => {
    if (m.topic !== `${base}/event`) return;
    const event = JSON.parse(m.payload) as EventPayload;
    let s = bySegment.get(event.turnId);
    if (!s) {
      s = { turnId: event.turnId, events: [], startedAt: -1, stoppedAt: -1 };
      bySegment.set(event.turnId, s);
    }
    s.events.push(event);
    if (event.type === "started") s.startedAt = index;
    if (event.type === "stopped") s.stoppedAt = index;
  });
  return [...bySegment.values()].map((s) => {
    const stopped = s.events.find((e) => e.type === "stopped");
    const from = s.events[0].offsetS;
    const to = from + (stopped?.durationS ?? 0);
    const overlap = (p: StreamPiece) => Math.min(to, p.endS) - Math.max(from, p.startS);
    const piece = stream.pieces.reduce((best, p) => (overlap(p) > overlap(best) ? p : best));
    return { ...s, piece };
  });
}

/** Segments of each stream piece, in stream order. */
function segmentsOfPieces(): Segment[][] {
  const segs = segments();
  return stream.pieces.map((piece) => segs.filter((s) => s.piece === piece));
}

const idOf = (who: string) => (who === "unknown" ? null : ids[who as "A" | "B"]);

describe("voiceid run on a stream of known, unknown and known speakers", () => {
  it("exits 0 by itself once its input ended and was reported", () => {
    expect(exitCode, daemon!.log()).toBe(0);
  });

  it("reports one started and one stopped event per speech segment, in order", () => {
    const segs = segments();
    const all = JSON.stringify(parseEvents(recorder!.messages, `${base}/event`));
    // One segment per piece of speech; the VAD may cut a piece at a pause, never merge two.
    expect(segs.length, all).toBeGreaterThanOrEqual(stream.pieces.length);
    expect(segs.length, all).toBeLessThanOrEqual(stream.pieces.length + 2);
    for (const s of segs) {
      expect(s.events.filter((e) => e.type === "started")).toHaveLength(1);
      expect(s.events.filter((e) => e.type === "stopped")).toHaveLength(1);
      expect(s.events[0].type).toBe("started");
      expect(s.events.at(-1)?.type).toBe("stopped");
    }
    for (const [i, ofPiece] of segmentsOfPieces().entries())
      expect(ofPiece.length, `segments of piece ${i} (${stream.pieces[i].who})`).toBeGreaterThanOrEqual(1);
  });

  it("names A, then says unknown for the stranger, then B, then A again", () => {
    const named = segmentsOfPieces().map((segs) => [...new Set(segs.map((s) => s.events.at(-1)!.speakerId))]);
    expect(named).toEqual(stream.pieces.map((p) => [idOf(p.who)]));
    const names = segments().map((s) => s.events.at(-1)!.speaker);
    expect([...new Set(names)]).toEqual(["Alice", null, "Bob"]);
  });

  it("never names the nearest enrolled person for the stranger, and ends the turn as unknown", () => {
    const stranger = segments().filter((s) => s.piece.who === "unknown");
    expect(stranger.length).toBeGreaterThanOrEqual(1);
    for (const e of stranger.flatMap((s) => s.events)) {
      expect(e.speakerId).toBeNull();
      expect(e.speaker).toBeNull();
      expect(e.reason).toMatch(/^(pending|unknown)$/);
    }
    expect(stranger.at(-1)!.events.at(-1)!.reason).toBe("unknown");
  });

  it("starts every turn as pending and claims a member only by name, never as unknown", () => {
    for (const s of segments()) {
      expect(s.events[0]).toMatchObject({ type: "started", reason: "pending", speakerId: null });
      if (s.piece.who !== "unknown") expect(s.events.some((e) => e.reason === "unknown")).toBe(false);
      // Every decision says where in the stream it was made, never before the turn began.
      for (const e of s.events) expect(e.decidedAtS).toBeGreaterThanOrEqual(e.offsetS);
    }
    const identified = recorder!.on(`${base}/identified`).map((m) => JSON.parse(m.payload).event_type);
    expect(identified).toEqual([ids.A, "unrecognized", ids.B, ids.A]);
  });

  it("puts each piece of speech within 2 s of where it really is (offsetS from the input start)", () => {
    for (const [i, segs] of segmentsOfPieces().entries()) {
      const piece = stream.pieces[i];
      const first = segs[0].events[0];
      expect(Math.abs(first.offsetS - piece.startS), `${piece.who} @${piece.startS}`).toBeLessThanOrEqual(2);
      const last = segs.at(-1)!.events.at(-1)!;
      const end = last.offsetS + (last.durationS ?? 0);
      expect(Math.abs(end - piece.endS), `${piece.who} ends @${piece.endS}`).toBeLessThanOrEqual(2);
      for (const s of segs) expect(s.events.at(-1)!.offsetS).toBe(s.events[0].offsetS);
    }
  });

  it("turns talking ON for A and B during their own segments, OFF after, and leaves both OFF", () => {
    const messages = recorder!.messages;
    for (const s of segments()) {
      for (const key of ["A", "B"] as const) {
        const topic = talkingTopic(ids[key]);
        const onDuring = messages
          .slice(s.startedAt, s.stoppedAt + 1)
          .some((m) => m.topic === topic && m.payload === "ON");
        expect(onDuring, `${key} talking during ${s.piece.who}'s segment`).toBe(s.piece.who === key);
        if (s.piece.who === key) {
          const next = messages.slice(s.stoppedAt).find((m) => m.topic === topic);
          expect(next?.payload, `${key} talking after the segment`).toBe("OFF");
        }
      }
    }
    expect(retained.get(talkingTopic(ids.A))).toBe("OFF");
    expect(retained.get(talkingTopic(ids.B))).toBe("OFF");
  });

  it("keeps the last speaker retained", () => {
    const last = JSON.parse(retained.get(`${base}/last_speaker`) ?? "null") as {
      speaker: string | null;
      speakerId: string | null;
    };
    expect(last).toMatchObject({ speaker: "Alice", speakerId: ids.A });
  });

  it("announces a Home Assistant device with talking sensors for A and B and an event entity", () => {
    const raw = retained.get(discoveryTopic);
    expect(raw).toBeDefined();
    expect(raw).not.toContain("object_id");
    const payload = JSON.parse(raw!) as {
      avty_t: string;
      cmps: Record<string, { p: string; stat_t: string; default_entity_id?: string; evt_typ?: string[] }>;
    };
    expect(payload.avty_t).toBe(`${base}/status`);
    const components = Object.values(payload.cmps);
    for (const key of ["A", "B"] as const) {
      const sensor = components.find((c) => c.stat_t === talkingTopic(ids[key]));
      expect(sensor?.p, `talking sensor for ${key}`).toBe("binary_sensor");
    }
    const event = components.find((c) => c.p === "event");
    expect(event?.evt_typ).toEqual(expect.arrayContaining([ids.A, ids.B, "unrecognized"]));
    for (const c of components) expect(c.default_entity_id).toMatch(/^[a-z_]+\.[a-z0-9_]+$/);
  });

  it('says "online" while running and leaves "offline" retained after the run', () => {
    const status = recorder!.on(`${base}/status`).map((m) => m.payload);
    expect(status[0]).toBe("online");
    expect(status.at(-1)).toBe("offline");
    expect(retained.get(`${base}/status`)).toBe("offline");
  });
});

describe("voiceid run stopped with SIGTERM", () => {
  // Typed with a space: topics carry its slug, never the name itself.
  const room = "E2E Stop";
  const root = "voiceid/e2e_stop";
  let stopDaemon: DaemonProcess | null = null;
  let watcher: MqttRecorder | null = null;

  afterAll(async () => {
    await watcher?.stop();
    await stopDaemon?.dispose();
  });

  it("ends the open turn, says offline and exits 0", async () => {
    watcher = await MqttRecorder.start(broker.url, [`${root}/#`]);
    stopDaemon = await spawnDaemon({ mqttUrl: broker.url, room, realtime: true });
    const d = stopDaemon;
    await waitForHealth(d, (h) => h.httpStatus === 200, "a healthy daemon");
    const aliceId = await enrolOverHttp(d, "Alice", enrolmentClips().A);
    const p = streamedPieces();
    // Paced like a microphone: A talks from 0.5 s for ~4 s, then silence; stopped mid-speech.
    d.feed(buildStream([0.5, ["A", p.a1], 5]).wav);
    // Killed mid-speech once Alice is named.
    const started = await watcher.waitFor(
      (m) => m.topic === `${root}/event` && JSON.parse(m.payload).speakerId !== null,
      "Alice named",
      20_000,
    );
    const turnId = (JSON.parse(started.payload) as EventPayload).turnId;
    // Every stage of the pipeline is timed under its own label.
    const metrics = await (await fetch(`${d.httpUrl}/metrics`)).text();
    for (const stage of ["vad", "encoder", "match", "publish"]) {
      const count = Number(
        new RegExp(`voiceid_stage_seconds_count\\{stage="${stage}"\\} (\\d+)`).exec(metrics)?.[1],
      );
      expect(count, stage).toBeGreaterThan(0);
    }
    d.child.kill("SIGTERM");
    const code = await within(d.exited, 10_000, "the daemon to stop after SIGTERM", d);
    expect(code, d.log()).toBe(0);

    const events = parseEvents(watcher.messages, `${root}/event`);
    const stopped = events.find((e) => e.turnId === turnId && e.type === "stopped");
    expect(stopped?.speakerId).toBe(aliceId);
    const state = await readRetained(broker.url, [`${root}/#`]);
    expect(state.get(`${root}/status`)).toBe("offline");
    expect(state.get(`${root}/speaker/${encodeURIComponent(aliceId)}/talking`)).toBe("OFF");
  });
});
