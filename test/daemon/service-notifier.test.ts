import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ServiceNotifier } from "../../src/daemon/service-notifier.js";
import { recordingLogger } from "../helpers/logger.js";

/**
 * The messages the daemon sends systemd, as systemd's socket receives them: a datagram socket at
 * $NOTIFY_SOCKET (Python's, since Node has none), read the way systemd reads it, including the
 * barrier systemd-notify waits on (its file descriptor closed once read). What systemd does with them
 * is `npm run test:systemd`'s business.
 */
const RECEIVER = `
import array, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    data, ancdata, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                socket.close(fd)
    for line in data.decode().split("\\n"):
        if line and line != "BARRIER=1":
            print("%.3f %s" % (time.monotonic(), line), flush=True)
`;

let dir: string;
let receiver: ChildProcess;
let heard: Array<{ at: number; message: string }> = [];
const socketPath = () => path.join(dir, "notify");

beforeAll(async () => {
  execFileSync("systemd-notify", ["--version"]);
  dir = mkdtempSync(path.join(tmpdir(), "voiceid-notify-"));
  receiver = spawn("python3", ["-c", RECEIVER, socketPath()], { stdio: ["ignore", "pipe", "inherit"] });
  let pending = "";
  await new Promise<void>((resolve) => {
    receiver.stdout?.on("data", (d: Buffer) => {
      // Whole lines only: a chunk may end inside one.
      const lines = (pending + d.toString()).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "listening") resolve();
        else {
          const [at, message] = line.split(" ");
          heard.push({ at: Number(at) * 1000, message });
        }
      }
    });
  });
});

afterEach(() => {
  heard = [];
});

afterAll(() => {
  receiver?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the receiver printed reaches us through a pipe, a moment after systemd-notify returns. */
async function heardSoon(message: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!heard.some((h) => h.message === message)) {
    if (Date.now() > deadline) throw new Error(`never heard ${message}: ${JSON.stringify(heard)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const env = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  NOTIFY_SOCKET: socketPath(),
  ...extra,
});

describe("ServiceNotifier", () => {
  it("says READY=1 on start, pings the watchdog every half period, and STOPPING=1 on stop", async () => {
    const { logger, lines } = recordingLogger();
    const notifier = new ServiceNotifier(logger, env({ WATCHDOG_USEC: "400000" }));
    try {
      await notifier.start();
      await heardSoon("READY=1");
      await new Promise((r) => setTimeout(r, 1100));
    } finally {
      await notifier.stop();
    }
    await heardSoon("STOPPING=1");
    const stoppedAt = heard.length;
    await new Promise((r) => setTimeout(r, 500));
    const messages = heard.map((h) => h.message);
    expect(messages[0]).toBe("READY=1");
    expect(messages[messages.length - 1]).toBe("STOPPING=1");
    const pings = heard.filter((h) => h.message === "WATCHDOG=1");
    // Every 200 ms for 1.1 s: 5 (a whole period apart, 400 ms, would be 2); a busy machine may lose one or two.
    expect(pings.length).toBeGreaterThanOrEqual(3);
    expect(pings.length).toBeLessThanOrEqual(6);
    expect(heard.length).toBe(stoppedAt);
    expect(lines).toEqual([]);
  });

  it("pings no watchdog that is another process's (WATCHDOG_PID), and does nothing outside systemd", async () => {
    const other = new ServiceNotifier(
      recordingLogger().logger,
      env({ WATCHDOG_USEC: "200000", WATCHDOG_PID: "1" }),
    );
    await other.start();
    await new Promise((r) => setTimeout(r, 500));
    await other.stop();
    await heardSoon("STOPPING=1");
    expect(heard.map((h) => h.message)).toEqual(["READY=1", "STOPPING=1"]);

    heard = [];
    const { logger, lines } = recordingLogger();
    const outside = new ServiceNotifier(logger, { PATH: process.env.PATH, WATCHDOG_USEC: "200000" });
    await outside.start();
    await new Promise((r) => setTimeout(r, 300));
    await outside.stop();
    expect(heard).toEqual([]);
    expect(lines).toEqual([]);
  });

  it("logs once, not at every ping, when systemd-notify cannot be run", async () => {
    const { logger, lines } = recordingLogger();
    const notifier = new ServiceNotifier(logger, { ...env({ WATCHDOG_USEC: "100000" }), PATH: dir });
    await notifier.start();
    await new Promise((r) => setTimeout(r, 400));
    await notifier.stop();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warn cannot tell systemd READY=1/);
  });
});
