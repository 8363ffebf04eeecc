/**
 * `npm run bench:speed`: milliseconds of CPU per second of audio for each stage of the offline
 * voiceprint path, on one thread, next to the PyTorch Resemblyzer reference run in the same process
 * tree (scripts/reference/resemblyzer_speed.py), plus the encoder's FLOP rate against this
 * machine's single-thread arithmetic limit.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { resample } from "../src/audio/resample.js";
import { normalizeVolume } from "../src/audio/volume.js";
import { decodeWav, downmixToMono, readWavAs16kMono } from "../src/audio/wav.js";
import { createEncoder } from "../src/embedding/factory.js";
import { MEL_N_CHANNELS, MelFrontEnd } from "../src/embedding/mel.js";
import { computePartialSlices, PARTIAL_FRAMES } from "../src/embedding/partials.js";
import { meanNormalised } from "../src/embedding/resemblyzer.js";
import { VoiceprintExtractor } from "../src/embedding/voiceprint.js";
import { encodePcm16Wav } from "../src/enrolment/wav-encode.js";
import { RESEMBLYZER_INPUT_NAME, RESEMBLYZER_OUTPUT_NAME } from "../src/models/resemblyzer-onnx.js";
import { cosine } from "../src/registry/matcher.js";
import { SileroVad } from "../src/vad/silero.js";
import { trimLongSilencesWithProbabilities } from "../src/vad/trim.js";
import {
  encoderFlops,
  type GemmResult,
  measureGemm,
  type TheoreticalPeak,
  theoreticalPeak,
} from "./bench/arithmetic.js";
import { benchEcapa, type EcapaOutcome } from "./bench/ecapa-speed.js";
import { type PythonOutcome, runPythonSpeed } from "./bench/python-reference.js";
import {
  type BenchFile,
  bestOf,
  librispeechFiles,
  type MachineInfo,
  machineInfo,
  numberOption,
  parseBenchArgs,
  progress,
  requireModels,
  runMain,
} from "./bench/setup.js";
import { type Cell, fixed, formatTable, heading, verdict } from "./bench/table.js";

const ENCODER_ID = "resemblyzer-0.1.4";
const SAMPLE_RATE = 16_000;
const VAD_WINDOW_MS = 32;
const GOALS = {
  minEmbedPathSpeedup: 1.5,
  /** The embed path (file -> voiceprint, trimming on) costs at most this much more than the encoder alone. */
  maxEmbedPathOverEncoder: 1.25,
  maxLimitFactor: 4,
  maxVadMsPerWindow: 0.3,
  /** ECAPA-TDNN's embed path at least as fast as SpeechBrain's own (1 thread), network within 2x of GEMM. */
  minEcapaSpeedup: 1,
  maxEcapaLimitFactor: 2,
};
/** All 120 files: ~3 min with the Python side on a busy 2-core machine (--files 60 halves it). */
const DEFAULT_FILES = 120;

const USAGE = `usage: npm run bench:speed -- [options]
  --files N      use the first N of the 120 LibriSpeech files (default ${DEFAULT_FILES} = all, ~3 min)
  --repeats R    best of R per file and stage, after a warm-up (default 3)
  --resample N   files converted to 44.1 kHz stereo in memory to time the resampler (default 3)
  --ecapa-files N  files for the ECAPA-TDNN section (default 10; full-size random weights vs SpeechBrain)
  --no-ecapa     skip the ECAPA-TDNN section
  --no-python    skip the PyTorch reference
  --json         print one JSON object instead of tables`;

interface Options {
  files: number;
  repeats: number;
  resampleFiles: number;
  python: boolean;
  ecapaFiles: number;
  json: boolean;
}

function parseOptions(): Options | null {
  const v = parseBenchArgs(
    {
      files: { type: "string" },
      repeats: { type: "string" },
      resample: { type: "string" },
      "no-python": { type: "boolean", default: false },
      "ecapa-files": { type: "string" },
      "no-ecapa": { type: "boolean", default: false },
    },
    USAGE,
  );
  if (!v) return null;
  const int = (name: string, value: string | undefined, fallback: number, min: number) =>
    numberOption(name, value, fallback, (n) => Number.isInteger(n) && n >= min, `an integer >= ${min}`);
  return {
    files: int("files", v.files, DEFAULT_FILES, 1),
    repeats: int("repeats", v.repeats, 3, 1),
    resampleFiles: int("resample", v.resample, 3, 0),
    python: !v["no-python"],
    ecapaFiles: v["no-ecapa"] ? 0 : int("ecapa-files", v["ecapa-files"], 10, 1),
    json: v.json,
  };
}

