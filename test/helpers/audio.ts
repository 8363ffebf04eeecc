import { readFileSync } from "node:fs";
import { conversationRttm } from "./paths.js";

/** Concatenation of sample arrays. */
export function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface RttmTurn {
  start: number;
  end: number;
  speaker: string;
}

/** Turns of an RTTM file (`SPEAKER <file> 1 <start> <duration> ... <speaker> ...`), in seconds. */
export function readRttm(file = conversationRttm): RttmTurn[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("SPEAKER"))
    .map((line) => {
      const f = line.trim().split(/\s+/);
      const start = Number(f[3]);
      return { start, end: start + Number(f[4]), speaker: f[7] };
    });
}
