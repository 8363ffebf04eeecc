import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWavAs16kMono } from "../../src/audio/wav.js";
import { configSchema } from "../../src/config/schema.js";
import { commandIdentifierOptions, segmenterOptions } from "../../src/identify/options.js";
import type { MatchCandidate } from "../../src/registry/matcher.js";
import { silentLogger } from "../../src/util/log.js";
import type { VoiceCommand } from "../../src/wyoming/command.js";
import { WyomingProxy } from "../../src/wyoming/proxy.js";
import { PUBLISH_WAIT_MS } from "../../src/wyoming/session.js";
import { enrolmentClips, freePort, SAMPLE_RATE, streamedPieces } from "../daemon/helpers.js";
import { enrol, loadModels, type Models } from "../identify/helpers.js";
import { pcm16, type ReferenceUpstream, sendCommand, startReferenceUpstream } from "./helpers.js";

/**
 * The proxy in-process, between the reference client and the reference upstream (which answers at
 * once, faster than any real speech-to-text): who gave the command is published before the transcript
 * goes back, so Home Assistant has it when it acts on the text. Real models, real speech.
 */

const dir = mkdtempSync(path.join(tmpdir(), "voiceid-wyoming-proxy-"));
const config = configSchema.parse({});
let models: Models;
let upstream: ReferenceUpstream;
let candidates: MatchCandidate[];
const alice = pcm16(streamedPieces().a1.subarray(0.5 * SAMPLE_RATE, 3.5 * SAMPLE_RATE));

/** A proxy whose commands go to `onCommand`; `work` gets its address. */
async function withProxy(
  onCommand: (command: VoiceCommand) => Promise<void>,
  work: (uri: string) => Promise<void>,
): Promise<void> {
  const listen = `tcp://127.0.0.1:${await freePort()}`;
  const { stack } = models;
  const proxy = new WyomingProxy({
    config: configSchema.parse({ wyoming: { enabled: true, listen, upstream: upstream.uri, mode: "gate" } })
      .wyoming,
    createVad: () => stack.streamVad(),
    encoder: stack.encoder,
    candidates: () => candidates,
    segmenter: segmenterOptions(config.vad),
    identification: commandIdentifierOptions(
      config.identification,
      stack.defaultThreshold,
      stack.encoder.modelId,
    ),
    onCommand,
    logger: silentLogger,
  });
  await proxy.start();
  try {
    await work(listen);
  } finally {
    await proxy.stop();
  }
}

beforeAll(async () => {
  upstream = await startReferenceUpstream(mkdtempSync(path.join(dir, "upstream-")));
  models = await loadModels();
  candidates = await enrol(models, { Alice: readWavAs16kMono(enrolmentClips().A) });
});

afterAll(async () => {
  await models?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("WyomingProxy and the publishing of who gave a command", () => {
  it("holds the transcript back until the command is published", async () => {
    let publishedAt = Number.POSITIVE_INFINITY;
    const commands: VoiceCommand[] = [];
    await withProxy(
      (command) => {
        commands.push(command);
        // A broker that takes its time to acknowledge (well within PUBLISH_WAIT_MS).
        return new Promise((resolve) =>
          setTimeout(() => {
            publishedAt = performance.now();
            resolve();
          }, PUBLISH_WAIT_MS / 2),
        );
      },
      async (uri) => {
        const result = await sendCommand(uri, alice, dir);
        const answeredAt = performance.now();
        expect(result.text).toBe(`heard ${alice.length} bytes`);
        expect(commands).toHaveLength(1);
        expect(commands[0]).toMatchObject({ speaker: "Alice", forwarded: true, mode: "gate" });
        // The client had its transcript only after the publish settled.
        expect(answeredAt).toBeGreaterThan(publishedAt);
      },
    );
  });

  it("sends the transcript anyway when the broker never answers, after PUBLISH_WAIT_MS", async () => {
    let commandAt = 0;
    await withProxy(
      () => {
        commandAt = performance.now();
        return new Promise<void>(() => {});
      },
      async (uri) => {
        const result = await sendCommand(uri, alice, dir);
        expect(result.text).toBe(`heard ${alice.length} bytes`);
        expect(commandAt).toBeGreaterThan(0);
        expect(performance.now() - commandAt).toBeGreaterThanOrEqual(PUBLISH_WAIT_MS);
      },
    );
  });
});
