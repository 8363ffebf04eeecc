import { spawn } from "node:child_process";
import path from "node:path";
import { serviceEnvironment, serviceNodeFlags, shippedEntry } from "../../scripts/shipped.js";
import { repoRoot } from "./paths.js";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The example configuration file, as the installer copies it to /etc/voiceid/voiceid.yaml. */
export const exampleConfig = path.join(repoRoot, "config/voiceid.example.yaml");

// Read once: every spawned command and daemon uses them.
const unitNodeFlags = serviceNodeFlags(repoRoot);
const unitEnvironment = serviceEnvironment(repoRoot);

/**
 * node's arguments for `voiceid <args>` as shipped: the bundle in dist/ (rebuilt before the tests by
 * test/helpers/global-setup.ts) with the systemd unit's node options.
 */
export function shippedArgs(...args: string[]): string[] {
  return [...unitNodeFlags, shippedEntry(repoRoot), ...args];
}

/** The environment of a shipped process: ours, the unit's malloc settings, then `env`. */
export function shippedEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...unitEnvironment, ...env };
}

export interface ShippedRunOptions {
  /** Working directory (the default config path ./config/voiceid.yaml is relative to it). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs `voiceid <args>` from the shipped bundle in a child process and collects what it prints. */
export function runShipped(args: readonly string[], options: ShippedRunOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, shippedArgs(...args), {
      cwd: options.cwd ?? repoRoot,
      env: shippedEnv(options.env),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** `voiceid <args>` as a user runs it, on `dataDir`, with no configuration file. */
export function runVoiceid(dataDir: string, ...args: string[]): Promise<CliRun> {
  return runShipped(args, { env: { VOICEID_DATA_DIR: dataDir, VOICEID_CONFIG: "" } });
}
