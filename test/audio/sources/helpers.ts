import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

export const SHARED_AUDIO = fileURLToPath(new URL("../../../../shared/audio/", import.meta.url));
export const UTTERANCE = `${SHARED_AUDIO}librispeech-train-clean-100/103-1240-0000.wav`;

/** The s16le sample bytes of a canonical 44-byte-header PCM WAV (checked, not assumed). */
export async function wavPayload(path: string): Promise<Buffer> {
  const wav = await readFile(path);
  if (wav.toString("latin1", 0, 4) !== "RIFF" || wav.toString("latin1", 36, 40) !== "data") {
    throw new Error(`${path} is not a canonical 44-byte-header WAV`);
  }
  return wav.subarray(44, 44 + wav.readUInt32LE(40));
}

/** s16le bytes -> float32 the way every source scales them (x / 32768). */
export function s16ToFloat(bytes: Buffer): Float32Array {
  const out = new Float32Array(bytes.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2) / 32768;
  return out;
}

export function concat(chunks: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Pearson correlation of two equally long signals. */
export function correlation(a: Float32Array, b: Float32Array): number {
  const n = Math.min(a.length, b.length);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] - ma;
    const y = b[i] - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Polls `check` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface SynthWavOptions {
  sampleRate: number;
  channels: number;
  /** 1 = PCM integer, 3 = IEEE float; anything else for malformed-input tests. */
  formatTag?: number;
  bitsPerSample?: number;
  /** Extra chunks before "data", e.g. LIST metadata. */
  extraChunks?: Array<{ id: string; body: Buffer }>;
  /** Write 0xFFFFFFFF sizes, as streaming writers (arecord to a pipe, ffmpeg) do. */
  unknownSizes?: boolean;
}

/** A WAV file (header + given sample bytes) built by hand, independent of the code under test. */
export function synthWav(samples: Buffer, o: SynthWavOptions): Buffer {
  const bits = o.bitsPerSample ?? 16;
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(o.formatTag ?? 1, 0);
  fmt.writeUInt16LE(o.channels, 2);
  fmt.writeUInt32LE(o.sampleRate, 4);
  fmt.writeUInt32LE((o.sampleRate * o.channels * bits) / 8, 8);
  fmt.writeUInt16LE((o.channels * bits) / 8, 12);
  fmt.writeUInt16LE(bits, 14);
  const chunk = (id: string, body: Buffer, size = body.length) => {
    const head = Buffer.alloc(8);
    head.write(id, 0, "latin1");
    head.writeUInt32LE(size, 4);
    return Buffer.concat([head, body, body.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
  };
  const extra = (o.extraChunks ?? []).map((c) => chunk(c.id, c.body));
  const data = o.unknownSizes ? chunk("data", samples, 0xffffffff) : chunk("data", samples);
  const body = Buffer.concat([Buffer.from("WAVE", "latin1"), chunk("fmt ", fmt), ...extra, data]);
  const riff = Buffer.alloc(8);
  riff.write("RIFF", 0, "latin1");
  riff.writeUInt32LE(o.unknownSizes ? 0xffffffff : body.length, 4);
  return Buffer.concat([riff, body]);
}

/** A sine as interleaved s16le, the same value in every channel. */
export function sineS16(freq: number, sampleRate: number, seconds: number, channels = 1, amp = 0.5): Buffer {
  const n = Math.round(sampleRate * seconds);
  const out = Buffer.alloc(n * channels * 2);
  for (let i = 0; i < n; i++) {
    const v = Math.round(amp * 32767 * Math.sin((2 * Math.PI * freq * i) / sampleRate));
    for (let c = 0; c < channels; c++) out.writeInt16LE(v, (i * channels + c) * 2);
  }
  return out;
}

/** Number of positions where two signals differ (plus any length difference); fast for long arrays. */
export function mismatches(a: Float32Array, b: Float32Array): number {
  let n = Math.abs(a.length - b.length);
  const len = Math.min(a.length, b.length);
  for (let i = 0; i < len; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** Children of `parent` (default: this process) running `name`, from /proc (what `pgrep -P PID name` does). */
export async function childPids(name: string, parent = process.pid): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      if (comm === name && ppid === parent) pids.push(Number(entry));
    } catch {
      // The process went away while we looked.
    }
  }
  return pids;
}