/** Stages timed on the voiceid side; "vadTrim" is vad + trim (what Python's "vad" stage covers). */
const STAGES = ["decode", "vad", "trim", "mel", "encoder", "embed", "embedPath"] as const;
type Stage = (typeof STAGES)[number];

interface VoiceidTimings {
  files: number;
  audioSeconds: number;
  stageMs: Record<Stage, number>;
  vadWindows: number;
  /** The daemon's way: one window per call (process()), over the first LIVE_VAD_FILES files. */
  liveVadMsPerWindow: number;
  partials: number;
}

const LIVE_VAD_FILES = 10;

/** The ONNX forward alone: our own session on the same encoder.onnx with the encoder's options. */
async function createForwardSession(encoderPath: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encoderPath, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    enableCpuMemArena: false,
  });
}

/** Batched partial mels exactly as ResemblyzerEncoder.embedPartials builds them. */
function partialBatch(wav: Float32Array): {
  padded: Float32Array;
  batch: number;
  mels: (m: Float32Array) => Float32Array;
} {
  const { melSlices, wavSlices } = computePartialSlices(wav.length, 1.3, 0.75);
  const stop = wavSlices[wavSlices.length - 1].stop;
  let padded = wav;
  if (stop > wav.length) {
    padded = new Float32Array(stop);
    padded.set(wav);
  }
  const batch = melSlices.length;
  const mels = (mel: Float32Array) => {
    const input = new Float32Array(batch * PARTIAL_FRAMES * MEL_N_CHANNELS);
    const frames = mel.length / MEL_N_CHANNELS;
    melSlices.forEach(({ start }, b) => {
      const to = Math.min(frames, start + PARTIAL_FRAMES) * MEL_N_CHANNELS;
      input.set(mel.subarray(start * MEL_N_CHANNELS, to), b * PARTIAL_FRAMES * MEL_N_CHANNELS);
    });
    return input;
  };
  return { padded, batch, mels };
}

