import type { Readable } from "node:stream";
import type { AudioConfig } from "../../config/schema.js";
import type { Logger } from "../../util/log.js";
import { FileSource } from "./file.js";
import { CommandSource, MicrophoneSource } from "./microphone.js";
import { AudioInputError, type AudioSource } from "./source.js";
import { StdinSource } from "./stdin.js";

export interface AudioSourceDeps {
  logger: Logger;
  /** Recorder environment (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Input for source "stdin" (default process.stdin). */
  stdin?: Readable;
}

/** The source `audio.source` asks for. audio.sampleRate/channels describe raw file/stdin input too. */
export function createAudioSource(audio: AudioConfig, deps: AudioSourceDeps): AudioSource {
  const logger = deps.logger.child(`audio:${audio.source}`);
  const raw = { sampleRate: audio.sampleRate, channels: audio.channels };
  switch (audio.source) {
    case "microphone":
      return new MicrophoneSource({
        device: audio.device,
        recorder: audio.recorder,
        sampleRate: audio.sampleRate,
        channels: audio.channels,
        restartBackoffMs: audio.restartBackoffMs,
        env: deps.env,
        logger,
      });
    case "command":
      if (!audio.command) throw new AudioInputError("audio.command is required when audio.source is command");
      return new CommandSource({
        command: audio.command,
        sampleRate: audio.sampleRate,
        channels: audio.channels,
        restartBackoffMs: audio.restartBackoffMs,
        env: deps.env,
        logger,
      });
    case "file":
      if (!audio.file) throw new AudioInputError("audio.file is required when audio.source is file");
      return new FileSource({
        path: audio.file,
        format: audio.format,
        raw,
        realtime: audio.realtime,
        logger,
      });
    case "stdin":
      return new StdinSource({
        input: deps.stdin,
        format: audio.format,
        raw,
        realtime: audio.realtime,
        logger,
      });
  }
}
