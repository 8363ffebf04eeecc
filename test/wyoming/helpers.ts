import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "../helpers/mosquitto.js";
import { repoRoot } from "../helpers/paths.js";

const execFileAsync = promisify(execFile);
const referenceDir = path.join(repoRoot, "test/wyoming/reference");

/** float32 [-1, 1] -> interleaved s16le bytes, every channel the same. */
export function pcm16(samples: Float32Array, channels = 1): Buffer {
  const out = Buffer.alloc(samples.length * 2 * channels);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767)));
    for (let c = 0; c < channels; c++) out.writeInt16LE(v, (i * channels + c) * 2);
  }
  return out;
}

export interface ReceivedEvent {
  type: string;
  at: number;
  rate?: number;
  width?: number;
  channels?: number;
  timestamp?: number | null;
  bytes?: number;
  language?: string | null;
}

export interface ReferenceUpstream {
  uri: string;
  /** Commands received so far. */
  count(): number;
  /** The n-th command (1-based): its events and its audio as received. */
  received(n: number): { events: ReceivedEvent[]; audio: Buffer };
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** The tests need the reference implementation: say how to get it, in one line. */
export async function requireReferenceWyoming(): Promise<void> {
  try {
    await execFileAsync("python3", ["-c", "import wyoming"]);
  } catch {
    throw new Error(
      "the Wyoming tests need the reference implementation: python3 -m pip install wyoming==1.10.2 (.ci/run does)",
    );
  }
}

/** The reference speech-to-text server (test/wyoming/reference/upstream.py) on a free port. */
export async function startReferenceUpstream(recordDir: string): Promise<ReferenceUpstream> {
  await requireReferenceWyoming();
  const port = await freePort();
  const uri = `tcp://127.0.0.1:${port}`;
  const child = spawn("python3", [path.join(referenceDir, "upstream.py"), uri, recordDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (b: Buffer) => {
      output += b.toString();
      if (output.includes("ready")) resolve();
    });
    child.stderr?.on("data", (b: Buffer) => {
      output += b.toString();
    });
    child.once("exit", (code) => reject(new Error(`upstream.py exited (${code}): ${output}`)));
  });
  // "ready" is printed just before the server binds: wait until it accepts.
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      import("node:net").then(({ connect }) => {
        const s = connect(port, "127.0.0.1");
        s.once("connect", () => {
          s.destroy();
          resolve(true);
        });
        s.once("error", () => resolve(false));
      });
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  let n = 0;
  return {
    uri,
    count: () => {
      while (existsSync(path.join(recordDir, `${n + 1}.json`))) n++;
      return n;
    },
    received: (k) => ({
      events: JSON.parse(readFileSync(path.join(recordDir, `${k}.json`), "utf8")) as ReceivedEvent[],
      audio: readFileSync(path.join(recordDir, `${k}.raw`)),
    }),
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      children.delete(child);
    },
  };
}

export interface ClientResult {
  text?: string;
  error?: string;
  closed?: boolean;
  dropped?: number;
  info?: {
    asr: Array<{ name: string; description: string; models: Array<{ name: string; languages: string[] }> }>;
  };
}

/** The reference client (test/wyoming/reference/client.py), as Home Assistant's speech-to-text entity talks. */
export async function referenceClient(args: string[]): Promise<ClientResult> {
  const { stdout } = await execFileAsync("python3", [path.join(referenceDir, "client.py"), ...args], {
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as ClientResult;
}

/** Sends one command (raw s16le in a temp file) with the reference client. */
export async function sendCommand(
  uri: string,
  audio: Buffer,
  dir: string,
  options: { rate?: number; channels?: number; chunkBytes?: number; dropAfter?: number } = {},
): Promise<ClientResult> {
  const file = path.join(dir, `command-${Math.random().toString(36).slice(2)}.raw`);
  writeFileSync(file, audio);
  const args = ["transcribe", uri, file, String(options.rate ?? 16_000), String(options.channels ?? 1)];
  args.push(String(options.chunkBytes ?? 2048));
  if (options.dropAfter !== undefined) args.push("--drop-after", String(options.dropAfter));
  return referenceClient(args);
}