async function timeVoiceid(
  files: BenchFile[],
  repeats: number,
  encoderPath: string,
  stack: {
    extractor: VoiceprintExtractor;
    vad: SileroVad;
    embedUtterance: (w: Float32Array) => Promise<Float32Array>;
  },
): Promise<VoiceidTimings> {
  const forward = await createForwardSession(encoderPath);
  // The encoder's own front end: the mel graph on onnxruntime, one thread.
  const mel = new MelFrontEnd(1);
  await mel.start();
  const totals = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  let audioSeconds = 0;
  let vadWindows = 0;
  let partials = 0;
  const timeFile = async (file: BenchFile, r: number) => {
    const ms = {} as Record<Stage, number>;
    ms.decode = await bestOf(r, () => readWavAs16kMono(readFileSync(file.path)));
    const wav = readWavAs16kMono(readFileSync(file.path));
    // Trimming and the encoder see the volume-normalised wav, as in VoiceprintExtractor.
    const norm = normalizeVolume(wav, -30, { increaseOnly: true });
    ms.vad = await bestOf(r, () => stack.vad.speechProbabilities(norm));
    const probs = await stack.vad.speechProbabilities(norm);
    ms.trim = await bestOf(r, () => trimLongSilencesWithProbabilities(norm, probs));
    const { padded, batch, mels } = partialBatch(norm);
    ms.mel = await bestOf(r, () => mel.frames([padded]));
    const input = mels(await mel.frames([padded]));
    ms.encoder = await bestOf(r, () =>
      forward.run({
        [RESEMBLYZER_INPUT_NAME]: new ort.Tensor("float32", input, [batch, PARTIAL_FRAMES, MEL_N_CHANNELS]),
      }),
    );
    ms.embed = await bestOf(r, () => stack.embedUtterance(norm));
    // What `voiceid embed` does: read the file, decode, normalise, trim with Silero, encode.
    ms.embedPath = await bestOf(r, () => stack.extractor.fromWav(readFileSync(file.path), { trim: true }));
    return { seconds: wav.length / SAMPLE_RATE, ms, windows: probs.length, batch };
  };
  try {
    await timeFile(files[0], 1); // warm-up: ort kernels, FFT tables, JIT
    await checkForwardMatchesEncoder(files[0], forward, mel, stack.embedUtterance);
    for (const [i, file] of files.entries()) {
      if (i % 10 === 0) progress(`voiceid: file ${i + 1}/${files.length}`);
      const { seconds, ms, windows, batch } = await timeFile(file, repeats);
      audioSeconds += seconds;
      vadWindows += windows;
      partials += batch;
      for (const s of STAGES) totals[s] += ms[s];
    }
    let liveMs = 0;
    let liveWindows = 0;
    for (const file of files.slice(0, LIVE_VAD_FILES)) {
      const norm = normalizeVolume(readWavAs16kMono(readFileSync(file.path)), -30, { increaseOnly: true });
      const windows = Math.floor(norm.length / 512);
      liveMs += await bestOf(repeats, async () => {
        stack.vad.reset();
        for (let w = 0; w < windows; w++) await stack.vad.process(norm.subarray(w * 512, (w + 1) * 512));
      });
      liveWindows += windows;
    }
    stack.vad.reset();
    return {
      files: files.length,
      audioSeconds,
      stageMs: totals,
      vadWindows,
      liveVadMsPerWindow: liveMs / liveWindows,
      partials,
    };
  } finally {
    await forward.release();
    await mel.stop();
  }
}

/**
 * The timed forward must be the encoder's real work: the mean of its partial embeddings has to
 * equal embedUtterance on the same wav, else the batch was built differently and the figure lies.
 */
async function checkForwardMatchesEncoder(
  file: BenchFile,
  forward: ort.InferenceSession,
  mel: MelFrontEnd,
  embedUtterance: (w: Float32Array) => Promise<Float32Array>,
): Promise<void> {
  const norm = normalizeVolume(readWavAs16kMono(readFileSync(file.path)), -30, { increaseOnly: true });
  const { padded, batch, mels } = partialBatch(norm);
  const out = await forward.run({
    [RESEMBLYZER_INPUT_NAME]: new ort.Tensor("float32", mels(await mel.frames([padded])), [
      batch,
      PARTIAL_FRAMES,
      MEL_N_CHANNELS,
    ]),
  });
  const data = out[RESEMBLYZER_OUTPUT_NAME].data as Float32Array;
  const dim = data.length / batch;
  const partials = Array.from({ length: batch }, (_, b) => data.subarray(b * dim, (b + 1) * dim));
  const similarity = cosine(meanNormalised(partials, dim), await embedUtterance(norm));
  if (!(similarity > 0.99999)) {
    throw new Error(
      `forward-only batch does not reproduce embedUtterance (cosine ${similarity}); fix partialBatch()`,
    );
  }
}

interface ResampleTimings {
  files: number;
  audioSeconds: number;
  /** readWavAs16kMono of the 16 kHz mono bytes (in memory). */
  mono16kMs: number;
  /** readWavAs16kMono of the 44.1 kHz stereo bytes: decode + downmix + resample. */
  stereo44kMs: number;
  /** resample(44.1k mono -> 16k) alone. */
  resampleOnlyMs: number;
}

