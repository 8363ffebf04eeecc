import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { loadManifest } from "../../src/models/manifest.js";
import { modelFilePath } from "../../src/models/paths.js";
import { buildStream, conversationStream, SPEAKER_A, SPEAKER_B, streamedPieces } from "../daemon/helpers.js";
import { exampleConfig, shippedArgs, shippedEnv } from "../helpers/cli.js";
import { freePort, type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";
import { librispeechWav, modelsDir, repoRoot } from "../helpers/paths.js";
import { MqttRecorder } from "../mqtt/recorder.js";

/**
 * The shipped bundle on arm64, as on a Raspberry Pi 4: Debian trixie's arm64 Node.js and
 * onnxruntime-node's linux/arm64 binary under qemu user-mode emulation of a Cortex-A72
 * (scripts/target/arm64-sysroot.sh), against the same commands run natively here. Emulated timings
 * say nothing about a Pi's speed; only the answers are compared.
 *
 * The encoder is fixed (emulation is too slow for "auto"'s measurement to choose as a Pi would): CAM++,
 * what a Pi 4 takes by arithmetic, for voiceprints and the conversion of its weights; Resemblyzer for the
 * slower end-to-end runs (enrol and identify, run --input), which under emulation would take CI 10 min
 * more on CAM++ (its graph's numerics are already compared file by file).
 *
 * VOICEID_ARM64_SHORT=1 (CI) checks one file of each kind; the default checks more.
 */
const SHORT = process.env.VOICEID_ARM64_SHORT === "1";
const EMBED_FILES = SHORT
  ? ["1040-133433-0000.wav"]
  : [
      "1040-133433-0000.wav",
      "103-1240-0000.wav",
      "198-126831-0000.wav",
      "3374-298025-0000.wav",
      "441-128982-0000.wav",
    ];

const run = promisify(execFile);
const RESEMBLYZER = { VOICEID__IDENTIFICATION__ENCODER: "resemblyzer-0.1.4" };
let emulator: string;
let sysroot: string;
let work: string;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** `voiceid <args>` from the bundle, natively or emulated as a Cortex-A72; never throws on an exit code. */
async function voiceid(arch: "x64" | "arm64", args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const [file, argv] =
    arch === "arm64"
      ? [
          emulator,
          ["-L", sysroot, "-cpu", "cortex-a72", path.join(sysroot, "usr/bin/node"), ...shippedArgs(...args)],
        ]
      : [process.execPath, shippedArgs(...args)];
  try {
    const { stdout, stderr } = await run(file, argv, {
      cwd: repoRoot,
      // Rooms not simulated (twenty times the work of a clip, the same code) for enrol, identify and run alike.
      env: shippedEnv({
        VOICEID_CONFIG: "",
        VOICEID__ENROLMENT__SIMULATE_ROOMS: "false",
        VOICEID__IDENTIFICATION__ENCODER: "campplus-zh-en",
        ...env,
      }),
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function both(args: (arch: "x64" | "arm64") => string[], env: NodeJS.ProcessEnv = {}) {
  const x64 = await voiceid("x64", args("x64"), env);
  expect(x64.code, x64.stderr).toBe(0);
  const arm64 = await voiceid("arm64", args("arm64"), env);
  expect(arm64.code, arm64.stderr).toBe(0);
  return { x64, arm64 };
}

const dataDir = (arch: string) => path.join(work, `data-${arch}`);

function cosine(a: number[], b: number[]): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

beforeAll(() => {
  const cache = execFileSync(path.join(repoRoot, "scripts/target/arm64-sysroot.sh"), {
    encoding: "utf8",
  }).trim();
  emulator = path.join(cache, "qemu-aarch64");
  sysroot = path.join(cache, "sysroot");
  work = mkdtempSync(path.join(tmpdir(), "voiceid-arm64-"));
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("voiceid on arm64 (emulated Cortex-A72)", () => {
  it("runs arm64 code: Node.js, and onnxruntime's linux/arm64 binary", async () => {
    const script = `require("onnxruntime-node");
      const maps = require("fs").readFileSync("/proc/self/maps", "utf8");
      console.log(JSON.stringify({ arch: process.arch, onnxruntime: [...new Set(maps.match(/\\S*onnxruntime_binding\\.node/g))] }));`;
    const { stdout } = await run(
      emulator,
      ["-L", sysroot, "-cpu", "cortex-a72", path.join(sysroot, "usr/bin/node"), "-e", script],
      { cwd: repoRoot },
    );
    expect(JSON.parse(stdout)).toEqual({
      arch: "arm64",
      onnxruntime: [
        path.join(repoRoot, "node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node"),
      ],
    });
  });

  it("checks the models as natively", async () => {
    const { x64, arm64 } = await both(() => ["models", "check"]);
    expect(arm64.stdout).toBe(x64.stdout);
  });

  it("gives the same voiceprints (cosine >= 0.99999), with CAM++ and with Resemblyzer", async () => {
    for (const encoder of ["campplus-zh-en", "resemblyzer-0.1.4"])
      for (const file of EMBED_FILES) {
        const { x64, arm64 } = await both(() => ["embed", librispeechWav(file), "--json"], {
          VOICEID__IDENTIFICATION__ENCODER: encoder,
        });
        const a = JSON.parse(x64.stdout) as { model: string; embedding: number[] };
        const b = JSON.parse(arm64.stdout) as { model: string; embedding: number[] };
        expect(a.model).toBe(encoder);
        expect(b.model).toBe(a.model);
        const c = cosine(a.embedding, b.embedding);
        console.log(`${encoder}, ${file}: cosine ${c.toFixed(7)} between x86-64 and arm64`);
        expect(c).toBeGreaterThanOrEqual(0.99999);
      }
  });

  it("enrols and identifies with the same answer", async () => {
    // The first halves enrol.
    for (const [name, stem] of [
      ["Alice", SPEAKER_A],
      ["Bob", SPEAKER_B],
    ]) {
      const samples = readWavAs16kMono(readFileSync(librispeechWav(`${stem}.wav`)));
      const clip = path.join(work, `${name}.wav`);
      writeFileSync(clip, encodePcm16Wav(samples.subarray(0, samples.length >> 1), 16_000));
      await both((arch) => ["enroll", name, clip, "--data-dir", dataDir(arch)], RESEMBLYZER);
    }
    const tests = SHORT ? [SPEAKER_B] : [SPEAKER_A, SPEAKER_B];
    for (const stem of tests) {
      const samples = readWavAs16kMono(readFileSync(librispeechWav(`${stem}.wav`)));
      const rest = path.join(work, `${stem}-rest.wav`);
      writeFileSync(rest, encodePcm16Wav(samples.subarray(samples.length >> 1), 16_000));
      const { x64, arm64 } = await both(
        (arch) => ["identify", rest, "--json", "--data-dir", dataDir(arch)],
        RESEMBLYZER,
      );
      const a = JSON.parse(x64.stdout) as { speaker: string; scores: Record<string, number> };
      const b = JSON.parse(arm64.stdout) as { speaker: string; scores: Record<string, number> };
      expect(a.speaker).toBe(stem === SPEAKER_A ? "Alice" : "Bob");
      expect(b.speaker).toBe(a.speaker);
      for (const name of Object.keys(a.scores)) expect(b.scores[name]).toBeCloseTo(a.scores[name], 3);
    }
  });

  describe("run --input with a real broker", () => {
    let broker: MosquittoBroker;
    beforeAll(async () => {
      broker = await startMosquitto();
    });
    afterAll(async () => {
      await broker?.stop();
    });

    it("publishes the same events", async () => {
      const p = streamedPieces();
      const stream = SHORT ? buildStream([0.5, ["A", p.a1], 2, ["B", p.b], 1]) : conversationStream();
      const wav = path.join(work, "turns.wav");
      writeFileSync(wav, stream.wav);
      const events: Record<string, unknown[]> = {};
      for (const arch of ["x64", "arm64"] as const) {
        const room = `turns_${arch}`;
        const recorder = await MqttRecorder.start(broker.url, [`voiceid/${room}/event`]);
        const ran = await voiceid(
          arch,
          ["run", "--config", exampleConfig, "--input", wav, "--data-dir", dataDir(arch)],
          {
            VOICEID_ROOM: room,
            VOICEID_MQTT_URL: broker.url,
            VOICEID_HTTP_PORT: String(await freePort()),
            // Learning from the room is left out: what it learns depends on the data directory's history
            // and timing (two x86-64 runs on the same stream differed by 0.005 in a margin), not on arm64.
            VOICEID__IDENTIFICATION__LEARN: "false",
            ...RESEMBLYZER,
          },
        );
        expect(ran.code, ran.stderr).toBe(0);
        // The daemon flushes MQTT before it exits; give the recorder's own delivery a moment.
        await new Promise((r) => setTimeout(r, 500));
        await recorder.stop();
        events[arch] = recorder.on(`voiceid/${room}/event`).map((m) => {
          const {
            startedAt: _wallClock,
            room: _room,
            ...event
          } = JSON.parse(m.payload) as Record<string, unknown>;
          return event;
        });
      }
      expect(events.x64.map((e) => (e as { speaker: string }).speaker)).toEqual(
        expect.arrayContaining(["Alice", "Bob"]),
      );
      expect(events.arm64.length).toBe(events.x64.length);
      events.x64.forEach((event, i) => {
        const { score, margin, scores, ...rest } = event as Record<string, unknown>;
        const other = events.arm64[i] as Record<string, unknown>;
        expect(other).toMatchObject(rest);
        if (typeof score === "number") expect(other.score as number).toBeCloseTo(score, 3);
        if (typeof margin === "number") expect(other.margin as number).toBeCloseTo(margin, 3);
        for (const [id, s] of Object.entries(scores as Record<string, number>))
          expect((other.scores as Record<string, number>)[id]).toBeCloseTo(s, 3);
      });
    });
  });

  it("converts the models to the pinned bytes (models fetch --mirror)", async () => {
    // A mirror holding only what is downloaded: encoder.onnx and Silero's sequence graph are converted on arm64.
    const mirror = path.join(work, "mirror");
    const fresh = path.join(work, "models-arm64");
    execFileSync("mkdir", ["-p", mirror, fresh]);
    symlinkSync(
      modelFilePath(modelsDir, "silero-vad-v5", "silero_vad.onnx"),
      path.join(mirror, "silero_vad.onnx"),
    );
    symlinkSync(
      modelFilePath(modelsDir, "resemblyzer-0.1.4", "pretrained.pt"),
      path.join(mirror, "pretrained.pt"),
    );
    symlinkSync(
      modelFilePath(modelsDir, "campplus-zh-en", "campplus_cn_en_common.pt"),
      path.join(mirror, "campplus_cn_en_common.pt"),
    );
    writeFileSync(path.join(fresh, "manifest.json"), readFileSync(path.join(modelsDir, "manifest.json")));
    const fetched = await voiceid("arm64", ["models", "fetch", "--mirror", mirror, "--models-dir", fresh]);
    expect(fetched.code, fetched.stderr).toBe(0);
    const pinned = new Map(
      loadManifest().models.flatMap((m) => m.files.map((f) => [`${m.id}/${f.name}`, f.sha256] as const)),
    );
    for (const [model, file] of [
      ["resemblyzer-0.1.4", "encoder.onnx"],
      ["campplus-zh-en", "encoder.onnx"],
      ["silero-vad-v5", "silero_vad_sequence.onnx"],
    ]) {
      const bytes = readFileSync(modelFilePath(fresh, model, file));
      expect(createHash("sha256").update(bytes).digest("hex"), `${model}/${file}`).toBe(
        pinned.get(`${model}/${file}`),
      );
    }
  });
});
