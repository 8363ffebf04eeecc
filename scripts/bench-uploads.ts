import { cpSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { resample } from "../src/audio/resample.js";
import { encodePcm16Wav } from "../src/enrolment/wav-encode.js";
import { type MosquittoBroker, startMosquitto } from "../test/helpers/mosquitto.js";
import {
  type HugeNameFigures,
  hugeNameAttack,
  type SlowBodyFigures,
  slowBodyAttack,
} from "./bench/hostile.js";
import {
  concatenate,
  enrolSpeakers,
  percentile,
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

const CHUNK = 512;
const ENROLLED = 4;
const UPLOAD_SECONDS = 120;
const UPLOAD_RATE = 48_000;
const GOALS = { healthP95Ms: 100, extraDelayP95Ms: 250 };
const TAIL_SECONDS = 15;

const USAGE = `usage: npm run bench:uploads -- [options]
  --uploads N          uploads in flight during the loaded pass (default 10)
  --utterances N       utterances in each pass of the stream (default 8, about 2 minutes)
  --attack-seconds N   how long the clients trickling upload bodies keep at it (default 30)
  --before FILE        another build's dist/cli/main.js (e.g. a checkout of an earlier commit, built with
                       npm run build): the hostile-input figures of both, in the same run
  --hostile-only       the hostile-input figures only, without the two passes of the stream
  --json               print one JSON object instead of tables`;

/** Trickling clients: as many as the daemon has upload slots, as in the issue. */
const TRICKLING = 4;

interface HostileFigures {
  slowBodies: SlowBodyFigures;
  hugeName: HugeNameFigures;
}

interface Pass {
  healthMs: number[];
  delayMs: number[];
}

async function main(): Promise<number> {
  const v = parseBenchArgs(
    {
      uploads: { type: "string" },
      utterances: { type: "string" },
      "attack-seconds": { type: "string" },
      before: { type: "string" },
      "hostile-only": { type: "boolean", default: false },
    },
    USAGE,
  );
  if (!v) return 0;
  const uploads = numberOption(
    "uploads",
    v.uploads,
    10,
    (n) => Number.isInteger(n) && n >= 1 && n <= 50,
    "1-50",
  );
  const utterances = numberOption(
    "utterances",
    v.utterances,
    8,
    (n) => Number.isInteger(n) && n >= 1 && n <= 60,
    "1-60",
  );
  const attackSeconds = numberOption(
    "attack-seconds",
    v["attack-seconds"],
    30,
    (n) => Number.isInteger(n) && n >= 5 && n <= 300,
    "5-300",
  );
  const machine = machineInfo();
  const models = requireModels();
  const files = librispeechFiles();
  const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-bench-uploads-"));
  let broker: MosquittoBroker | null = null;
  try {
    broker = await startMosquitto();
    const dataDir = path.join(dir, "data");
    progress(`enrolling ${ENROLLED} speakers`);
    await enrolSpeakers(dataDir, models.modelsDir, files.slice(0, ENROLLED));

    // The largest accepted upload: 120 s of speech at 48 kHz (needs resampling), 11.5 MB, under the 20 MiB limit.
    const speech = concatenate(files.slice(ENROLLED, ENROLLED + 12), 5).samples.subarray(
      0,
      UPLOAD_SECONDS * SAMPLE_RATE,
    );
    const bigUpload = encodePcm16Wav(resample(speech, SAMPLE_RATE, UPLOAD_RATE), UPLOAD_RATE);
    const oneHz = encodePcm16Wav(new Float32Array(10_000), 1);
    // A real upload during the slow-body attack: 10 s of a speaker nobody enrolled.
    const tenSeconds = encodePcm16Wav(
      concatenate(files.slice(ENROLLED, ENROLLED + 2), 7).samples.subarray(0, 10 * SAMPLE_RATE),
      SAMPLE_RATE,
    );
    const enrolledId = `speaker-${files[0].id}`;
    const hostile = async (api: string, pid: number): Promise<HostileFigures> => {
      progress(`hostile input: ${TRICKLING} clients trickling upload bodies for up to ${attackSeconds} s`);
      const slowBodies = await slowBodyAttack(api, tenSeconds, { trickling: TRICKLING, attackSeconds });
      progress("hostile input: a 19 MiB invalid name, created and renamed");
      return { slowBodies, hugeName: await hugeNameAttack(api, pid, enrolledId) };
    };

    let before: HostileFigures | null = null;
    if (v.before) {
      // A copy of the data: the same people, and nothing the other build does reaches this one's.
      const beforeData = path.join(dir, "data-before");
      cpSync(dataDir, beforeData, { recursive: true });
      progress(`the build before: ${v.before}`);
      const old = await startServiceDaemon({
        dataDir: beforeData,
        modelsDir: models.modelsDir,
        mqttUrl: broker.url,
        room: "bench-uploads-before",
        entry: v.before,
      });
      try {
        before = await hostile(old.api, old.pid);
      } finally {
        old.child.kill();
        await old.exited;
      }
    }

    const pass = concatenate(files.slice(0, utterances), 3);
    // Quiet pass, loaded pass, then silence while the last uploads finish (the daemon exits at the end).
    const stream = new Float32Array(pass.samples.length * 2 + TAIL_SECONDS * SAMPLE_RATE);
    stream.set(pass.samples);
    stream.set(pass.samples, pass.samples.length);
    const { header, data } = wavParts(stream);

    const room = "bench-uploads";
    const subscriber = await Subscriber.start(broker.url, room);
    const { child, pid, api, exited } = await startServiceDaemon({
      dataDir,
      modelsDir: models.modelsDir,
      mqttUrl: broker.url,
      room,
    });
    try {
      const rssBefore = procRssMb(pid).rss;
      const t1 = performance.now();
      const oneHzAnswer = await fetch(`${api}/api/identify`, {
        method: "POST",
        headers: { "Content-Type": "audio/wav" },
        body: oneHz,
      });
      const oneHzMs = performance.now() - t1;
      const oneHzStatus = oneHzAnswer.status;
      await oneHzAnswer.text();
      const rssAfterOneHz = procRssMb(pid).rss;
      const after = await hostile(api, pid);
      if (v["hostile-only"]) {
        child.kill();
        await exited;
        const figures = { machine, oneHz: { status: oneHzStatus, ms: oneHzMs }, hostile: { before, after } };
        if (v.json) console.log(JSON.stringify(figures, null, 2));
        else {
          console.log(
            heading(`bench:uploads (hostile input) on ${machine.cpuModel} (${machine.cores} cores)`),
          );
          console.log(hostileTable(before, after));
        }
        return 0;
      }

      child.stdin.write(header);
      const chunkBytes = CHUNK * 2;
      const chunks = Math.ceil(data.length / chunkBytes);
      const passChunks = Math.floor(pass.samples.length / CHUNK);
      const half = passChunks;
      const tail = 2 * passChunks;
      const fedAt = new Float64Array(chunks);
      const health: { at: number; ms: number }[] = [];
      let feeding = true;
      const poll = (async () => {
        while (feeding) {
          const t = performance.now();
          await fetch(`${api}/health`).then((r) => r.text());
          health.push({ at: t, ms: performance.now() - t });
          await sleep(Math.max(0, 100 - (performance.now() - t)));
        }
      })();
      let loaded = false;
      let completed = 0;
      let refused = 0;
      let failed = 0;
      let maxRss = 0;
      const uploader = async () => {
        while (loaded) {
          try {
            const res = await fetch(`${api}/api/identify`, {
              method: "POST",
              headers: { "Content-Type": "audio/wav" },
              body: bigUpload,
            });
            const text = await res.text();
            if (res.status === 200) completed++;
            else if (res.status === 429) {
              refused++;
              await sleep(1000);
            } else {
              failed++;
              progress(`upload answered ${res.status}: ${text.slice(0, 200)}`);
            }
          } catch (err) {
            failed++;
            progress(`upload failed: ${String((err as Error).cause ?? err)}`);
          }
        }
      };
      let workers: Promise<void>[] = [];
      progress(
        `stream: ${(stream.length / SAMPLE_RATE).toFixed(0)} s in real time; uploads in the second half`,
      );
      const t0 = performance.now();
      let loadedFrom = 0;
      for (let k = 0; k < chunks; k++) {
        if (k === half) {
          loaded = true;
          loadedFrom = performance.now();
          workers = Array.from({ length: uploads }, uploader);
        }
        if (k === tail) {
          loaded = false;
          feeding = false;
        }
        const wait = t0 + ((k + 1) * CHUNK * 1000) / SAMPLE_RATE - performance.now();
        if (wait > 0) await sleep(wait);
        child.stdin.write(data.subarray(k * chunkBytes, (k + 1) * chunkBytes));
        fedAt[k] = performance.now();
        if (k % 32 === 0) maxRss = Math.max(maxRss, procRssMb(pid).rss);
      }
      loaded = false;
      feeding = false;
      await Promise.all([...workers, poll]);
      child.stdin.end();
      await exited;
      await subscriber.settle();

      const fedTimeOf = (sample: number) =>
        fedAt[Math.min(chunks - 1, Math.max(0, Math.floor(sample / CHUNK)))];
      const passes: Record<"quiet" | "loaded", Pass> = {
        quiet: { healthMs: [], delayMs: [] },
        loaded: { healthMs: [], delayMs: [] },
      };
      for (const h of health)
        passes[loadedFrom > 0 && h.at >= loadedFrom ? "loaded" : "quiet"].healthMs.push(h.ms);
      for (const e of subscriber.events.filter((x) => x.type === "stopped")) {
        const decidable = Math.round(e.decidedAtS * SAMPLE_RATE);
        if (decidable >= tail * CHUNK) continue;
        passes[decidable >= half * CHUNK ? "loaded" : "quiet"].delayMs.push(e.at - fedTimeOf(decidable - 1));
      }

      const p = (xs: number[], q: number) => percentile(xs, q) ?? Number.NaN;
      const extraDelay = p(passes.loaded.delayMs, 0.95) - p(passes.quiet.delayMs, 0.95);
      const figures = {
        machine,
        uploads: {
          inFlight: uploads,
          completed,
          failed,
          seconds: UPLOAD_SECONDS,
          rate: UPLOAD_RATE,
          bytes: bigUpload.length,
        },
        oneHz: { status: oneHzStatus, ms: oneHzMs, rssBeforeMb: rssBefore, rssAfterMb: rssAfterOneHz },
        hostile: { before, after },
        quiet: summary(passes.quiet),
        loaded: summary(passes.loaded),
        maxRssMb: maxRss,
      };
      if (v.json) {
        console.log(JSON.stringify(figures, null, 2));
        return 0;
      }
      console.log(heading(`bench:uploads on ${machine.cpuModel} (${machine.cores} cores)`));
      console.log(
        `${uploads} clients uploading during the loaded pass: ${completed} answered 200, ${refused} refused 429 ` +
          `(the daemon takes 4 at a time, the others retried after 1 s), ${failed} other; each ` +
          `${UPLOAD_SECONDS} s at ${UPLOAD_RATE / 1000} kHz, ${(bigUpload.length / 2 ** 20).toFixed(1)} MiB`,
      );
      console.log(
        formatTable(
          ["figure", "quiet", `${uploads} uploads`, "goal", "verdict"],
          [
            [
              "/health latency p50",
              ms(p(passes.quiet.healthMs, 0.5)),
              ms(p(passes.loaded.healthMs, 0.5)),
              "",
              "",
            ],
            [
              "/health latency p95",
              ms(p(passes.quiet.healthMs, 0.95)),
              ms(p(passes.loaded.healthMs, 0.95)),
              `<= ${GOALS.healthP95Ms} ms`,
              verdict(p(passes.loaded.healthMs, 0.95) <= GOALS.healthP95Ms),
            ],
            [
              "/health latency max",
              ms(Math.max(...passes.quiet.healthMs)),
              ms(Math.max(...passes.loaded.healthMs)),
              "",
              "",
            ],
            [
              "detection delay p50",
              ms(p(passes.quiet.delayMs, 0.5)),
              ms(p(passes.loaded.delayMs, 0.5)),
              "",
              "",
            ],
            [
              "detection delay p95",
              ms(p(passes.quiet.delayMs, 0.95)),
              ms(p(passes.loaded.delayMs, 0.95)),
              `+<= ${GOALS.extraDelayP95Ms} ms`,
              verdict(extraDelay <= GOALS.extraDelayP95Ms),
            ],
            ["speech turns measured", passes.quiet.delayMs.length, passes.loaded.delayMs.length, "", ""],
          ],
        ),
      );
      console.log(
        `\n1 Hz WAV (20 kB): HTTP ${oneHzStatus} after ${oneHzMs.toFixed(1)} ms; RSS ${rssBefore.toFixed(0)} -> ` +
          `${rssAfterOneHz.toFixed(0)} MB. Highest RSS during the run: ${maxRss.toFixed(0)} MB.`,
      );
      console.log(heading("hostile input"));
      console.log(hostileTable(before, after));
      return 0;
    } finally {
      child.kill();
      await subscriber.stop();
    }
  } finally {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function summary(pass: Pass) {
  return {
    healthP50Ms: percentile(pass.healthMs, 0.5),
    healthP95Ms: percentile(pass.healthMs, 0.95),
    healthMaxMs: Math.max(...pass.healthMs),
    delayP50Ms: percentile(pass.delayMs, 0.5),
    delayP95Ms: percentile(pass.delayMs, 0.95),
    turns: pass.delayMs.length,
  };
}

const ms = (x: number) => `${x.toFixed(1)} ms`;

/** The hostile-input figures, of this build and (with --before) of the other one side by side. */
function hostileTable(before: HostileFigures | null, after: HostileFigures): string {
  const columns = before ? [before, after] : [after];
  const served = (f: HostileFigures) => {
    const s = f.slowBodies;
    const tries = `${s.attempts.length} tr${s.attempts.length === 1 ? "y" : "ies"}`;
    return s.servedAfterMs === null
      ? `not served (${tries})`
      : `${(s.servedAfterMs / 1000).toFixed(2)} s, ${tries}`;
  };
  const cut = (f: HostileFigures) => {
    const c = f.slowBodies.answeredAfterMs;
    if (c === null) return "never";
    const statuses = [...new Set(f.slowBodies.answers)].join(", ");
    return `${statuses} after ${(c[0] / 1000).toFixed(2)}-${(c[1] / 1000).toFixed(2)} s`;
  };
  const answers = (f: HostileFigures) =>
    f.hugeName.answers.map((a) => `${a.status}, ${bytes(a.bytes)}, ${ms(a.ms)}`).join(" / ");
  const mb = (x: number) => `${x.toFixed(0)} MB`;
  const rows: Array<[string, (f: HostileFigures) => string]> = [
    [`real upload during ${TRICKLING} trickling uploads`, served],
    ["trickling uploads answered", cut],
    ["19 MiB invalid name: answers (create / rename)", answers],
    ["  /health p50 during it", (f) => ms(f.hugeName.healthP50Ms)],
    ["  /health max during it", (f) => ms(f.hugeName.healthMaxMs)],
    [
      "  RSS before / max / 3 s after",
      (f) => `${mb(f.hugeName.rssBeforeMb)} / ${mb(f.hugeName.rssMaxMb)} / ${mb(f.hugeName.rssAfterMb)}`,
    ],
  ];
  return formatTable(
    ["figure", ...(before ? ["before", "this build"] : ["this build"])],
    rows.map(([label, cell]) => [label, ...columns.map(cell)]),
  );
}

function bytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${n} B`;
}

runMain(main);
