/**
 * `npm run bench:household`: three daemons as systemd runs them, one household on a local mosquitto.
 *   (a) sync speed: people enrolled (N samples each) through the three nodes in turn, then renamed, then
 *       some deleted; after every edit, the time until all three nodes' APIs show the same thing;
 *   (b) bytes per person the broker retains (sealed records);
 *   (c) partition: one node stopped, random edits (renames, deletes of people it knows, new people) on the
 *       others, the node restarted: the time until it agrees, and whether any deleted person came back;
 *   (d) several inputs: 4 rooms from files in one daemon against 4 daemons, CPU and RSS, all quiet and
 *       two talking (scripts/bench/several-inputs.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { connectAsync } from "mqtt";
import { readWavAs16kMono } from "../src/audio/wav.js";
import { encodePcm16Wav } from "../src/enrolment/wav-encode.js";
import { newHouseholdKey } from "../src/household/crypto.js";
import { freePort, startMosquitto } from "../test/helpers/mosquitto.js";
import { percentile, SAMPLE_RATE, type ServiceDaemon, sleep, startServiceDaemon } from "./bench/live.js";
import { mulberry32 } from "./bench/prng.js";
import {
  librispeechFiles,
  machineInfo,
  numberOption,
  parseBenchArgs,
  progress,
  requireModels,
  runMain,
} from "./bench/setup.js";
import { measureSeveralInputs, severalInputsReport } from "./bench/several-inputs.js";
import { fixed, formatTable, heading, verdict } from "./bench/table.js";

const GOAL_P95_MS = 1000;

const USAGE = `usage: npm run bench:household -- [options]
  --people N     people enrolled (default 20)
  --samples N    samples per person (default 5)
  --edits N      edits during the partition (default 50)
  --input-seconds N  seconds measured per run of the several-inputs phase (default 30)
  --inputs-only  only the several-inputs phase (d); --no-inputs: all but it
  --json         print one JSON object instead of tables`;

interface Node {
  name: string;
  room: string;
  dataDir: string;
  port: number;
  daemon: ServiceDaemon;
}

interface View {
  id: string;
  name: string;
  samples: number;
}

async function speakers(node: Node): Promise<View[]> {
  const res = await fetch(`${node.daemon.api}/api/speakers`);
  const body = (await res.json()) as { speakers: Array<{ id: string; name: string; samples: unknown[] }> };
  return body.speakers
    .map((s) => ({ id: s.id, name: s.name, samples: s.samples.length }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

/**
 * One person as a node shows them (null: not there): cheaper than the whole list, so polling it often
 * does not slow the daemons down.
 */
async function person(node: Node, id: string): Promise<View | null> {
  const res = await fetch(`${node.daemon.api}/api/speakers/${encodeURIComponent(id)}`);
  if (res.status === 404) return null;
  const { speaker } = (await res.json()) as { speaker: { id: string; name: string; samples: unknown[] } };
  return { id: speaker.id, name: speaker.name, samples: speaker.samples.length };
}

/** Milliseconds from now until every node shows person `id` as `accept` wants. */
async function untilEveryNode(
  nodes: Node[],
  id: string,
  accept: (p: View | null) => boolean,
  what: string,
): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const seen = await Promise.all(nodes.map((n) => person(n, id)));
    if (seen.every(accept)) return performance.now() - t0;
    if (performance.now() - t0 > 30_000)
      throw new Error(`no agreement on ${what} after 30 s: ${JSON.stringify(seen)}`);
    await sleep(10);
  }
}

/** Milliseconds from now until every node's list is the same and passes `accept`. */
async function untilAgreed(nodes: Node[], accept: (list: View[]) => boolean, what: string): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const lists = await Promise.all(nodes.map(speakers));
    const first = JSON.stringify(lists[0]);
    if (lists.every((l) => JSON.stringify(l) === first) && accept(lists[0])) return performance.now() - t0;
    if (performance.now() - t0 > 30_000)
      throw new Error(`no agreement on ${what} after 30 s: ${JSON.stringify(lists)}`);
    await sleep(50);
  }
}

