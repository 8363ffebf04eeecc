import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readWavAs16kMono } from "../src/audio/wav.js";
import { encodePcm16Wav } from "../src/enrolment/wav-encode.js";
import { startMosquitto } from "../test/helpers/mosquitto.js";
import {
  concatenate,
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
import { formatTable, heading, verdict } from "./bench/table.js";

const CHUNK_MS = 125;
const WARMUP_MINUTES = 2;
/** Flat: the fitted trend adds less than this per hour. */
const GOAL_MB_PER_HOUR = 5;

const USAGE = `usage: npm run bench:soak -- [options]
  --minutes N   length of the run (default 20)
  --json        print one JSON object instead of tables`;

async function main(): Promise<number> {
  const v = parseBenchArgs({ minutes: { type: "string" } }, USAGE);
  if (!v) return 0;
  const minutes = numberOption("minutes", v.minutes, 20, (n) => n >= 1 && n <= 600, "1-600");
  const machine = machineInfo();
  const models = requireModels();
  const files = librispeechFiles();
  const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-bench-soak-"));
  const broker = await startMosquitto();
  try {
    const dataDir = path.join(dir, "data");
    await enrolSpeakers(dataDir, models.modelsDir, files.slice(0, 4));
    const heard = concatenate(files.slice(0, 40), 11).samples;
    const total = Math.round(minutes * 60 * SAMPLE_RATE);
    const stream = new Float32Array(total);
    for (let at = 0; at < total; at += heard.length) stream.set(heard.subarray(0, total - at), at);
    const { header, data } = wavParts(stream);
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
    const rss: { minute: number; mb: number }[] = [];
    const calls = { ok: 0, failed: 0 };
    try {
      child.stdin.write(header);
      const chunkBytes = (CHUNK_MS * SAMPLE_RATE * 2) / 1000;
      const chunks = Math.ceil(data.length / chunkBytes);
      const t0 = performance.now();
      let nextCall = 0;
      let step = 0;
      progress(`soak: ${minutes} min of speech in real time, API use every 5 s, RSS every 10 s`);
      for (let k = 0; k < chunks; k++) {
        const wait = t0 + (k + 1) * CHUNK_MS - performance.now();
        if (wait > 0) await sleep(wait);
        child.stdin.write(data.subarray(k * chunkBytes, (k + 1) * chunkBytes));
        const elapsed = (performance.now() - t0) / 1000;
        if (k % Math.round(10_000 / CHUNK_MS) === 0) {
          rss.push({ minute: elapsed / 60, mb: procRssMb(pid).rss });
          if (rss.length % 30 === 0)
            progress(`${(elapsed / 60).toFixed(0)} min: RSS ${rss[rss.length - 1].mb.toFixed(1)} MB`);
        }
        if (elapsed >= nextCall) {
          nextCall += 5;
          // enrolSpeakers names them "speaker <LibriSpeech id>".
          void householdCall(api, step++, clip, `speaker-${files[0].id}`).then(
            (ok) => (ok ? calls.ok++ : calls.failed++),
            () => calls.failed++,
          );
        }
      }
      child.stdin.end();
      await exited;
    } finally {
      child.kill();
      await subscriber.stop();
    }
    const steady = rss.filter((r) => r.minute >= Math.min(WARMUP_MINUTES, minutes / 2));
    const slope = trend(steady) * 60;
    const mbs = steady.map((r) => r.mb);
    const figures = {
      machine,
      minutes,
      rssMinMb: Math.min(...mbs),
      rssMaxMb: Math.max(...mbs),
      rssStartMb: mbs[0],
      rssEndMb: mbs[mbs.length - 1],
      trendMbPerHour: slope,
      apiCalls: calls,
      speechTurns: subscriber.events.filter((e) => e.type === "stopped").length,
    };
    if (v.json) {
      console.log(JSON.stringify(figures, null, 2));
      return 0;
    }
    console.log(heading(`bench:soak, ${minutes} min on ${machine.cpuModel} (${machine.cores} cores)`));
    console.log(
      formatTable(
        ["figure", "measured", "goal", "verdict"],
        [
          [
            "RSS after warm-up, min .. max",
            `${figures.rssMinMb.toFixed(1)} .. ${figures.rssMaxMb.toFixed(1)} MB`,
            "",
            "",
          ],
          [
            "RSS first / last reading",
            `${figures.rssStartMb.toFixed(1)} / ${figures.rssEndMb.toFixed(1)} MB`,
            "",
            "",
          ],
          [
            "RSS trend",
            `${slope.toFixed(2)} MB per hour`,
            `< ${GOAL_MB_PER_HOUR}`,
            verdict(slope < GOAL_MB_PER_HOUR),
          ],
          ["API calls ok / failed", `${calls.ok} / ${calls.failed}`, "", ""],
          ["speech turns published", figures.speechTurns, "", ""],
        ],
      ),
    );
    return 0;
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One household request, in rotation. */
async function householdCall(
  api: string,
  step: number,
  clip: Uint8Array,
  speakerId: string,
): Promise<boolean> {
  const wav = { "Content-Type": "audio/wav" };
  switch (step % 6) {
    case 0:
      return await fetch(`${api}/api/speakers`).then((r) => r.text().then(() => r.ok));
    case 1:
      return fetch(`${api}/api/identify`, { method: "POST", headers: wav, body: clip }).then((r) =>
        r.text().then(() => r.ok),
      );
    case 2: {
      const res = await fetch(`${api}/api/speakers/${speakerId}/samples`, {
        method: "POST",
        headers: wav,
        body: clip,
      });
      if (!res.ok) return false;
      const body = (await res.json()) as { samples: { sampleId: string }[] };
      const del = await fetch(`${api}/api/speakers/${speakerId}/samples/${body.samples[0].sampleId}`, {
        method: "DELETE",
      });
      return del.status === 204;
    }
    case 3:
      return fetch(`${api}/metrics`).then((r) => r.text().then(() => r.ok));
    case 4: {
      const abort = new AbortController();
      const res = await fetch(`${api}/api/events`, { signal: abort.signal });
      await sleep(1000);
      abort.abort();
      return res.ok;
    }
    default:
      return fetch(`${api}/health`).then((r) => r.text().then(() => r.ok));
  }
}

/** Least-squares slope of RSS over time, MB per minute. */
function trend(points: { minute: number; mb: number }[]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.minute, 0) / n;
  const my = points.reduce((s, p) => s + p.mb, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.minute - mx) * (p.mb - my);
    den += (p.minute - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

runMain(main);
