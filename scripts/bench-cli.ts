/**
 * npm run bench:cli — how long short commands take as whole processes, as a user runs them:
 * `voiceid speakers` and `voiceid identify <10 s file>` (compiled, `node dist/cli/main.js`), each run
 * N times after a warm-up, beside an empty `node -e 0` as the floor any command pays.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readWavAs16kMono } from "../src/audio/wav.js";
import { encodePcm16Wav } from "../src/enrolment/wav-encode.js";
import { enrolSpeakers, percentile, SAMPLE_RATE } from "./bench/live.js";
import {
  librispeechFiles,
  machineInfo,
  numberOption,
  parseBenchArgs,
  progress,
  requireModels,
  runMain,
} from "./bench/setup.js";
import { formatTable, heading, verdict } from "./bench/table.js";
import { shippedEntry } from "./shipped.js";

const GOALS = { identifyS: 0.5, speakersS: 0.3 };
const USAGE = `usage: npm run bench:cli -- [options]
  --runs N        counted runs of each command (default 10, after one warm-up)
  --before FILE   another build's dist/cli/main.js, timed the same way in the same run (e.g. a checkout
                  of an earlier commit, built with npm run build)
  --json          print the figures as JSON
`;

interface Timing {
  command: string;
  runs: number;
  medianS: number;
  minS: number;
  maxS: number;
}

function time(command: string, args: string[], env: NodeJS.ProcessEnv, runs: number): Timing {
  const walls: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const result = spawnSync(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const wall = (performance.now() - t0) / 1000;
    if (result.status !== 0) throw new Error(`${command} exited with ${result.status}: ${result.stderr}`);
    if (i > 0) walls.push(wall);
  }
  return {
    command,
    runs,
    medianS: percentile(walls, 0.5) ?? 0,
    minS: Math.min(...walls),
    maxS: Math.max(...walls),
  };
}

async function main(): Promise<number> {
  const parsed = parseBenchArgs({ runs: { type: "string" }, before: { type: "string" } }, USAGE);
  if (!parsed) return 0;
  const runs = numberOption(
    "runs",
    parsed.runs,
    10,
    (n) => Number.isInteger(n) && n >= 1 && n <= 100,
    "1-100",
  );
  const machine = machineInfo();
  const models = requireModels();
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const entry = shippedEntry(root);
  const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-bench-cli-"));
  try {
    const files = librispeechFiles(5);
    progress("enrolling 4 speakers");
    const dataDir = path.join(dir, "data");
    await enrolSpeakers(dataDir, models.modelsDir, files.slice(0, 4));
    // 10 s of the fifth speaker (repeated if shorter), as a WAV file.
    const samples = readWavAs16kMono(readFileSync(files[4].path));
    const ten = new Float32Array(10 * SAMPLE_RATE);
    for (let i = 0; i < ten.length; i++) ten[i] = samples[i % samples.length];
    const wav = path.join(dir, "ten-seconds.wav");
    writeFileSync(wav, encodePcm16Wav(ten, SAMPLE_RATE));
    const env = {
      ...process.env,
      VOICEID_CONFIG: "",
      VOICEID_DATA_DIR: dataDir,
      VOICEID_MODELS_DIR: models.modelsDir,
    };
    progress(`timing each command ${runs} times after a warm-up`);
    const timings = [
      time("node -e 0 (floor)", ["-e", "0"], env, runs),
      time("voiceid speakers", [entry, "speakers"], env, runs),
      time("voiceid identify <10 s WAV>", [entry, "identify", wav], env, runs),
    ];
    const [, speakers, identify] = timings;
    const before = parsed.before;
    if (before) {
      timings.push(
        time("before: voiceid speakers", [before, "speakers"], env, runs),
        time("before: voiceid identify <10 s WAV>", [before, "identify", wav], env, runs),
      );
    }
    const goals = [
      {
        goal: "voiceid speakers, median wall",
        target: `<= ${GOALS.speakersS} s`,
        value: `${speakers.medianS.toFixed(3)} s`,
        pass: speakers.medianS <= GOALS.speakersS,
      },
      {
        goal: "voiceid identify (10 s), median wall",
        target: `<= ${GOALS.identifyS} s`,
        value: `${identify.medianS.toFixed(3)} s`,
        pass: identify.medianS <= GOALS.identifyS,
      },
    ];
    if (parsed.json) {
      process.stdout.write(`${JSON.stringify({ machine, timings, goals }, null, 2)}\n`);
      return 0;
    }
    const out = [
      `machine: ${machine.cpuModel}, ${machine.cores} cores`,
      heading("whole-process wall time"),
      formatTable(
        ["command", "runs", "median", "min", "max"],
        timings.map((t) => [
          t.command,
          t.runs,
          `${t.medianS.toFixed(3)} s`,
          `${t.minS.toFixed(3)} s`,
          `${t.maxS.toFixed(3)} s`,
        ]),
      ),
      heading("goals"),
      formatTable(
        ["goal", "target", "measured", ""],
        goals.map((g) => [g.goal, g.target, g.value, verdict(g.pass)]),
      ),
    ];
    process.stdout.write(`${out.join("\n")}\n`);
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
