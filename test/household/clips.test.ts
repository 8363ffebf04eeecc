import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newHouseholdKey } from "../../src/household/crypto.js";
import {
  type DaemonProcess,
  enrolmentClips,
  enrolOverHttp,
  spawnDaemon,
  waitForHealth,
} from "../daemon/helpers.js";
import { modelsDirWithEcapaFixture } from "../helpers/ecapa.js";
import { type MosquittoBroker, startMosquitto } from "../helpers/mosquitto.js";

/**
 * household.shareClips: a node on another encoder (the random-weight ECAPA-TDNN fixture) gets the clips
 * enrolled on a Resemblyzer node, makes its own voiceprints from them, and shares those back.
 */

const KEY = newHouseholdKey();
let broker: MosquittoBroker;
let ecapaModels: string;
const dir = mkdtempSync(path.join(tmpdir(), "voiceid-household-clips-"));
const daemons: DaemonProcess[] = [];

interface StoredSample {
  id: string;
  clip?: string;
  voiceprints: Record<string, number[]>;
}

const samplesOf = (dataDir: string, id: string): StoredSample[] => {
  const file = path.join(dataDir, "registry.json");
  if (!existsSync(file)) return [];
  const data = JSON.parse(readFileSync(file, "utf8")) as {
    speakers: { id: string; samples: StoredSample[] }[];
  };
  return data.speakers.find((s) => s.id === id)?.samples ?? [];
};

async function until(
  probe: () => boolean,
  what: string,
  daemon: DaemonProcess,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${daemon.log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * After a long wait the pooled keep-alive socket may be closed by the server just as it is reused
 * ("other side closed"): one retry on a fresh socket.
 */
async function getJson(url: string): Promise<unknown> {
  try {
    return await (await fetch(url)).json();
  } catch {
    return await (await fetch(url)).json();
  }
}

beforeAll(async () => {
  broker = await startMosquitto();
  ({ modelsDir: ecapaModels } = await modelsDirWithEcapaFixture());
}, 120_000);

afterAll(async () => {
  for (const d of daemons) await d.dispose();
  await broker?.stop();
  rmSync(ecapaModels, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

describe("household.shareClips", () => {
  it("lets a node on another encoder re-embed the people enrolled elsewhere", async () => {
    const env = {
      VOICEID__HOUSEHOLD__SHARE: "true",
      VOICEID__HOUSEHOLD__SHARE_CLIPS: "true",
      VOICEID_HOUSEHOLD_KEY: KEY,
    };
    const [pi, server] = await Promise.all([
      // A Pi on Resemblyzer beside a server on ECAPA-TDNN.
      spawnDaemon({
        mqttUrl: broker.url,
        room: "Kitchen",
        env: { ...env, VOICEID__IDENTIFICATION__ENCODER: "resemblyzer-0.1.4" },
        dataDir: path.join(dir, "pi"),
      }),
      spawnDaemon({
        mqttUrl: broker.url,
        room: "Office",
        dataDir: path.join(dir, "server"),
        env: { ...env, VOICEID_MODELS_DIR: ecapaModels, VOICEID__IDENTIFICATION__ENCODER: "ecapa-voxceleb" },
      }),
    ]);
    daemons.push(pi, server);
    for (const d of daemons) await waitForHealth(d, (h) => h.httpStatus === 200, "a healthy daemon", 60_000);

    const alice = await enrolOverHttp(pi, "Alice", enrolmentClips().A);
    const [sample] = samplesOf(pi.dataDir, alice);
    expect(Object.keys(sample.voiceprints)).toEqual(["resemblyzer-0.1.4"]);

    // The server keeps the clip and makes its own voiceprint from it ...
    await until(
      () => samplesOf(server.dataDir, alice)[0]?.voiceprints["ecapa-voxceleb"] !== undefined,
      "the ECAPA voiceprint",
      server,
    );
    const onServer = samplesOf(server.dataDir, alice)[0];
    expect(onServer.id).toBe(sample.id);
    expect(readFileSync(path.join(server.dataDir, onServer.clip as string))).toEqual(
      readFileSync(path.join(pi.dataDir, sample.clip as string)),
    );
    expect(onServer.voiceprints["ecapa-voxceleb"].length).toBe(24);
    // ... and shares it: the Pi could switch to ECAPA-TDNN without re-embedding.
    await until(
      () => samplesOf(pi.dataDir, alice)[0]?.voiceprints["ecapa-voxceleb"] !== undefined,
      "the voiceprint shared back",
      pi,
    );
    expect(samplesOf(pi.dataDir, alice)[0].voiceprints["ecapa-voxceleb"]).toEqual(
      onServer.voiceprints["ecapa-voxceleb"],
    );
    expect(server.child.exitCode).toBeNull();
    const listed = (await getJson(`${server.httpUrl}/api/speakers`)) as {
      speakers: { id: string; enrolled: boolean }[];
    };
    expect(listed.speakers).toMatchObject([{ id: alice, enrolled: true }]);
  });
});
