import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readWavAs16kMono } from "../src/audio/wav.js";
import { encodePcm16Wav } from "../src/enrolment/wav-encode.js";
import { startMosquitto } from "../test/helpers/mosquitto.js";
import { fillBoundedStores } from "./bench/full-stores.js";
import { intervalVerdict, slopeInterval } from "./bench/interval.js";
import {
  concatenate,
  daemonHeapMb,
  enrolSpeakers,
  procRssMb,
  SAMPLE_RATE,
  Subscriber,
  sleep,
  startServiceDaemon,
  wavParts,
} from "./bench/live.js";
import {
  librispeechFiles,
  machineInfo,
  numberOption,
  parseBenchArgs,
  progress,
  requireModels,
  runMain,
} from "./bench/setup.js";
import { formatTable, heading } from "./bench/table.js";

const CHUNK_MS = 125;
/**
 * Rounds of the household's API use back to back before RSS is judged: uploads lift it to where it then
 * stays (about 40 enrolments, or a few hundred identifications, with CAM++), which a 2-minute warm-up
 * at one call every 5 s was far from reaching: the 20-minute runs measured that rise as a trend.
 */
const WARMUP_ROUNDS = 50;
/** RSS is read this often (seconds of use), and judged on block means: with uploads it swings by ±20 MB. */
const READ_EVERY_S = 10;
const BLOCK_MINUTES = 10;
/** Flat: the trend's 90 % interval adds less than this per hour of use. */
const GOAL_MB_PER_HOUR = 5;

const USAGE = `usage: npm run bench:soak -- [options]
  --minutes N   minutes of use judged, after the warm-up (default 120, at least ${3 * BLOCK_MINUTES})
  --speed N     speech and API use N times faster than real time (default 2: 120 minutes of use in 60)
  --json        print one JSON object instead of tables`;