/** The same files converted in memory to 44.1 kHz stereo 16-bit, to show what resampling costs. */
async function timeResampling(
  files: BenchFile[],
  repeats: number,
  tmpDir: string | null,
): Promise<{ timings: ResampleTimings; written: string[] }> {
  const t: ResampleTimings = {
    files: files.length,
    audioSeconds: 0,
    mono16kMs: 0,
    stereo44kMs: 0,
    resampleOnlyMs: 0,
  };
  const written: string[] = [];
  const convert = (bytes16: Uint8Array) => {
    const up = resample(readWavAs16kMono(bytes16), SAMPLE_RATE, 44_100);
    // A slightly different right channel, so the downmix is real work.
    const right = up.map((v) => v * 0.8);
    return encodePcm16Wav([up, right], 44_100);
  };
  readWavAs16kMono(convert(readFileSync(files[0].path))); // warm-up
  for (const file of files) {
    const bytes16 = readFileSync(file.path);
    const bytes44 = convert(bytes16);
    if (tmpDir) {
      const out = path.join(tmpDir, `${path.basename(file.file, ".wav")}-44k1-stereo.wav`);
      writeFileSync(out, bytes44);
      written.push(out);
    }
    t.audioSeconds += readWavAs16kMono(bytes16).length / SAMPLE_RATE;
    t.mono16kMs += await bestOf(repeats, () => readWavAs16kMono(bytes16));
    t.stereo44kMs += await bestOf(repeats, () => readWavAs16kMono(bytes44));
    const mono44 = downmixToMono(decodeWav(bytes44).channelData);
    t.resampleOnlyMs += await bestOf(repeats, () => resample(mono44, 44_100, SAMPLE_RATE));
  }
  return { timings: t, written };
}

interface Row {
  stage: string;
  voiceid: number | null;
  python: number | null;
  /** python / voiceid: > 1 means voiceid is faster. */
  ratio: number | null;
  compares: string;
}

function compareRows(v: VoiceidTimings, py: PythonOutcome): Row[] {
  const vms = (s: Stage) => v.stageMs[s] / v.audioSeconds;
  const pms = (key: string) => (py.status === "ok" ? (py.result.msPerAudioSecond[key] ?? null) : null);
  const row = (stage: string, voiceid: number, python: number | null, compares: string): Row => ({
    stage,
    voiceid,
    python,
    ratio: python === null ? null : python / voiceid,
    compares,
  });
  return [
    row("decode", vms("decode"), pms("decode"), "read file + decode 16 kHz WAV  vs  librosa.load(sr=None)"),
    row(
      "vad",
      vms("vad"),
      null,
      "Silero v5 speechProbabilities, the clip in one call (no Python counterpart)",
    ),
    row("trim", vms("trim"), null, "trimming given the probabilities"),
    row(
      "vad+trim",
      vms("vad") + vms("trim"),
      pms("vad"),
      "Silero + trim  vs  webrtcvad trim_long_silences (different models)",
    ),
    row("mel", vms("mel"), pms("mel"), "mel of the padded wav  vs  wav_to_mel_spectrogram"),
    row("encoder", vms("encoder"), pms("encoder"), "ONNX forward on the partial batch  vs  torch forward"),
    row("embed", vms("embed"), pms("embed"), "embedUtterance(normalised)  vs  embed_utterance"),
    row(
      "embed path",
      vms("embedPath"),
      pms("embed_path"),
      "readFile + fromWav(trim)  vs  embed_utterance(preprocess_wav(path))",
    ),
  ];
}

interface Arithmetic {
  encoderFlops: number;
  voiceidGflops: number;
  pythonGflops: number | null;
  theoretical: TheoreticalPeak;
  gemm: GemmResult;
  /** The higher of theoretical and measured GEMM: a limit must not be below what was reached. */
  limitGflops: number;
  /** limit / voiceid encoder GFLOP/s (the goal wants <= 4). */
  limitFactor: number;
}

