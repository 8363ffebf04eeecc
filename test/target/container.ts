import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../helpers/paths.js";

const run = promisify(execFile);

/** Where the booted container sees this checkout (read-only), as a user's clone. */
export const checkoutInside = "/srv/voiceid";
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

/** The cached trixie root filesystem (scripts/target/systemd-rootfs.sh builds it the first time). */
export function cachedRootfs(): string {
  return execFileSync(path.join(repoRoot, "scripts/target/systemd-rootfs.sh"), { encoding: "utf8" }).trim();
}

/** PID (on the host) of a process whose PID in its own namespace is 1, under `ancestor`. */
function containerInit(ancestor: number): number | null {
  const parents = new Map<number, number>();
  const inits: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      parents.set(Number(entry), Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]));
      const nspid = /^NSpid:\s+(.+)$/m.exec(status)?.[1].trim().split(/\s+/);
      if (nspid && nspid.length > 1 && nspid[nspid.length - 1] === "1") inits.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  for (const pid of inits) {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p))
      if (p === ancestor) return pid;
  }
  return null;
}

/**
 * A Debian trixie machine booted with systemd-nspawn from a scratch copy of the cached root filesystem:
 * systemd 257 as PID 1, a network namespace of its own (its broker and the service's port are its own),
 * this checkout bound read-only at /srv/voiceid. Commands run inside with nsenter.
 */
export class Container {
  private nspawn: ChildProcess | null = null;
  private init = 0;
  private console = "";

  constructor(readonly root: string) {}

  /** A scratch copy of `rootfs` beside it, so every run starts from the same machine. */
  static async fromCache(rootfs: string): Promise<Container> {
    const root = await mkdtemp(path.join(path.dirname(rootfs), "run-"));
    // cp -a: device nodes, owners and hard links as they are.
    await run("cp", ["-a", "--reflink=auto", `${rootfs}/.`, root]);
    return new Container(root);
  }

  /** Boots, and waits until systemd has started everything (system state running or degraded). */
  async boot(): Promise<void> {
    const args = [
      "--register=no",
      "--keep-unit",
      "--private-network",
      "-b",
      "-D",
      this.root,
      "--console=read-only",
      // DevicePolicy= and IPAddressDeny= load BPF programs.
      "--system-call-filter=bpf",
      `--bind-ro=${repoRoot}:${checkoutInside}`,
      // The shared speech, for the service's "microphone".
      `--bind-ro=${path.resolve(repoRoot, "../shared")}:/srv/shared`,
    ];
    const nspawn = spawn("systemd-nspawn", args, {
      env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.nspawn = nspawn;
    this.console = "";
    nspawn.stdout?.on("data", (d: Buffer) => {
      this.console += d.toString();
    });
    nspawn.stderr?.on("data", (d: Buffer) => {
      this.console += d.toString();
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (nspawn.exitCode !== null)
        throw new Error(`systemd-nspawn exited ${nspawn.exitCode}:\n${this.console}`);
      const init = nspawn.pid ? containerInit(nspawn.pid) : null;
      if (init) {
        this.init = init;
        const state = await this.exec(["systemctl", "is-system-running", "--wait"]).catch(() => null);
        if (state && /^(running|degraded)/.test(state.stdout)) return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the container did not boot in 60 s:\n${this.console}`);
  }

  /** Runs `argv` inside (all of its namespaces, a clean environment); never throws on an exit code. */
  async exec(
    argv: string[],
    options: { timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<Exec> {
    const env = Object.entries({ PATH, LANG: "C.UTF-8", ...options.env }).map(([k, v]) => `${k}=${v}`);
    try {
      const { stdout, stderr } = await run(
        "nsenter",
        ["-t", String(this.init), "-a", "-r", "-w", "env", "-i", ...env, ...argv],
        { timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      );
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
      if (typeof e.code !== "number") throw err;
      return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  /** Like exec, but a non-zero exit is an error naming the command and what it printed. */
  async sh(script: string, timeoutMs?: number): Promise<string> {
    const result = await this.exec(["bash", "-c", script], { timeoutMs });
    if (result.code !== 0)
      throw new Error(`\`${script}\` exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  }

  /** A long-running command inside (e.g. a subscriber); kill it when done. */
  spawn(argv: string[]): ChildProcess {
    return spawn(
      "nsenter",
      ["-t", String(this.init), "-a", "-r", "-w", "env", "-i", `PATH=${PATH}`, ...argv],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
  }

  /** `systemctl reboot` inside; systemd-nspawn ends with 133 for a reboot, and boots the machine again. */
  async reboot(): Promise<void> {
    const ended = this.ended();
    await this.exec(["systemctl", "reboot"]);
    const code = await ended;
    if (code !== 133)
      throw new Error(`systemd-nspawn ended with ${code} on reboot, not 133:\n${this.console}`);
    await this.boot();
  }

  /** Powers the machine off and removes the scratch copy. */
  async dispose(): Promise<void> {
    const nspawn = this.nspawn;
    if (nspawn && nspawn.exitCode === null && nspawn.signalCode === null) {
      const ended = this.ended();
      await this.exec(["systemctl", "poweroff"]).catch(() => undefined);
      const timer = setTimeout(() => nspawn.kill("SIGKILL"), 20_000);
      await ended;
      clearTimeout(timer);
    }
    if (existsSync(this.root)) await rm(this.root, { recursive: true, force: true });
  }

  private ended(): Promise<number | null> {
    const nspawn = this.nspawn;
    if (!nspawn || nspawn.exitCode !== null) return Promise.resolve(nspawn?.exitCode ?? null);
    return new Promise((resolve) => nspawn.once("exit", (code) => resolve(code)));
  }
}
