import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/**
 * A real mosquitto broker for tests, bound to 127.0.0.1 on a free port. Each test file starts its own,
 * so files can run in parallel. Brokers are killed on stop() and, as a safety net, when the process exits.
 */
export interface MosquittoBroker {
  /** e.g. "mqtt://127.0.0.1:41234" */
  readonly url: string;
  readonly port: number;
  /** Kills the broker (SIGTERM, then SIGKILL). Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts again on the SAME port, with the same users; retained messages are lost (no persistence). */
  restart(): Promise<void>;
  /** Tail of the broker's log output, for assertion messages. */
  log(): string;
}

export interface MosquittoOptions {
  /** Fixed port; default: a free one picked by the OS. */
  port?: number;
  /** username -> password. When given, anonymous access is disabled and a password file is used. */
  users?: Record<string, string>;
  /** Path or name of the broker binary (default "mosquitto"). */
  binary?: string;
  /** How long to wait for the broker to accept connections (default 5000 ms). */
  startTimeoutMs?: number;
}

export class MosquittoNotInstalledError extends Error {
  constructor(binary: string) {
    super(`mosquitto broker not found ("${binary}"): the MQTT tests need it, run: apt-get install mosquitto`);
    this.name = "MosquittoNotInstalledError";
  }
}

const execFileAsync = promisify(execFile);
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort against leaked brokers when a test run dies without calling stop().
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoBroker> {
  const binary = options.binary ?? "mosquitto";
  const startTimeoutMs = options.startTimeoutMs ?? 5000;
  const dir = mkdtempSync(join(tmpdir(), "voiceid-mosquitto-"));
  const confPath = join(dir, "mosquitto.conf");

  try {
    const lines: string[] = [];
    if (options.users && Object.keys(options.users).length > 0) {
      const passwordFile = join(dir, "passwords");
      let first = true;
      for (const [user, password] of Object.entries(options.users)) {
        // -c creates the file on the first user; -b takes the password from argv.
        const args = first
          ? ["-b", "-c", passwordFile, user, password]
          : ["-b", passwordFile, user, password];
        try {
          await execFileAsync("mosquitto_passwd", args);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT")
            throw new MosquittoNotInstalledError("mosquitto_passwd");
          throw err;
        }
        first = false;
      }
      lines.push("allow_anonymous false", `password_file ${passwordFile}`);
    } else {
      lines.push("allow_anonymous true");
    }
    lines.push(
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "log_type notice",
    );
    // As root, mosquitto drops to the "mosquitto" user and could not read our 0700 temp dir.
    if (process.getuid?.() === 0) lines.push("user root");
    const baseConf = lines;

    installExitHook();
    let port = options.port ?? 0;
    let child: ChildProcess | null = null;
    let output = "";

    const launch = async (): Promise<void> => {
      writeFileSync(confPath, [`listener ${port} 127.0.0.1`, ...baseConf, ""].join("\n"));
      const proc = spawn(binary, ["-c", confPath], { stdio: ["ignore", "pipe", "pipe"] });
      const append = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-8000);
      };
      proc.stdout?.on("data", append);
      proc.stderr?.on("data", append);
      let exited = false;
      let spawnError: NodeJS.ErrnoException | null = null;
      proc.once("error", (err: NodeJS.ErrnoException) => {
        spawnError = err;
      });
      proc.once("exit", () => {
        exited = true;
        live.delete(proc);
      });
      live.add(proc);
      child = proc;

      const deadline = Date.now() + startTimeoutMs;
      while (Date.now() < deadline) {
        const failure = spawnError as NodeJS.ErrnoException | null;
        if (failure) {
          live.delete(proc);
          if (failure.code === "ENOENT") throw new MosquittoNotInstalledError(binary);
          throw failure;
        }
        if (exited) throw new Error(`mosquitto exited during startup on port ${port}:\n${output}`);
        if (await canConnect(port)) return;
        await sleep(25);
      }
      await kill(proc);
      throw new Error(
        `mosquitto did not accept connections on port ${port} within ${startTimeoutMs} ms:\n${output}`,
      );
    };

    const kill = async (proc: ChildProcess): Promise<void> => {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        live.delete(proc);
        return;
      }
      const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(timer);
      live.delete(proc);
    };

    if (options.port !== undefined) {
      await launch();
    } else {
      // A free port can be taken between probing and binding; try a few.
      for (let attempt = 0; ; attempt++) {
        port = await freePort();
        try {
          await launch();
          break;
        } catch (err) {
          if (err instanceof MosquittoNotInstalledError || attempt >= 2) throw err;
        }
      }
    }

    let stopped = false;
    return {
      url: `mqtt://127.0.0.1:${port}`,
      port,
      log: () => output,
      async stop() {
        if (stopped) return;
        stopped = true;
        if (child) await kill(child);
        child = null;
        rmSync(dir, { recursive: true, force: true });
      },
      async restart() {
        if (stopped) throw new Error("mosquitto broker was stopped; start a new one instead of restart()");
        if (child) await kill(child);
        child = null;
        await launch();
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