async function main(): Promise<number | undefined> {
  const options = parseOptions();
  if (!options) return 0;
  const started = performance.now();
  const machine: MachineInfo = machineInfo();
  const models = requireModels();
  const files = librispeechFiles(options.files);
  if (files.length < options.files) {
    progress(`only ${files.length} files available; using all of them`);
  }

  progress("GEMM 1024^3 (single thread) for the practical arithmetic limit...");
  // Measured before and after the stages, best of both: one busy moment on a shared box must not
  // lower the limit.
  let gemm = await measureGemm(1024, 15);
  const theoretical = theoreticalPeak(machine);

  const encoder = createEncoder(ENCODER_ID, { modelsDir: models.modelsDir, threads: 1 });
  const vad = new SileroVad({ modelPath: models.vadPath });
  const extractor = new VoiceprintExtractor(encoder, vad);
  await encoder.start();
  await vad.start();
  let voiceid: VoiceidTimings;
  let resampling: ResampleTimings | null = null;
  const tmpDir = options.python ? mkdtempSync(path.join(os.tmpdir(), "voiceid-bench-")) : null;
  let python: PythonOutcome | null = null;
  try {
    progress(`voiceid: ${files.length} files, best of ${options.repeats} per stage, 1 thread...`);
    voiceid = await timeVoiceid(files, options.repeats, models.encoderPath, {
      extractor,
      vad,
      embedUtterance: (w) => encoder.embedUtterance(w),
    });
    let resampleWritten: string[] = [];
    if (options.resampleFiles > 0) {
      const r = await timeResampling(files.slice(0, options.resampleFiles), options.repeats, tmpDir);
      resampling = r.timings;
      resampleWritten = r.written;
    }
    await vad.stop();
    await encoder.stop();
    const gemmAgain = await measureGemm(1024, 15);
    if (gemmAgain.gflops > gemm.gflops) gemm = { ...gemmAgain, runs: gemm.runs + gemmAgain.runs };
    else gemm = { ...gemm, runs: gemm.runs + gemmAgain.runs };
    if (options.python) {
      progress(`python reference: ${PYTHON_NOTE}...`);
      python = await runPythonSpeed(
        files.map((f) => f.path),
        options.repeats,
        resampleWritten,
      );
    }
  } finally {
    await vad.stop();
    await encoder.stop();
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  }
  const ecapa =
    options.ecapaFiles > 0 ? await benchEcapa(files.slice(0, options.ecapaFiles), options.repeats) : null;

  const flops = encoderFlops(voiceid.partials);
  const pyEncoderMs = python?.status === "ok" ? python.result.stageMs.encoder : null;
  const voiceidGflops = flops / (voiceid.stageMs.encoder / 1000) / 1e9;
  const limitGflops = Math.max(gemm.gflops, theoretical.gflops ?? 0);
  const arithmetic: Arithmetic = {
    encoderFlops: flops,
    voiceidGflops,
    pythonGflops: pyEncoderMs ? flops / (pyEncoderMs / 1000) / 1e9 : null,
    theoretical,
    gemm,
    limitGflops,
    limitFactor: limitGflops / voiceidGflops,
  };
  const rows = compareRows(voiceid, python ?? { status: "failed", reason: "skipped (--no-python)" });
  // The goal is the daemon's cost: one window per call. A clip in one call is far cheaper per window.
  const vadMsPerWindow = voiceid.liveVadMsPerWindow;
  const embedPath = rows.find((r) => r.stage === "embed path")!;
  const overEncoder = voiceid.stageMs.embedPath / voiceid.stageMs.encoder;
  const goals = [
    {
      goal: `embed path within ${GOALS.maxEmbedPathOverEncoder}x of the encoder's own time`,
      measured: `${overEncoder.toFixed(2)}x`,
      verdict: verdict(overEncoder <= GOALS.maxEmbedPathOverEncoder),
    },
    {
      goal: `embed path >= ${GOALS.minEmbedPathSpeedup}x faster than Python`,
      measured: embedPath.ratio === null ? "no reference" : `${embedPath.ratio.toFixed(2)}x`,
      verdict: embedPath.ratio === null ? "n/a" : verdict(embedPath.ratio >= GOALS.minEmbedPathSpeedup),
    },
    {
      goal: `encoder within ${GOALS.maxLimitFactor}x of the arithmetic limit (${arithmetic.limitGflops.toFixed(0)} GFLOP/s)`,
      measured: `${arithmetic.limitFactor.toFixed(2)}x below`,
      verdict: verdict(arithmetic.limitFactor <= GOALS.maxLimitFactor),
    },
    {
      goal: `Silero <= ${GOALS.maxVadMsPerWindow} ms per ${VAD_WINDOW_MS} ms window`,
      measured: `${vadMsPerWindow.toFixed(3)} ms`,
      verdict: verdict(vadMsPerWindow <= GOALS.maxVadMsPerWindow),
    },
  ];
  if (ecapa?.status === "ok") {
    const e = ecapa.result;
    const speedup = e.speechbrain.embed / e.msPerAudioSecond.embed;
    const limitFactor = limitGflops / e.networkGflops;
    goals.push(
      {
        goal: `ECAPA-TDNN embed path >= ${GOALS.minEcapaSpeedup}x SpeechBrain's speed (1 thread)`,
        measured: `${speedup.toFixed(2)}x`,
        verdict: verdict(speedup >= GOALS.minEcapaSpeedup),
      },
      {
        goal: `ECAPA-TDNN network within ${GOALS.maxEcapaLimitFactor}x of the arithmetic limit`,
        measured: `${limitFactor.toFixed(2)}x below`,
        verdict: verdict(limitFactor <= GOALS.maxEcapaLimitFactor),
      },
    );
  }
  const loadAtEnd = os.loadavg().map((l) => Number(l.toFixed(2)));
  const wallSeconds = (performance.now() - started) / 1000;

  if (options.json) {
    console.log(
      JSON.stringify({
        benchmark: "speed",
        machine,
        loadAverageAtEnd: loadAtEnd,
        options,
        voiceid: {
          ...voiceid,
          msPerAudioSecond: Object.fromEntries(
            STAGES.map((s) => [s, voiceid.stageMs[s] / voiceid.audioSeconds]),
          ),
          vadMsPerWindow,
          encoderByEmbedMinusMelMsPerAudioSecond:
            (voiceid.stageMs.embed - voiceid.stageMs.mel) / voiceid.audioSeconds,
        },
        resampling,
        python,
        comparison: rows,
        arithmetic,
        ecapa,
        goals,
        wallSeconds: Number(wallSeconds.toFixed(1)),
      }),
    );
  } else {
    printReport(
      options,
      machine,
      loadAtEnd,
      voiceid,
      resampling,
      python,
      rows,
      arithmetic,
      vadMsPerWindow,
      ecapa,
      goals,
      wallSeconds,
    );
  }
  return python?.status === "failed" ? 1 : 0;
}

