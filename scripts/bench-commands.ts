/**
 * `npm run bench:commands`: voice commands through the Wyoming proxy (issue 20), as Home Assistant sends
 * them: the real WyomingProxy component with the daemon's models, a Wyoming client and an upstream
 * speech-to-text service on loopback (both with voiceid's codec), members enrolled through the real
 * Enroller into a real registry.
 *
 * - Latency added by voiceid: from the client's audio-stop to the upstream receiving audio-stop, for 3 s
 *   commands streamed in real time, in each mode, against the same client talking to the upstream directly
 *   in the same run (the reference). Goal p95 <= 50 ms beyond the direct path.
 * - Short commands (1.0-3.0 s) built from the shared LibriSpeech audio, households of 10 drawn per seed:
 *   - dry: members enrolled on the first half of their clean file, commands from the second half;
 *   - room: enrolled as a user would (the clean file uploaded, simulated rooms on), commands from the far-
 *     field room recordings (librispeech-room). Goals: named >= 90 % (dry), >= 80 % (room).
 *   - room-enrolled, for reference: enrolled through the room microphone itself.
 *   - visitors (nobody enrolled) and "TV" (a visitor's voice at -12 dB, nobody else) in gate mode:
 *     forwarded <= 1 %;
 *   - extract: a visitor talking (1-2 s) before a member's command (2-3 s): >= 90 % of the member's
 *     speech and <= 10 % of the visitor's forwarded.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import os from "node:os";
import path from "node:path";
import { configSchema } from "../src/config/schema.js";
import { Enroller } from "../src/enrolment/enroller.js";
import { Identifier } from "../src/enrolment/identifier.js";
import { encodePcm16Wav } from "../src/enrolment/wav-encode.js";
import { commandIdentifierOptions, segmenterOptions } from "../src/identify/options.js";
import { SpeakerRegistry } from "../src/registry/registry.js";
import { silentLogger } from "../src/util/log.js";
import { mulberry32 } from "../src/util/random.js";
import type { VoiceCommand, WyomingMode } from "../src/wyoming/command.js";
import { WyomingPeer } from "../src/wyoming/peer.js";
import { WyomingProxy } from "../src/wyoming/proxy.js";
import { freePort } from "../test/helpers/mosquitto.js";
import { percentile, sleep } from "./bench/live.js";
import {
  enrolHousehold,
  librispeechFiles,
  numberOption,
  parseBenchArgs,
  progress,
  runMain,
  startSpeechModels,
} from "./bench/setup.js";
import { formatTable, heading, pct, verdict } from "./bench/table.js";
import { type Audio, drawHousehold, enrolmentOf, loadAudio } from "./bench/turn-streams.js";

const RATE = 16_000;
/**
 * [name, enrolled from, commands heard from]: dry; room, enrolled as a user would (a clean upload, with
 * simulated rooms); and, for reference, enrolled through the room microphone itself.
 */
const CONDITIONS = [
  ["dry", "dry", "dry"],
  ["room", "dry", "room"],
  ["room-enrolled", "room", "room"],
] as const satisfies ReadonlyArray<readonly [string, Audio, Audio]>;
type Condition = (typeof CONDITIONS)[number][0];
const GOALS = {
  latencyP95Ms: 50,
  dry: 0.9,
  room: 0.8,
  forwardedOthers: 0.01,
  memberShare: 0.9,
  otherShare: 0.1,
};
/** Samples per audio-chunk, as a satellite streams them (64 ms). */
const CHUNK = 1024;

const USAGE = `usage: npm run bench:commands -- [options]
  --seeds N           households per condition (default 3)
  --per-member N      commands per member and household (default 5)
  --latency-runs N    3 s commands per mode for the latency, streamed in real time (default 20)
  --encoder ID        the speaker encoder (default resemblyzer-0.1.4; the daemon's auto takes CAM++ where
                      it is fast enough)
  --json              print one JSON object instead of tables`;

// ---------------------------------------------------------------------------------------------------------
// A speech-to-text service on loopback that records what it receives.

interface Received {
  stopAt: number;
  /** [timestamp ms or null, bytes] per audio-chunk. */
  chunks: Array<[number | null, number]>;
}

