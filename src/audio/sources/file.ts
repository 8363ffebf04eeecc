import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { Logger } from "../../util/log.js";
import type { RawFormat } from "./pcm.js";
import { AudioInputError } from "./source.js";
import { type InputFormat, StreamAudioSource } from "./stream.js";

export interface FileSourceOptions {
  path: string;
  format?: InputFormat;
  /** Layout of a raw s16le file. Default 16 kHz mono. */
  raw?: Partial<RawFormat>;
  realtime?: boolean;
  chunkSamples?: number;
  logger: Logger;
}

/** A WAV or raw s16le file, delivered as fast as the pipeline takes it or paced like a microphone. */
export class FileSource extends StreamAudioSource {
  constructor(options: FileSourceOptions) {
    super("file", () => openFile(options.path), options);
  }

  /** Resolves once the header has been read, so a missing or malformed file rejects here. */
  override async start(): Promise<void> {
    await super.start();
    await this.formatKnown;
  }
}

async function openFile(path: string): Promise<Readable> {
  // Open first so a missing or unreadable file is an error of start(), not of the stream later.
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw new AudioInputError(`audio input ${path} is not a regular file`);
    }
  } catch (err) {
    if (err instanceof AudioInputError) throw err;
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new AudioInputError(`cannot open audio file ${path}: ${reason}`, { cause: err });
  }
  return handle.createReadStream({ highWaterMark: 64 * 1024 });
}