const PYTHON_NOTE = "PyTorch Resemblyzer, same files and repeats, OMP/MKL threads 1";

const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");

function printReport(
  options: Options,
  machine: MachineInfo,
  loadAtEnd: number[],
  v: VoiceidTimings,
  resampling: ResampleTimings | null,
  python: PythonOutcome | null,
  rows: Row[],
  a: Arithmetic,
  vadMsPerWindow: number,
  ecapa: EcapaOutcome | null,
  goals: { goal: string; measured: string; verdict: string }[],
  wallSeconds: number,
): void {
  console.log("voiceid speed benchmark: ms of one CPU thread per second of audio (lower is better)");
  console.log(
    `CPU: ${machine.cpuModel}, ${machine.cores} cores @ ${machine.cpuMhz ?? "?"} MHz; node ${machine.node}; ` +
      `load average at start ${loads(machine.loadAverage)}, at end ${loads(loadAtEnd)}`,
  );
  console.log(
    "NOTE: this machine is shared with other work while the benchmark runs, so figures are noisy;\n" +
      "      best-of-repeats per file removes some of it, compare ratios rather than absolute values.",
  );
  console.log(
    `Input: first ${v.files} LibriSpeech files, ${v.audioSeconds.toFixed(1)} s of audio; best of ${options.repeats} ` +
      "per file and stage after a warm-up file; encoder and Silero on 1 thread.",
  );

  console.log(heading("Stages"));
  console.log(
    formatTable(
      ["stage", "voiceid ms/s", "python ms/s", "python/voiceid", "compares"],
      rows.map((r): Cell[] => [
        r.stage,
        fixed(r.voiceid, 3),
        fixed(r.python, 3),
        r.ratio === null ? null : `${r.ratio.toFixed(2)}x`,
        r.compares,
      ]),
    ),
  );
  console.log(
    "ratio > 1 means voiceid is faster. mel/encoder/embed run on the untrimmed normalised wav (both sides).\n" +
      'voiceid "encoder" = our own onnxruntime session on the same encoder.onnx with the encoder\'s session\n' +
      "options, fed the batched partial mels exactly as embedPartials builds them (src/ has no forward-only hook);\n" +
      `cross-check embed - mel = ${fixed((v.stageMs.embed - v.stageMs.mel) / v.audioSeconds, 3)} ms/s.`,
  );
  console.log(
    `Silero: ${vadMsPerWindow.toFixed(3)} ms per ${VAD_WINDOW_MS} ms window one at a time, as the daemon runs it ` +
      `(${((vadMsPerWindow / VAD_WINDOW_MS) * 100).toFixed(2)} % of real time, ${LIVE_VAD_FILES} files); ` +
      `${(v.stageMs.vad / v.vadWindows).toFixed(3)} ms per window over whole clips in one call (${v.vadWindows} windows).`,
  );
  if (python?.status === "ok") {
    const ver = python.result.versions;
    console.log(
      `Python: torch ${ver.torch}, resemblyzer ${ver.resemblyzer}, librosa ${ver.librosa}, webrtcvad ${ver.webrtcvad}; ` +
        `${python.result.audioSeconds.toFixed(1)} s of audio (same files), took ${python.wallSeconds.toFixed(0)} s incl. imports.`,
    );
  } else if (python?.status === "unavailable") {
    console.log(`\nPython reference unavailable: ${python.reason}`);
    console.log("voiceid figures above stand alone. To install the reference (CPU only):");
    for (const cmd of python.install) console.log(`  ${cmd}`);
  } else if (python?.status === "failed") {
    console.log(`\nPython reference FAILED: ${python.reason}`);
  } else {
    console.log("Python reference skipped (--no-python).");
  }

  if (resampling) {
    const per = (ms: number) => (ms / resampling.audioSeconds).toFixed(3);
    const pyResample = python?.status === "ok" ? python.result.resample : undefined;
    console.log(heading("Resampler (not in the stage table)"));
    console.log(
      `${resampling.files} files converted in memory to 44.1 kHz stereo 16-bit, ${resampling.audioSeconds.toFixed(1)} s of audio:`,
    );
    console.log(
      formatTable(
        ["", "ms/s"],
        [
          ["readWavAs16kMono, 16 kHz mono bytes (no resampling)", per(resampling.mono16kMs)],
          ["readWavAs16kMono, 44.1 kHz stereo bytes", per(resampling.stereo44kMs)],
          ["  of which resample(44.1k -> 16k) alone", per(resampling.resampleOnlyMs)],
          [
            "python librosa.load + librosa.resample (soxr_hq), same files from disk",
            pyResample ? pyResample.msPerAudioSecond.toFixed(3) : null,
          ],
        ],
      ),
    );
  }

  const t = a.theoretical;
  console.log(heading("Arithmetic"));
  console.log(
    `Encoder work: ${v.partials} partials x 160 frames -> ${(a.encoderFlops / 1e9).toFixed(2)} GFLOP ` +
      `(${(a.encoderFlops / 1e9 / v.audioSeconds).toFixed(3)} GFLOP per second of audio; 3-layer LSTM 40->256x3 + 256x256 projection).`,
  );
  const share = (g: number | null, limit: number | null) =>
    g === null || limit === null ? null : `${((g / limit) * 100).toFixed(1)} %`;
  console.log(
    formatTable(
      ["", "GFLOP/s", "vs theoretical", "vs measured GEMM"],
      [
        [
          `theoretical single core (${t.ghz?.toFixed(2) ?? "?"} GHz x ${t.flopPerCycle} FLOP/cycle)`,
          fixed(t.gflops, 1),
          null,
          null,
        ],
        [
          `measured GEMM ${a.gemm.n}^3 fp32, onnxruntime 1 thread, best of ${a.gemm.runs}`,
          fixed(a.gemm.gflops, 1),
          share(a.gemm.gflops, t.gflops),
          null,
        ],
        [
          "voiceid encoder (onnxruntime)",
          fixed(a.voiceidGflops, 2),
          share(a.voiceidGflops, t.gflops),
          share(a.voiceidGflops, a.gemm.gflops),
        ],
        [
          "python encoder (PyTorch)",
          fixed(a.pythonGflops, 2),
          share(a.pythonGflops, t.gflops),
          share(a.pythonGflops, a.gemm.gflops),
        ],
      ],
    ),
  );
  console.log(`Theoretical assumes ${t.isa}; ${t.note}.`);
  console.log(
    `Arithmetic limit for the goal = the higher of the two (${a.limitGflops.toFixed(1)} GFLOP/s); ` +
      `voiceid's encoder reaches 1/${a.limitFactor.toFixed(2)} of it.`,
  );
  if (t.gflops !== null && a.gemm.gflops > t.gflops) {
    console.log(
      "The GEMM beats the theoretical estimate, so the core runs above the /proc/cpuinfo clock (boost):\n" +
        "the measured GEMM is the better limit here.",
    );
  }
  if (Math.max(a.voiceidGflops, a.pythonGflops ?? 0) > a.limitGflops) {
    console.log(
      "An encoder above the limit means the limit is underestimated: the real clock is above the\n" +
        "/proc/cpuinfo figure (boost) and/or the GEMM caught a busy moment on this shared machine.",
    );
  }
  console.log(
    "Python's partial count is the same (computePartialSlices is an exact port of compute_partial_slices).",
  );

  printEcapa(ecapa, a.limitGflops);

  console.log(heading("Goals"));
  console.log(
    formatTable(
      ["goal", "measured", "verdict"],
      goals.map((g) => [g.goal, g.measured, g.verdict]),
    ),
  );
  console.log(`\nTook ${wallSeconds.toFixed(1)} s.`);
}