class RecordingUpstream {
  private server: Server | null = null;
  readonly received: Received[] = [];
  port = 0;

  async start(): Promise<void> {
    const server = createServer((socket) => {
      socket.setNoDelay(true);
      const peer = new WyomingPeer(socket);
      void (async () => {
        let current: Received = { stopAt: 0, chunks: [] };
        for (;;) {
          const event = await peer.next().catch(() => null);
          if (!event) break;
          if (event.type === "describe") {
            const attribution = { name: "bench", url: "" };
            const model = {
              name: "m",
              attribution,
              installed: true,
              description: null,
              version: null,
              languages: ["en"],
            };
            const asr = [
              {
                name: "bench-stt",
                attribution,
                installed: true,
                description: null,
                version: null,
                models: [model],
              },
            ];
            await peer.send({ type: "info", data: { asr }, payload: null });
          } else if (event.type === "audio-start") current = { stopAt: 0, chunks: [] };
          else if (event.type === "audio-chunk") {
            const ts = typeof event.data.timestamp === "number" ? event.data.timestamp : null;
            current.chunks.push([ts, event.payload?.length ?? 0]);
          } else if (event.type === "audio-stop") {
            current.stopAt = performance.now();
            this.received.push(current);
            await peer.send({ type: "transcript", data: { text: "ok" }, payload: null });
          }
        }
        peer.close();
      })();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const address = server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    this.server = server;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

function pcm16(samples: Float32Array): Uint8Array {
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) {
    out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), i * 2);
  }
  return out;
}

/** Sends one command as Home Assistant does; resolves with the time audio-stop was written and the text. */
async function sendCommand(
  port: number,
  samples: Float32Array,
  realtime: boolean,
): Promise<{ stopSentAt: number; text: string }> {
  const peer = await WyomingPeer.connect(`tcp://127.0.0.1:${port}`, 5000);
  const format = { rate: RATE, width: 2, channels: 1 };
  const audio = pcm16(samples);
  const began = performance.now();
  await peer.send({ type: "transcribe", data: { language: "en" }, payload: null });
  await peer.send({ type: "audio-start", data: format, payload: null });
  for (let at = 0; at < samples.length; at += CHUNK) {
    if (realtime) {
      const due = began + ((at + CHUNK) / RATE) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    }
    await peer.send({ type: "audio-chunk", data: format, payload: audio.subarray(at * 2, (at + CHUNK) * 2) });
  }
  await peer.send({ type: "audio-stop", data: {}, payload: null });
  const stopSentAt = performance.now();
  let text = "";
  for (;;) {
    const event = await peer.next(60_000);
    if (!event) break;
    if (event.type === "transcript") {
      text = String(event.data.text ?? "");
      break;
    }
    if (event.type === "error") throw new Error(`proxy error: ${String(event.data.text)}`);
  }
  peer.close();
  return { stopSentAt, text };
}

// ---------------------------------------------------------------------------------------------------------
// Commands

interface BuiltCommand {
  kind: "member" | "visitor" | "tv" | "tv-before";
  /** The member who gives it, or null. */
  member: string | null;
  samples: Float32Array;
  /** [start, end) samples of the member's and the other voice's speech. */
  memberSpan: [number, number] | null;
  otherSpan: [number, number] | null;
}

const LEAD_S = 0.2;
const TAIL_S = 0.4;

function clip(
  file: Float32Array,
  half: "first" | "second" | "any",
  seconds: number,
  random: () => number,
): Float32Array {
  const mid = file.length >> 1;
  const [from, to] = half === "second" ? [mid, file.length] : half === "first" ? [0, mid] : [0, file.length];
  const length = Math.min(Math.round(seconds * RATE), to - from);
  const start = from + Math.floor(random() * (to - from - length + 1));
  return file.subarray(start, start + length);
}

/** Lead silence, the parts one after the other, tail silence. */
function assemble(parts: Float32Array[]): { samples: Float32Array; spans: Array<[number, number]> } {
  const lead = Math.round(LEAD_S * RATE);
  const total = lead + parts.reduce((n, p) => n + p.length, 0) + Math.round(TAIL_S * RATE);
  const samples = new Float32Array(total);
  const spans: Array<[number, number]> = [];
  let at = lead;
  for (const p of parts) {
    samples.set(p, at);
    spans.push([at, at + p.length]);
    at += p.length;
  }
  return { samples, spans };
}

function buildCommands(
  audio: Map<string, Float32Array>,
  members: string[],
  visitors: string[],
  perMember: number,
  seed: number,
): BuiltCommand[] {
  const random = mulberry32(seed * 7919);
  const length = () => 1 + 2 * random();
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  const out: BuiltCommand[] = [];
  for (const m of members) {
    for (let i = 0; i < perMember; i++) {
      const { samples, spans } = assemble([clip(audio.get(m)!, "second", length(), random)]);
      out.push({ kind: "member", member: m, samples, memberSpan: spans[0], otherSpan: null });
    }
  }
  const others = members.length * perMember;
  for (let i = 0; i < others / 2; i++) {
    const { samples, spans } = assemble([clip(audio.get(pick(visitors))!, "any", length(), random)]);
    out.push({ kind: "visitor", member: null, samples, memberSpan: null, otherSpan: spans[0] });
    const tv = clip(audio.get(pick(visitors))!, "any", length(), random).map((x) => x * 0.25);
    const built = assemble([tv]);
    out.push({
      kind: "tv",
      member: null,
      samples: built.samples,
      memberSpan: null,
      otherSpan: built.spans[0],
    });
  }
  for (let i = 0; i < others / 2; i++) {
    const m = pick(members);
    const before = clip(audio.get(pick(visitors))!, "any", 1 + random(), random);
    const command = clip(audio.get(m)!, "second", 2 + random(), random);
    const { samples, spans } = assemble([before, command]);
    out.push({ kind: "tv-before", member: m, samples, memberSpan: spans[1], otherSpan: spans[0] });
  }
  return out;
}

/** Share of [from, to) covered by the forwarded chunks (timestamps in ms of the command). */
function forwardedShare(received: Received, span: [number, number]): number {
  let covered = 0;
  for (const [ts, bytes] of received.chunks) {
    if (ts === null) continue;
    const start = Math.round((ts / 1000) * RATE);
    const end = start + bytes / 2;
    covered += Math.max(0, Math.min(end, span[1]) - Math.max(start, span[0]));
  }
  return covered / (span[1] - span[0]);
}

// ---------------------------------------------------------------------------------------------------------

interface Counts {
  memberCommands: number;
  named: number;
  wrongPerson: number;
  others: number;
  othersForwarded: number;
  extractCommands: number;
  memberShare: number;
  otherShare: number;
}

async function main(): Promise<number> {
  const v = parseBenchArgs(
    {
      seeds: { type: "string" },
      "per-member": { type: "string" },
      "latency-runs": { type: "string" },
      encoder: { type: "string" },
    },
    USAGE,
  );
  if (!v) return 0;
  const seeds = numberOption("seeds", v.seeds, 3, (n) => Number.isInteger(n) && n >= 1 && n <= 20, "1-20");
  const perMember = numberOption(
    "per-member",
    v["per-member"],
    5,
    (n) => Number.isInteger(n) && n >= 1,
    ">= 1",
  );
  const latencyRuns = numberOption(
    "latency-runs",
    v["latency-runs"],
    20,
    (n) => Number.isInteger(n) && n >= 1,
    ">= 1",
  );
  const files = librispeechFiles();
  const ids = files.map((f) => f.id);
  const { stack, config } = await startSpeechModels(v.encoder);
  const threshold = stack.defaultThreshold;
  const audio: Record<Audio, Map<string, Float32Array>> = {
    dry: loadAudio(files, "dry"),
    room: loadAudio(files, "room"),
  };
  const upstream = new RecordingUpstream();
  await upstream.start();
  const workDir = mkdtempSync(path.join(os.tmpdir(), "voiceid-bench-commands-"));

  const runProxy = async <T>(
    mode: WyomingMode,
    candidates: Identifier | null,
    work: (port: number, commands: VoiceCommand[]) => Promise<T>,
  ): Promise<T> => {
    const commands: VoiceCommand[] = [];
    const listen = `tcp://127.0.0.1:${await freePort()}`;
    const proxy = new WyomingProxy({
      config: configSchema.parse({
        wyoming: { enabled: true, listen, upstream: `tcp://127.0.0.1:${upstream.port}`, mode },
      }).wyoming,
      createVad: () => stack.streamVad(),
      encoder: stack.encoder,
      candidates: () => candidates?.candidates() ?? [],
      segmenter: segmenterOptions(config.vad),
      identification: commandIdentifierOptions(config.identification, threshold, stack.encoder.modelId),
      onCommand: (c) => {
        commands.push(c);
      },
      logger: silentLogger,
    });
    await proxy.start();
    try {
      return await work(proxy.listening!.port, commands);
    } finally {
      await proxy.stop();
    }
  };

  const results: Partial<Record<Condition, Counts>> = {};
  let latency: Record<string, { p50: number | null; p95: number | null; added95: number | null }> = {};
  try {
    for (const [condition, enrolFrom, heard] of CONDITIONS) {
      const counts: Counts = {
        memberCommands: 0,
        named: 0,
        wrongPerson: 0,
        others: 0,
        othersForwarded: 0,
        extractCommands: 0,
        memberShare: 0,
        otherShare: 0,
      };
      for (let seed = 1; seed <= seeds; seed++) {
        const household = drawHousehold(ids, seed);
        const registry = new SpeakerRegistry({
          dataDir: path.join(workDir, `${condition}-${seed}`),
          logger: silentLogger,
        });
        await registry.start();
        // As a user would: the clean recording uploaded (simulated rooms on), whatever microphone hears the commands.
        const idOf = await enrolHousehold(
          registry,
          stack.extractor,
          enrolmentOf(audio[enrolFrom], household),
          { simulateRooms: true },
          (id) => `speaker ${id}`,
        );
        const identifier = new Identifier(registry, {
          modelId: stack.encoder.modelId,
          defaultThreshold: threshold,
        });
        await identifier.start();
        const commands = buildCommands(audio[heard], household.members, household.visitors, perMember, seed);
        progress(`${condition}, household ${seed}: ${commands.length} commands`);
        await runProxy("extract", identifier, async (port, reported) => {
          for (const c of commands) {
            const before = upstream.received.length;
            await sendCommand(port, c.samples, false);
            const verdict = reported.at(-1)!;
            const forwarded = upstream.received.length > before ? upstream.received.at(-1)! : null;
            const named = verdict.speakerId === null ? null : (idOf.get(verdict.speakerId) ?? null);
            if (c.kind === "member") {
              counts.memberCommands++;
              if (named === c.member) counts.named++;
              else if (named !== null) counts.wrongPerson++;
            } else if (c.kind === "visitor" || c.kind === "tv") {
              counts.others++;
              if (forwarded) counts.othersForwarded++;
            } else {
              counts.extractCommands++;
              if (forwarded && c.memberSpan && c.otherSpan) {
                counts.memberShare += forwardedShare(forwarded, c.memberSpan);
                counts.otherShare += forwardedShare(forwarded, c.otherSpan);
              }
            }
          }
        });
        await identifier.stop();
        await registry.stop();
      }
      results[condition] = counts;
    }

    // Latency: 3 s commands of one enrolled member, in real time, direct and through each mode.
    const household = drawHousehold(ids, 1);
    const registry = new SpeakerRegistry({ dataDir: path.join(workDir, "latency"), logger: silentLogger });
    await registry.start();
    const enroller = new Enroller(registry, stack.extractor, { keepClips: false });
    const member = household.members[0];
    const file = audio.dry.get(member)!;
    await enroller.enrol(
      "member",
      [{ bytes: encodePcm16Wav(file.subarray(0, file.length >> 1), RATE), source: "cli" }],
      { create: true },
    );
    const identifier = new Identifier(registry, {
      modelId: stack.encoder.modelId,
      defaultThreshold: threshold,
    });
    await identifier.start();
    const random = mulberry32(42);
    const commands = Array.from(
      { length: latencyRuns },
      () => assemble([clip(file, "second", 3 - LEAD_S - TAIL_S, random)]).samples,
    );
    const measure = async (port: number): Promise<number[]> => {
      const out: number[] = [];
      for (const c of commands) {
        const before = upstream.received.length;
        const { stopSentAt } = await sendCommand(port, c, true);
        if (upstream.received.length > before) out.push(upstream.received.at(-1)!.stopAt - stopSentAt);
      }
      return out;
    };
    progress(`latency: ${latencyRuns} commands of 3 s in real time, direct`);
    const direct = await measure(upstream.port);
    const directP95 = percentile(direct, 0.95);
    latency = { direct: { p50: percentile(direct, 0.5), p95: directP95, added95: null } };
    for (const mode of ["pass", "gate", "extract"] as const) {
      progress(`latency: ${mode}`);
      const ms = await runProxy(mode, identifier, (port) => measure(port));
      const p95 = percentile(ms, 0.95);
      latency[mode] = {
        p50: percentile(ms, 0.5),
        p95,
        added95: p95 === null || directP95 === null ? null : p95 - directP95,
      };
    }
    await identifier.stop();
    await registry.stop();
  } finally {
    await upstream.stop();
    await stack.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  if (v.json) {
    process.stdout.write(`${JSON.stringify({ goals: GOALS, results, latency }, null, 2)}\n`);
    return 0;
  }
  const ms = (x: number | null) => (x === null ? null : x.toFixed(1));
  process.stdout.write(
    `${heading(`Latency added by voiceid (3 s commands in real time, ${latencyRuns} each)`)}\n`,
  );
  process.stdout.write(
    `${formatTable(
      ["path", "audio-stop to upstream p50 ms", "p95 ms", "added p95 ms", "goal", "verdict"],
      Object.entries(latency).map(([k, l]) => [
        k,
        ms(l.p50),
        ms(l.p95),
        ms(l.added95),
        k === "direct" ? "reference" : `<= ${GOALS.latencyP95Ms}`,
        k === "direct" || l.added95 === null ? null : verdict(l.added95 <= GOALS.latencyP95Ms),
      ]),
    )}\n`,
  );
  process.stdout.write(
    `${heading(`Short commands (1-3 s), ${seeds} households of 10, ${perMember} per member, ${stack.encoder.modelId}`)}\n`,
  );
  const rows: (string | number | null)[][] = [];
  for (const [condition, c] of Object.entries(results) as [Audio, Counts][]) {
    const named = c.named / c.memberCommands;
    const goal = condition === "dry" ? GOALS.dry : GOALS.room;
    rows.push([
      `${condition}: members named`,
      c.memberCommands,
      pct(named, 1),
      `>= ${pct(goal, 0)}`,
      verdict(named >= goal),
    ]);
    rows.push([
      `${condition}: named as another member`,
      c.memberCommands,
      pct(c.wrongPerson / c.memberCommands, 1),
      null,
      null,
    ]);
    const fwd = c.othersForwarded / c.others;
    rows.push([
      `${condition}: visitors/TV forwarded (gate)`,
      c.others,
      pct(fwd, 1),
      `<= ${pct(GOALS.forwardedOthers, 0)}`,
      verdict(fwd <= GOALS.forwardedOthers),
    ]);
    const ms = c.memberShare / c.extractCommands;
    const os_ = c.otherShare / c.extractCommands;
    rows.push([
      `${condition}: extract, member's speech forwarded`,
      c.extractCommands,
      pct(ms, 1),
      `>= ${pct(GOALS.memberShare, 0)}`,
      verdict(ms >= GOALS.memberShare),
    ]);
    rows.push([
      `${condition}: extract, other voice forwarded`,
      c.extractCommands,
      pct(os_, 1),
      `<= ${pct(GOALS.otherShare, 0)}`,
      verdict(os_ <= GOALS.otherShare),
    ]);
  }
  process.stdout.write(`${formatTable(["measure", "commands", "now", "goal", "verdict"], rows)}\n`);
  return 0;
}

runMain(main);
