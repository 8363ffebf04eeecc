/**
 * Several microphones: ROOMS rooms from files (paced like live microphones) in one daemon with `inputs:`,
 * against ROOMS daemons with one input each, as systemd runs them. CPU (user + system over wall time, all
 * processes summed, from /proc) and RSS (summed, the highest sampled), while every room hears a quiet
 * room's noise, and while TALKING of them hear people talking (utterances 1-3 s apart).
 */
import { cpSync, writeFileSync } from "node:fs";
import path from "node:path";
import { connectAsync } from "mqtt";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import {
  concatenate,
  enrolSpeakers,
  lowNoise,
  procCpuSeconds,
  procRssMb,
  SAMPLE_RATE,
  type ServiceDaemon,
  sleep,
  startServiceDaemon,
} from "./live.js";
import { type BenchFile, progress } from "./setup.js";
import { fixed, formatTable, heading, pct, verdict } from "./table.js";

export const ROOMS = 4;
export const TALKING = 2;
/** The one-daemon RSS goal, as a share of ROOMS daemons'. */
export const GOAL_RSS_SHARE = 0.4;
/** After /health answers: the first windows, the encoder's first load, the allocator settling. */
const WARMUP_SECONDS = 8;
/** Room for the start-up before /health answers (the files play from the daemon's start). */
const STARTUP_SECONDS = 20;

export interface LoadFigures {
  setup: "one daemon" | "separate daemons";
  phase: "quiet" | "talking";
  processes: number;
  seconds: number;
  /** CPU seconds per wall second, all processes: 1 = one core. */
  cpuShare: number;
  /**
   * The same for the main threads alone (JavaScript: the VAD's batching, mel, the tracker; the models run
   * on onnxruntime's threads): one daemon's rooms share one, which is what bounds the rooms it carries.
   */
  mainThreadShare: number;
  /** Highest summed RSS sampled, MB. */
  rssMb: number;
  /** Turns ended (stopped events) in the measured window, all rooms. */
  turns: number;
}

export interface SeveralInputsFigures {
  rooms: number;
  talking: number;
  runs: LoadFigures[];
  /** One daemon's RSS over the separate daemons', all rooms quiet. */
  rssShareQuiet: number;
  /** One daemon's CPU per quiet room, and per talking room beyond quiet (shares of a core) ... */
  perQuietRoom: number;
  perTalkingRoom: number;
  /** ... and of that, on the main thread, per talking room. */
  perTalkingRoomMainThread: number;
  pass: boolean;
}

const roomName = (i: number) => `Room ${i + 1}`;
const roomSlug = (i: number) => `room_${i + 1}`;

/**
 * Runs the four measurements (one daemon and separate daemons, quiet and two talking), one after another
 * on the same files and registry.
 */
export async function measureSeveralInputs(options: {
  dir: string;
  modelsDir: string;
  mqttUrl: string;
  files: BenchFile[];
  seconds: number;
}): Promise<SeveralInputsFigures> {
  const { dir, modelsDir, mqttUrl, files, seconds } = options;
  const total = STARTUP_SECONDS + WARMUP_SECONDS + seconds;
  const enrolled = path.join(dir, "enrolled");
  progress(`several inputs: enrolling ${files.length} people`);
  await enrolSpeakers(enrolled, modelsDir, files);
  const quiet = Array.from({ length: ROOMS }, (_, i) =>
    wavFile(dir, `quiet-${i}.wav`, lowNoise(total, 100 + i)),
  );
  // Each talking room its own people, one after another until the file is long enough.
  const talking = Array.from({ length: TALKING }, (_, i) =>
    wavFile(
      dir,
      `talking-${i}.wav`,
      speech(
        files.filter((_, k) => k % TALKING === i),
        total,
        200 + i,
      ),
    ),
  );
  const runs: LoadFigures[] = [];
  for (const phase of ["quiet", "talking"] as const) {
    const roomFiles = quiet.map((q, i) => (phase === "talking" && i < TALKING ? talking[i] : q));
    for (const setup of ["one daemon", "separate daemons"] as const) {
      progress(`several inputs: ${setup}, ${phase}`);
      runs.push(await measure({ setup, phase, roomFiles, dir, enrolled, modelsDir, mqttUrl, seconds }));
    }
  }
  const find = (setup: LoadFigures["setup"], phase: LoadFigures["phase"]) =>
    runs.find((r) => r.setup === setup && r.phase === phase) as LoadFigures;
  const one = find("one daemon", "quiet");
  const rssShareQuiet = one.rssMb / find("separate daemons", "quiet").rssMb;
  return {
    rooms: ROOMS,
    talking: TALKING,
    runs,
    rssShareQuiet,
    perQuietRoom: one.cpuShare / ROOMS,
    perTalkingRoom: (find("one daemon", "talking").cpuShare - one.cpuShare) / TALKING,
    perTalkingRoomMainThread: (find("one daemon", "talking").mainThreadShare - one.mainThreadShare) / TALKING,
    pass: rssShareQuiet <= GOAL_RSS_SHARE,
  };
}

function wavFile(dir: string, name: string, samples: Float32Array): string {
  const file = path.join(dir, name);
  writeFileSync(file, encodePcm16Wav(samples, SAMPLE_RATE));
  return file;
}