function printEcapa(ecapa: EcapaOutcome | null, limitGflops: number): void {
  console.log(heading("ECAPA-TDNN (full size, random weights)"));
  if (ecapa === null) {
    console.log("skipped (--no-ecapa).");
    return;
  }
  if (ecapa.status !== "ok") {
    console.log(`${ecapa.status === "failed" ? "FAILED" : "unavailable"}: ${ecapa.reason}`);
    if (ecapa.status === "unavailable") for (const cmd of ecapa.install) console.log(`  ${cmd}`);
    return;
  }
  const e = ecapa.result;
  const sb = e.speechbrain;
  const ratio = (py: number, ours: number) => `${(py / ours).toFixed(2)}x`;
  console.log(
    `${e.files} LibriSpeech files, ${e.audioSeconds.toFixed(1)} s of audio, mean of ${e.repeats} runs after a warm-up; ` +
      `channels ${e.shape.channels.join("/")}, ${e.shape.embeddingDim}-d. SpeechBrain ${sb.versions.speechbrain}, ` +
      `torch ${sb.versions.torch}, 1 thread.`,
  );
  console.log(
    formatTable(
      ["stage", "voiceid ms/s", "SpeechBrain ms/s", "SpeechBrain/voiceid"],
      [
        [
          "front end (Fbank + mean norm)",
          fixed(e.msPerAudioSecond.frontEnd, 3),
          fixed(sb.fbank + sb.norm, 3),
          ratio(sb.fbank + sb.norm, e.msPerAudioSecond.frontEnd),
        ],
        [
          "network",
          fixed(e.msPerAudioSecond.network, 2),
          fixed(sb.model, 2),
          ratio(sb.model, e.msPerAudioSecond.network),
        ],
        [
          "embed path (wav -> voiceprint)",
          fixed(e.msPerAudioSecond.embed, 2),
          fixed(sb.embed, 2),
          ratio(sb.embed, e.msPerAudioSecond.embed),
        ],
      ],
    ),
  );
  console.log(
    `Network: ${e.gflopPerAudioSecond.toFixed(2)} GFLOP per second of audio (convolutions), ` +
      `${e.networkGflops.toFixed(1)} GFLOP/s = ${((e.networkGflops / limitGflops) * 100).toFixed(0)} % of the ` +
      `arithmetic limit (${limitGflops.toFixed(0)} GFLOP/s). voiceid's network = embed - front end (one graph).`,
  );
  console.log(
    `Checkpoint -> ONNX conversion in TypeScript: ${(e.convertMs / 1000).toFixed(2)} s. ` +
      `Parity at full size: lowest cosine to SpeechBrain's voiceprints ${e.minCosine.toFixed(6)}.`,
  );
}

runMain(main);