async function api(node: Node, method: string, url: string, body?: unknown, type = "application/json") {
  const res = await fetch(`${node.daemon.api}${url}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": type },
    body: body === undefined ? undefined : body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${url} on ${node.name}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : ((await res.json()) as { speaker: { id: string } });
}

/** `count` clips of 3 s spread over the utterance (they overlap in short ones). */
function clipsOf(file: string, count: number): Uint8Array[] {
  const audio = readWavAs16kMono(readFileSync(file));
  const length = 3 * SAMPLE_RATE;
  const hop = Math.max(0, Math.floor((audio.length - length) / Math.max(1, count - 1)));
  return Array.from({ length: count }, (_, i) =>
    encodePcm16Wav(audio.subarray(i * hop, Math.min(audio.length, i * hop + length)), SAMPLE_RATE),
  );
}

async function retainedBytes(url: string): Promise<Map<string, number>> {
  const client = await connectAsync(url);
  const sizes = new Map<string, number>();
  client.on("message", (topic, payload) => {
    if (payload.length > 0) sizes.set(topic, payload.length);
  });
  await client.subscribeAsync("voiceid/_household/#");
  await sleep(1000);
  await client.endAsync();
  return sizes;
}

async function main(): Promise<number> {
  const v = parseBenchArgs(
    {
      people: { type: "string" },
      samples: { type: "string" },
      edits: { type: "string" },
      "inputs-only": { type: "boolean" },
      "no-inputs": { type: "boolean" },
      "input-seconds": { type: "string" },
    },
    USAGE,
  );
  if (!v) return 0;
  const whole = (max: number) => (n: number) => Number.isInteger(n) && n >= 1 && n <= max;
  const people = numberOption("people", v.people, 20, whole(100), "1-100");
  const samples = numberOption("samples", v.samples, 5, whole(50), "1-50");
  const edits = numberOption("edits", v.edits, 50, whole(1000), "1-1000");
  const inputSeconds = numberOption("input-seconds", v["input-seconds"], 30, whole(600), "1-600");
  const { modelsDir } = requireModels();
  const broker = await startMosquitto();
  const dir = mkdtempSync(path.join(os.tmpdir(), "voiceid-bench-household-"));
  try {
    const sync = v["inputs-only"]
      ? null
      : await syncPhase({ mqttUrl: broker.url, dir, modelsDir, people, samples, edits });
    const inputs = v["no-inputs"]
      ? null
      : await measureSeveralInputs({
          dir,
          modelsDir,
          mqttUrl: broker.url,
          files: librispeechFiles(8),
          seconds: inputSeconds,
        });
    const pass = (sync?.pass ?? true) && (inputs?.pass ?? true);
    if (v.json) {
      process.stdout.write(
        `${JSON.stringify({ machine: machineInfo(), sync: sync?.result, inputs }, null, 2)}\n`,
      );
      return pass ? 0 : 1;
    }
    if (sync) process.stdout.write(sync.report);
    if (inputs) process.stdout.write(severalInputsReport(inputs));
    process.stdout.write(
      `load average during the run: ${os.loadavg()[1].toFixed(1)} (5 min) on ${os.cpus().length} cores\n`,
    );
    return pass ? 0 : 1;
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** (a)-(c): three daemons sharing a household; returns the figures and their report. */
async function syncPhase(o: {
  mqttUrl: string;
  dir: string;
  modelsDir: string;
  people: number;
  samples: number;
  edits: number;
}): Promise<{ result: object; report: string; pass: boolean }> {
  const { mqttUrl, dir, modelsDir, people, samples, edits } = o;
  const files = librispeechFiles(people);
  const env = {
    VOICEID__HOUSEHOLD__SHARE: "true",
    VOICEID_HOUSEHOLD_KEY: newHouseholdKey(),
    VOICEID__ENROLMENT__MIN_SPEECH_SECONDS: "1",
  };
  const nodes: Node[] = [];
  const start = async (name: string, room: string, port?: number): Promise<Node> => {
    const dataDir = path.join(dir, name);
    const p = port ?? (await freePort());
    const daemon = await startServiceDaemon({ dataDir, modelsDir, mqttUrl: mqttUrl, room, env, port: p });
    return { name, room, dataDir, port: p, daemon };
  };
  try {
    progress("starting 3 daemons");
    nodes.push(
      ...(await Promise.all([start("A", "Kitchen"), start("B", "Living Room"), start("C", "Bedroom")])),
    );
    await sleep(1500);

    const times = { enrol: [] as number[], rename: [] as number[], delete: [] as number[] };
    const ids: string[] = [];
    for (const [i, f] of files.entries()) {
      progress(`enrolling ${i + 1}/${files.length}`);
      const node = nodes[i % 3];
      const created = await api(node, "POST", "/api/speakers", { name: `Person ${i + 1}` });
      const id = (created as { speaker: { id: string } }).speaker.id;
      ids.push(id);
      times.enrol.push(await untilEveryNode(nodes, id, (p) => p !== null, "a new person"));
      for (const [j, clip] of clipsOf(f.path, samples).entries()) {
        await api(node, "POST", `/api/speakers/${id}/samples`, clip, "audio/wav");
        times.enrol.push(await untilEveryNode(nodes, id, (p) => p?.samples === j + 1, "a new sample"));
      }
    }
    const sizes = await retainedBytes(mqttUrl);
    const personBytes = [...sizes].filter(([t]) => t.includes("/person/")).map(([, n]) => n);
    const bytesPerPerson = personBytes.reduce((a, b) => a + b, 0) / Math.max(1, personBytes.length);

    for (const [i, id] of ids.entries()) {
      progress(`renaming ${i + 1}/${ids.length}`);
      const name = `Renamed ${i + 1}`;
      await api(nodes[(i + 1) % 3], "PATCH", `/api/speakers/${id}`, { name });
      times.rename.push(await untilEveryNode(nodes, id, (p) => p?.name === name, "a rename"));
    }
    const deleted = new Set<string>();
    for (const [i, id] of ids.slice(0, Math.ceil(ids.length / 2)).entries()) {
      progress(`deleting ${i + 1}`);
      await api(nodes[(i + 2) % 3], "DELETE", `/api/speakers/${id}`);
      deleted.add(id);
      times.delete.push(await untilEveryNode(nodes, id, (p) => p === null, "a delete"));
    }

    // (c) Partition: C away while A and B edit.
    progress(`partition: C stopped, ${edits} edits on A and B`);
    const c = nodes[2];
    c.daemon.child.kill("SIGTERM");
    await c.daemon.exited;
    const random = mulberry32(21);
    let alive = (await speakers(nodes[0])).map((s) => s.id);
    const partitionDeletes = new Set<string>();
    let created = 0;
    for (let e = 0; e < edits; e++) {
      const node = nodes[e % 2];
      const r = random();
      if (r < 0.3 && alive.length > 2) {
        const id = alive[Math.floor(random() * alive.length)];
        await api(node, "DELETE", `/api/speakers/${id}`);
        partitionDeletes.add(id);
      } else if (r < 0.5) {
        await api(node, "POST", "/api/speakers", { name: `Newcomer ${++created}` });
      } else {
        const id = alive[Math.floor(random() * alive.length)];
        await api(node, "PATCH", `/api/speakers/${id}`, { name: `Edit ${e}` });
      }
      // The next edit goes to the other node: let this one arrive there first (as people do, one at a time).
      await untilAgreed(nodes.slice(0, 2), () => true, "A and B");
      alive = (await speakers(node)).map((s) => s.id);
    }
    const t0 = performance.now();
    nodes[2] = await start("C", "Bedroom", c.port);
    await untilAgreed(nodes, () => true, "C after the partition");
    // From the restart (process start, models, broker) until it agrees.
    const catchUpMs = performance.now() - t0;
    await sleep(2000);
    const lists = await Promise.all(nodes.map(speakers));
    const everDeleted = new Set([...deleted, ...partitionDeletes]);
    const resurrected = lists.flatMap((l) => l.filter((s) => everDeleted.has(s.id)).map((s) => s.id));
    const agree = lists.every((l) => JSON.stringify(l) === JSON.stringify(lists[0]));

    const all = [...times.enrol, ...times.rename, ...times.delete];
    const p95 = percentile(all, 0.95) ?? Number.POSITIVE_INFINITY;
    const result = {
      people,
      samples,
      agreementMs: Object.fromEntries(
        Object.entries(times).map(([k, t]) => [
          k,
          { n: t.length, p50: percentile(t, 0.5), p95: percentile(t, 0.95) },
        ]),
      ),
      bytesPerPerson: Math.round(bytesPerPerson),
      partition: {
        edits,
        deletes: partitionDeletes.size,
        catchUpMs: Math.round(catchUpMs),
        agree,
        resurrected,
      },
      goals: { p95Ms: GOAL_P95_MS, pass: p95 <= GOAL_P95_MS && agree && resurrected.length === 0 },
    };
    const report =
      `${heading(`household sync: 3 daemons, ${people} people x ${samples} samples, local mosquitto`)}\n` +
      `${formatTable(
        ["edit", "n", "agreement p50 ms", "p95 ms"],
        Object.entries(times).map(([k, t]) => [
          k,
          t.length,
          fixed(percentile(t, 0.5), 0),
          fixed(percentile(t, 0.95), 0),
        ]),
      )}\n` +
      `\nretained per person (sealed record, ${samples} samples): ${Math.round(bytesPerPerson)} bytes\n` +
      `partition: ${edits} edits (${partitionDeletes.size} deletes) while C was down; C agreed ${Math.round(catchUpMs)} ms after its restart began; agree: ${agree}; deleted people back: ${resurrected.length}\n` +
      `\ngoal agreement p95 <= ${GOAL_P95_MS} ms after any edit: ${fixed(p95, 0)} ms ${verdict(result.goals.pass)}\n`;
    return { result, report, pass: result.goals.pass };
  } finally {
    for (const n of nodes) n.daemon.child.kill("SIGTERM");
    await Promise.all(nodes.map((n) => n.daemon.exited));
  }
}

runMain(main);