async function main(): Promise<number> {
  const v = parseBenchArgs({ minutes: { type: "string" }, speed: { type: "string" } }, USAGE);
  if (!v) return 0;
  const minutes = numberOption(
    "minutes",
    v.minutes,
    120,
    (n) => n >= 3 * BLOCK_MINUTES && n <= 1440,
    `${3 * BLOCK_MINUTES}-1440`,
  );
  const speed = numberOption("speed", v.speed, 2, (n) => n >= 1 && n <= 8, "1-8");
  const machine = machineInfo();
  const models = requireModels();
  const files = librispeechFiles();
  const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-bench-soak-"));
  const broker = await startMosquitto();
  try {
    const dataDir = path.join(dir, "data");
    const encoder = await enrolSpeakers(dataDir, models.modelsDir, files.slice(0, 4));
    const filled = await fillBoundedStores(dataDir, encoder, "soak");
    const { data } = wavParts(concatenate(files.slice(0, 40), 11).samples);
    // A header that declares no length, as a recorder's: the speech goes round until the run ends.
    const { header } = wavParts(new Float32Array(0));
    const clip = encodePcm16Wav(
      readWavAs16kMono(readFileSync(files[50].path)).subarray(0, 6 * SAMPLE_RATE),
      SAMPLE_RATE,
    );

    const subscriber = await Subscriber.start(broker.url, "soak");
    const { child, pid, api, exited } = await startServiceDaemon({
      dataDir,
      modelsDir: models.modelsDir,
      mqttUrl: broker.url,
      room: "soak",
    });
    const readings: Reading[] = [];
    const calls = { ok: 0, failed: 0, failures: {} as Record<string, number> };
    const count = (call: Promise<string | null>) =>
      call.then((failure) => {
        if (failure === null) return calls.ok++;
        calls.failed++;
        calls.failures[failure] = (calls.failures[failure] ?? 0) + 1;
      });
    // enrolSpeakers names them "speaker <LibriSpeech id>".
    const speaker = `speaker-${files[0].id}`;
    try {
      // Fails here, not after the run, if /metrics no longer has the heap's figures or the stores
      // were not read as full.
      await daemonHeapMb(api);
      await expectFullStores(api, filled);
      child.stdin.write(header);
      const t0 = performance.now();
      const usedMinutes = () => ((performance.now() - t0) * speed) / 60_000;
      let measuredFrom: number | null = null;
      const done = () => measuredFrom !== null && usedMinutes() - measuredFrom >= minutes;
      // Speech throughout, the recording over and over, at `speed` times real time.
      const speech = (async () => {
        const chunkBytes = (CHUNK_MS * SAMPLE_RATE * 2) / 1000;
        for (let k = 0; !done(); k++) {
          const wait = t0 + ((k + 1) * CHUNK_MS) / speed - performance.now();
          if (wait > 0) await sleep(wait);
          const at = (k * chunkBytes) % data.length;
          child.stdin.write(data.subarray(at, at + chunkBytes));
          if (k % Math.round((READ_EVERY_S * 1000) / CHUNK_MS) === 0 && measuredFrom !== null) {
            const reading: Reading = { minute: usedMinutes() - measuredFrom, mb: procRssMb(pid).rss };
            readings.push(reading);
            // Not awaited: the speech keeps its pace. A reading without it is left out of the heap's means.
            daemonHeapMb(api).then(
              (heap) => Object.assign(reading, heap),
              () => {},
            );
            if (readings.length % 60 === 0)
              progress(
                `${readings.at(-1)!.minute.toFixed(0)} min of use: RSS ${readings.at(-1)!.mb.toFixed(1)} MB`,
              );
          }
        }
      })();
      progress(`soak: warm-up, ${WARMUP_ROUNDS} rounds of API use back to back, with speech`);
      for (let step = 0; step < WARMUP_ROUNDS * HOUSEHOLD_CALLS.length; step++)
        await count(householdCall(api, step, clip, speaker));
      measuredFrom = usedMinutes();
      progress(
        `soak: ${minutes} min of use at ${speed}x real time, API use every 5 s, RSS every ${READ_EVERY_S} s`,
      );
      for (let step = 0; !done(); step++) {
        void count(householdCall(api, step, clip, speaker));
        await sleep(5000 / speed);
      }
      await speech;
      child.stdin.end();
      await exited;
    } finally {
      child.kill();
      await subscriber.stop();
    }
    const blocks = blockMeans(readings, minutes, (r) => r.mb);
    const trend = slopeInterval(blocks.map((b) => ({ x: b.minute / 60, y: b.mb })));
    const heapBlocks = blockMeans(readings, minutes, (r) => r.heapUsed);
    const externalBlocks = blockMeans(readings, minutes, (r) => r.external);
    const heapTrend = slopeInterval(heapBlocks.map((b) => ({ x: b.minute / 60, y: b.mb })));
    const mbs = readings.map((r) => r.mb);
    const figures = {
      machine,
      minutes,
      speed,
      rssMinMb: Math.min(...mbs),
      rssMaxMb: Math.max(...mbs),
      blockMeansMb: blocks.map((b) => b.mb),
      trendMbPerHour: trend,
      heapUsedBlockMeansMb: heapBlocks.map((b) => b.mb),
      externalBlockMeansMb: externalBlocks.map((b) => b.mb),
      heapTrendMbPerHour: heapTrend,
      apiCalls: calls,
      speechTurns: subscriber.events.filter((e) => e.type === "stopped").length,
      storesFullAtStart: filled,
    };
    if (v.json) {
      console.log(JSON.stringify(figures, null, 2));
      return 0;
    }
    const mb = (x: number) => x.toFixed(1);
    console.log(
      heading(
        `bench:soak, ${minutes} min of use at ${speed}x real time on ${machine.cpuModel} (${machine.cores} cores)`,
      ),
    );
    console.log(
      formatTable(
        ["figure", "measured", "goal", "verdict"],
        [
          ["RSS after warm-up, min .. max", `${mb(figures.rssMinMb)} .. ${mb(figures.rssMaxMb)} MB`, "", ""],
          [
            `RSS mean per ${BLOCK_MINUTES} min of use`,
            `${blocks.map((b) => mb(b.mb)).join(", ")} MB`,
            "",
            "",
          ],
          [
            "RSS trend (90 % interval)",
            `${trend.estimate.toFixed(2)} MB/h (${trend.low.toFixed(1)} .. ${trend.high.toFixed(1)})`,
            `< ${GOAL_MB_PER_HOUR}`,
            intervalVerdict(trend, GOAL_MB_PER_HOUR, "at most"),
          ],
          [
            `JS heap in use, mean per ${BLOCK_MINUTES} min`,
            `${heapBlocks.map((b) => mb(b.mb)).join(", ")} MB`,
            "",
            "",
          ],
          [
            "JS heap trend (90 % interval)",
            `${heapTrend.estimate.toFixed(2)} MB/h (${heapTrend.low.toFixed(1)} .. ${heapTrend.high.toFixed(1)})`,
            "",
            "",
          ],
          [
            `outside the heap (buffers), mean per ${BLOCK_MINUTES} min`,
            `${externalBlocks.map((b) => mb(b.mb)).join(", ")} MB`,
            "",
            "",
          ],
          [
            "full at the start: timeline turns, kept unknown turns",
            `${filled.timelineTurns}, ${filled.keptTurns}`,
            "",
            "",
          ],
          ["API calls ok / failed", `${calls.ok} / ${calls.failed}${failureList(calls.failures)}`, "", ""],
          ["speech turns published", figures.speechTurns, "", ""],
        ],
      ),
    );
    console.log(
      "\nThe trend is judged on the block means: UNSURE when its interval straddles the goal (a longer run, --minutes, would tell).\nRSS rising with a flat JS heap is native memory (onnxruntime, malloc); with the heap, JavaScript's.",
    );
    return 0;
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The daemon read the filled stores: the timeline's turns of the last day, and every kept voice. */
async function expectFullStores(
  api: string,
  filled: { timelineTurns: number; keptTurns: number },
): Promise<void> {
  const day = (await (await fetch(`${api}/api/timeline?minutes=1440`)).json()) as { turns: unknown[] };
  const { voices } = (await (await fetch(`${api}/api/voices`)).json()) as { voices: { turns: number }[] };
  const timelineTurns = day.turns.length;
  const keptTurns = voices.reduce((n, v) => n + v.turns, 0);
  if (timelineTurns !== filled.timelineTurns || keptTurns !== filled.keptTurns)
    throw new Error(
      `the daemon holds ${timelineTurns} timeline turns and ${keptTurns} kept turns, not the ${filled.timelineTurns} and ${filled.keptTurns} filled in`,
    );
}

/** The household requests, in rotation (the sample is posted, then deleted). */
const HOUSEHOLD_CALLS = [
  "GET /api/speakers",
  "POST /api/identify",
  "POST /api/speakers/:id/samples",
  "GET /metrics",
  "GET /api/events",
  "GET /health",
] as const;

/** One household request, in rotation: null when it went as a household expects, else what went wrong. */
async function householdCall(
  api: string,
  step: number,
  clip: Uint8Array,
  speakerId: string,
): Promise<string | null> {
  const what = HOUSEHOLD_CALLS[step % HOUSEHOLD_CALLS.length];
  // A request that got no answer says so with the call and undici's cause ("fetch failed" alone says neither).
  return oneCall(api, what, clip, speakerId).catch((err: unknown) => {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return `${what}, no answer (${err instanceof Error ? err.message : String(err)}${cause})`;
  });
}

async function oneCall(
  api: string,
  what: (typeof HOUSEHOLD_CALLS)[number],
  clip: Uint8Array,
  speakerId: string,
): Promise<string | null> {
  const wav = { "Content-Type": "audio/wav" };
  const answered = async (res: Response) => {
    await res.text();
    return res.ok ? null : `${what} ${res.status}`;
  };
  switch (what) {
    case "GET /api/speakers":
      return answered(await fetch(`${api}/api/speakers`));
    case "POST /api/identify":
      return answered(await fetch(`${api}/api/identify`, { method: "POST", headers: wav, body: clip }));
    case "POST /api/speakers/:id/samples": {
      const res = await fetch(`${api}/api/speakers/${speakerId}/samples`, {
        method: "POST",
        headers: wav,
        body: clip,
      });
      if (!res.ok) return answered(res);
      const body = (await res.json()) as { samples: { sampleId: string }[] };
      const del = await fetch(`${api}/api/speakers/${speakerId}/samples/${body.samples[0].sampleId}`, {
        method: "DELETE",
      });
      await del.text();
      return del.status === 204 ? null : `DELETE /api/speakers/:id/samples/:sample ${del.status}`;
    }
    case "GET /metrics":
      return answered(await fetch(`${api}/metrics`));
    case "GET /api/events": {
      const abort = new AbortController();
      const res = await fetch(`${api}/api/events`, { signal: abort.signal });
      await sleep(1000);
      abort.abort();
      return res.ok ? null : `${what} ${res.status}`;
    }
    case "GET /health":
      return answered(await fetch(`${api}/health`));
  }
}

/** ": 12 × POST /api/identify 429, …", most frequent first; empty when nothing failed. */
function failureList(failures: Record<string, number>): string {
  const list = Object.entries(failures).sort((a, b) => b[1] - a[1]);
  return list.length === 0 ? "" : `: ${list.map(([what, n]) => `${n} × ${what}`).join(", ")}`;
}

/** One reading, at `minute` of use after the warm-up: RSS, and the daemon's heap once /metrics answered. */
interface Reading {
  minute: number;
  mb: number;
  heapUsed?: number;
  external?: number;
}

/**
 * The mean of one figure of the readings (those that have it) over each block of BLOCK_MINUTES of use, at
 * the block's middle, up to `minutes`.
 */
function blockMeans(
  readings: readonly Reading[],
  minutes: number,
  figure: (r: Reading) => number | undefined,
): { minute: number; mb: number }[] {
  const blocks: { minute: number; mb: number }[] = [];
  for (let from = 0; from + BLOCK_MINUTES <= minutes; from += BLOCK_MINUTES) {
    const inside = readings
      .filter((r) => r.minute >= from && r.minute < from + BLOCK_MINUTES)
      .map(figure)
      .filter((x) => x !== undefined);
    if (inside.length > 0)
      blocks.push({
        minute: from + BLOCK_MINUTES / 2,
        mb: inside.reduce((n, x) => n + x, 0) / inside.length,
      });
  }
  return blocks;
}

runMain(main);
