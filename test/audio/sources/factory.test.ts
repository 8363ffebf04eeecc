import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createAudioSource } from "../../../src/audio/sources/factory.js";
import { FileSource } from "../../../src/audio/sources/file.js";
import { MicrophoneSource } from "../../../src/audio/sources/microphone.js";
import { StdinSource } from "../../../src/audio/sources/stdin.js";
import { loadConfig } from "../../../src/config/load.js";
import { silentLogger } from "../../../src/util/log.js";
import { concat, correlation, s16ToFloat, sineS16 } from "./helpers.js";

const configWith = async (env: NodeJS.ProcessEnv) => (await loadConfig({ env, searchPaths: [] })).config;

describe("createAudioSource", () => {
  it("builds the source the configuration names", async () => {
    const deps = { logger: silentLogger };
    expect(createAudioSource((await configWith({})).audio, deps)).toBeInstanceOf(MicrophoneSource);
    const file = await configWith({ VOICEID_AUDIO_SOURCE: "file", VOICEID_AUDIO_FILE: "/x.wav" });
    expect(createAudioSource(file.audio, deps)).toBeInstanceOf(FileSource);
    const stdin = await configWith({ VOICEID_AUDIO_SOURCE: "stdin" });
    expect(createAudioSource(stdin.audio, deps)).toBeInstanceOf(StdinSource);
  });

  it("reads raw stdin input in the configured capture layout (8 kHz stereo here)", async () => {
    const config = await configWith({
      VOICEID_AUDIO_SOURCE: "stdin",
      VOICEID__AUDIO__SAMPLE_RATE: "8000",
      VOICEID__AUDIO__CHANNELS: "2",
      VOICEID__AUDIO__FORMAT: "raw",
    });
    const input = new PassThrough();
    const source = createAudioSource(config.audio, { logger: silentLogger, stdin: input });
    const chunks: Float32Array[] = [];
    source.onAudio((c) => {
      chunks.push(c);
    });
    const ended = new Promise((resolve) => source.onEnd(resolve));
    await source.start();
    input.end(sineS16(200, 8000, 0.5, 2));
    await ended;
    const out = concat(chunks);
    expect(out.length).toBe(8000);
    // Downmixed and upsampled: the same 200 Hz tone at 16 kHz (edges skipped: filter warm-up).
    const reference = s16ToFloat(sineS16(200, 16000, 0.5));
    expect(correlation(out.subarray(500, 7500), reference.subarray(500, 7500))).toBeGreaterThan(0.999);
  });
});
