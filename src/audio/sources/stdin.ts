import type { Readable } from "node:stream";
import type { Logger } from "../../util/log.js";
import type { RawFormat } from "./pcm.js";
import { type InputFormat, StreamAudioSource } from "./stream.js";

export interface StdinSourceOptions {
  /** Default process.stdin; tests inject a PassThrough. */
  input?: Readable;
  format?: InputFormat;
  /** Layout of raw s16le input. Default 16 kHz mono. */
  raw?: Partial<RawFormat>;
  realtime?: boolean;
  chunkSamples?: number;
  logger: Logger;
}

/**
 * Audio piped in (`arecord ... | voiceid run --input -`): raw s16le, or WAV when it starts with RIFF
 * (a streamed header whose sizes are 0 or 0xFFFFFFFF means "until EOF").
 */
export class StdinSource extends StreamAudioSource {
  constructor(options: StdinSourceOptions) {
    super("stdin", async () => options.input ?? process.stdin, options);
  }
}