/** The utterances of `files` with 1-3 s gaps, repeated until `seconds` long. */
function speech(files: BenchFile[], seconds: number, seed: number): Float32Array {
  const once = concatenate(files, seed).samples;
  const out = new Float32Array(Math.round(seconds * SAMPLE_RATE));
  for (let at = 0; at < out.length; at += once.length) out.set(once.subarray(0, out.length - at), at);
  return out;
}

async function measure(run: {
  setup: LoadFigures["setup"];
  phase: LoadFigures["phase"];
  roomFiles: string[];
  dir: string;
  enrolled: string;
  modelsDir: string;
  mqttUrl: string;
  seconds: number;
}): Promise<LoadFigures> {
  const tag = `${run.setup === "one daemon" ? "one" : "separate"}-${run.phase}`;
  const dataDir = (k: number) => {
    const to = path.join(run.dir, `${tag}-${k}`);
    cpSync(run.enrolled, to, { recursive: true });
    return to;
  };
  const common = {
    modelsDir: run.modelsDir,
    mqttUrl: run.mqttUrl,
    env: { VOICEID__AUDIO__REALTIME: "true" },
  };
  const daemons: ServiceDaemon[] = [];
  const turns = await countTurns(run.mqttUrl);
  try {
    if (run.setup === "one daemon") {
      const config = path.join(run.dir, `${tag}.yaml`);
      const inputs = run.roomFiles.map((f, i) => `  - { room: ${roomName(i)}, source: file, file: ${f} }`);
      writeFileSync(config, ["inputs:", ...inputs, ""].join("\n"));
      daemons.push(
        await startServiceDaemon({
          ...common,
          dataDir: dataDir(0),
          room: "unused",
          input: ["--config", config],
        }),
      );
    } else {
      daemons.push(
        ...(await Promise.all(
          run.roomFiles.map((f, i) =>
            startServiceDaemon({ ...common, dataDir: dataDir(i), room: roomName(i), input: ["--input", f] }),
          ),
        )),
      );
    }
    await sleep(WARMUP_SECONDS * 1000);
    const pids = daemons.map((d) => d.pid);
    const cpu = () => pids.reduce((n, pid) => n + procCpuSeconds(pid), 0);
    const mainCpu = () => pids.reduce((n, pid) => n + procCpuSeconds(pid, true), 0);
    const rss = () => pids.reduce((n, pid) => n + procRssMb(pid).rss, 0);
    const turns0 = turns.count();
    const cpu0 = cpu();
    const main0 = mainCpu();
    const t0 = performance.now();
    let maxRss = rss();
    while (performance.now() - t0 < run.seconds * 1000) {
      await sleep(500);
      maxRss = Math.max(maxRss, rss());
    }
    const wall = (performance.now() - t0) / 1000;
    return {
      setup: run.setup,
      phase: run.phase,
      processes: daemons.length,
      seconds: wall,
      cpuShare: (cpu() - cpu0) / wall,
      mainThreadShare: (mainCpu() - main0) / wall,
      rssMb: maxRss,
      turns: turns.count() - turns0,
    };
  } finally {
    for (const d of daemons) d.child.kill("SIGTERM");
    await Promise.all(daemons.map((d) => d.exited));
    await turns.stop();
  }
}

/** Counts `stopped` events of every room on the broker. */
async function countTurns(url: string): Promise<{ count: () => number; stop: () => Promise<void> }> {
  const client = await connectAsync(url, { reconnectPeriod: 0 });
  let n = 0;
  client.on("message", (_topic, payload) => {
    if ((JSON.parse(payload.toString()) as { type: string }).type === "stopped") n++;
  });
  await client.subscribeAsync(
    Array.from({ length: ROOMS }, (_, i) => `voiceid/${roomSlug(i)}/event`),
    { qos: 1 },
  );
  return { count: () => n, stop: () => client.endAsync(true) };
}

export function severalInputsReport(f: SeveralInputsFigures): string {
  const rows = f.runs.map((r) => [
    r.setup === "one daemon" ? `one daemon, ${f.rooms} inputs` : `${r.processes} daemons, one input each`,
    r.phase === "quiet" ? "all quiet" : `${f.talking} talking`,
    pct(r.cpuShare, 1),
    pct(r.mainThreadShare, 1),
    fixed(r.rssMb, 0),
    r.turns,
  ]);
  return (
    `\n${heading(`several inputs: ${f.rooms} rooms from files, paced like microphones`)}\n` +
    `${formatTable(["setup", "rooms", "CPU (of a core)", "main thread", "RSS MB (max)", "turns"], rows)}\n` +
    `one daemon, per quiet room: ${pct(f.perQuietRoom, 2)} of a core; per talking room beyond quiet: ${pct(f.perTalkingRoom, 1)} (main thread ${pct(f.perTalkingRoomMainThread, 1)})\n` +
    `goal one daemon's RSS <= ${GOAL_RSS_SHARE * 100} % of ${f.rooms} daemons', all quiet: ${pct(f.rssShareQuiet, 0)} ${verdict(f.pass)}\n`
  );
}
