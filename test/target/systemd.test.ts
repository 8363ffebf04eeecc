import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Container, cachedRootfs, checkoutInside } from "./container.js";

/**
 * voiceid as a user installs it on a Pi, under a real systemd: a Debian trixie machine booted with
 * systemd-nspawn (test/target/container.ts), this checkout's shipped build installed by
 * scripts/install-service.sh, the unit in systemd/voiceid.service, Debian's mosquitto as the broker.
 * Without a sound card, the "microphone" is an ALSA file PCM playing a recorded conversation.
 */

const SERVICE = "voiceid.service";
const RESTART_SEC = 5;
const HEALTH = "http://127.0.0.1:8787/health";
/** The score systemd-analyze gave the unit before #23 added Type=notify and more hardening. */
const SCORE_BEFORE = 3.3;

let machine: Container;

const show = async (...properties: string[]): Promise<Record<string, string>> => {
  const out = await machine.sh(`systemctl show ${SERVICE} ${properties.map((p) => `-p ${p}`).join(" ")}`);
  return Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]),
  );
};

/** An HTTP request from inside the machine (its network is its own), with its node. */
async function http(url: string, method = "GET", body?: unknown): Promise<{ status: number; json: unknown }> {
  const script = `fetch(process.argv[1], { method: process.argv[2], headers: { "Content-Type": "application/json" }, body: process.argv[3] || undefined })
    .then(async (r) => console.log(JSON.stringify({ status: r.status, text: await r.text() })), (e) => console.log(JSON.stringify({ status: 0, text: String(e) })))`;
  const out = await machine.exec([
    "node",
    "-e",
    script,
    url,
    method,
    body === undefined ? "" : JSON.stringify(body),
  ]);
  const { status, text } = JSON.parse(out.stdout) as { status: number; text: string };
  return { status, json: text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : text };
}

async function until<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) {
      const journal = await machine.exec(["journalctl", "-u", SERVICE, "-n", "30", "--no-pager"]);
      throw new Error(`timed out waiting for ${what}\n${journal.stdout}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const healthy = async () => {
  const { status, json } = await http(HEALTH);
  return status === 200 && (json as { status?: string }).status === "ok";
};

/** Files of the machine outside what its own running changes (journal, systemd's and the broker's state). */
const fileList = () =>
  machine.sh(
    "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp -o -path /var/log -o -path /var/cache -o -path /var/lib/systemd -o -path /var/lib/mosquitto -o -path /srv \\) -prune -o -print | sort",
  );

let filesBeforeInstall: string;

beforeAll(async () => {
  machine = await Container.fromCache(cachedRootfs());
  await machine.boot();
  filesBeforeInstall = await fileList();
  // The sound card: ALSA's default capture device plays a two-person conversation (raw 16 kHz s16le).
  await machine.sh(
    `printf '%s\\n' 'pcm.!default {' ' type file' ' slave.pcm "null"' ' file "/dev/null"' ' infile "/srv/shared/audio/conversation/sample.wav"' ' format "raw"' '}' >/etc/asound.conf`,
  );
}, 300_000);

afterAll(async () => {
  await machine?.dispose();
});

describe("voiceid under systemd", () => {
  it("installs as a user installs it, and is ready when the installer returns", async () => {
    await machine.sh(`${checkoutInside}/scripts/install-service.sh`, 180_000);
    const unit = await show("Type", "ActiveState", "SubState", "NotifyAccess", "WatchdogUSec");
    // Type=notify: active only once the daemon said READY=1 (before, the unit is "activating").
    expect(unit).toMatchObject({
      Type: "notify",
      ActiveState: "active",
      SubState: "running",
      NotifyAccess: "all",
    });
    expect(unit.WatchdogUSec).toBe("30s");
    // Ready means serving: the API answers at once.
    expect(await healthy()).toBe(true);
    // systemd called it started only after the daemon logged that it serves (Type=simple: before any line).
    const journal = (await machine.sh(`journalctl -u ${SERVICE} -o cat --no-pager`)).split("\n");
    const serving = journal.findIndex((l) => l.includes("voiceid started"));
    const started = journal.findIndex((l) => l.startsWith("Started voiceid.service"));
    expect(serving).toBeGreaterThanOrEqual(0);
    expect(started).toBeGreaterThan(serving);
  });

  it("runs as user voiceid with no capabilities", async () => {
    const { MainPID } = await show("MainPID");
    const status = await machine.sh(`cat /proc/${MainPID}/status`);
    const uid = (await machine.sh("id -u voiceid")).trim();
    expect(status).toMatch(new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, "m"));
    for (const set of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"])
      expect(status).toMatch(new RegExp(`^${set}:\\s+0{16}$`, "m"));
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);
  });

  it("has a lower exposure score than before (systemd-analyze security)", async () => {
    const out = await machine.sh(`systemd-analyze security ${SERVICE} --no-pager`);
    const score = Number(/Overall exposure level for voiceid\.service: ([\d.]+)/.exec(out)?.[1]);
    console.log(`systemd-analyze security: ${score} (before: ${SCORE_BEFORE})`);
    expect(score).toBeLessThan(SCORE_BEFORE);
    expect(score).toBeLessThanOrEqual(1.9);
  });

  it("is restarted RestartSec after kill -9", async () => {
    const before = await show("MainPID", "NRestarts");
    const killed = Date.now();
    await machine.sh(`kill -9 ${before.MainPID}`);
    const restarted = await until("a new main process", async () => {
      const now = await show("MainPID");
      return now.MainPID !== "0" && now.MainPID !== before.MainPID ? Date.now() : null;
    });
    const seconds = (restarted - killed) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(RESTART_SEC - 0.5);
    expect(seconds).toBeLessThan(RESTART_SEC + 2);
    expect(Number((await show("NRestarts")).NRestarts)).toBe(Number(before.NRestarts) + 1);
    await until("active again", async () => (await show("ActiveState")).ActiveState === "active");
    await until("healthy again", healthy);
  });

  it("stops within a few seconds, telling the broker it is offline", async () => {
    const subscriber = machine.spawn(["mosquitto_sub", "-v", "-t", "voiceid/+/status"]);
    let heard = "";
    subscriber.stdout?.on("data", (d: Buffer) => {
      heard += d.toString();
    });
    try {
      await until("the retained online status", async () => heard.includes("voiceid/default/status online"));
      const t0 = Date.now();
      await machine.sh(`systemctl stop ${SERVICE}`);
      const seconds = (Date.now() - t0) / 1000;
      expect(seconds).toBeLessThan(5);
      await until("offline", async () => heard.includes("voiceid/default/status offline"), 5000);
      expect((await show("ActiveState", "Result")).Result).toBe("success");
    } finally {
      subscriber.kill();
    }
    await machine.sh(`systemctl start ${SERVICE}`, 120_000);
  });

  it("logs to the journal, which stamps the lines (no second timestamp)", async () => {
    const lines = (await machine.sh(`journalctl -u ${SERVICE} -o cat --no-pager`)).trim().split("\n");
    const ours = lines.filter((l) => /^(DEBUG|INFO|WARN|ERROR)\s+\[voiceid/.test(l));
    expect(ours.some((l) => l.includes("voiceid started"))).toBe(true);
    expect(lines.filter((l) => /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d/.test(l))).toEqual([]);
  });

  it("is restarted by the watchdog when its event loop is wedged", async () => {
    // A shorter period than the shipped 30 s, so the test waits seconds, not minutes.
    await machine.sh(
      `mkdir -p /etc/systemd/system/${SERVICE}.d && printf '[Service]\\nWatchdogSec=3\\nTimeoutAbortSec=2\\n' >/etc/systemd/system/${SERVICE}.d/test-watchdog.conf && systemctl daemon-reload && systemctl restart ${SERVICE}`,
      120_000,
    );
    const before = await show("MainPID", "NRestarts", "WatchdogUSec");
    expect(before.WatchdogUSec).toBe("3s");
    // Pinged: alive well past the period.
    await new Promise((r) => setTimeout(r, 8000));
    expect(await show("MainPID", "NRestarts")).toEqual({
      MainPID: before.MainPID,
      NRestarts: before.NRestarts,
    });
    // Wedged: a stopped process answers nothing, like a loop that never yields.
    await machine.sh(`kill -STOP ${before.MainPID}`);
    await until(
      "a new main process",
      async () => {
        const now = await show("MainPID");
        return now.MainPID !== "0" && now.MainPID !== before.MainPID;
      },
      30_000,
    );
    expect(Number((await show("NRestarts")).NRestarts)).toBe(Number(before.NRestarts) + 1);
    expect(await machine.sh(`journalctl -u ${SERVICE} --no-pager`)).toMatch(/[Ww]atchdog timeout/);
    await machine.sh(
      `rm -r /etc/systemd/system/${SERVICE}.d && systemctl daemon-reload && systemctl restart ${SERVICE}`,
      120_000,
    );
    await until("healthy again", healthy);
  });

  it("starts again after a reboot (enabled)", async () => {
    await machine.reboot();
    await until(
      "active after the reboot",
      async () => (await show("ActiveState")).ActiveState === "active",
      120_000,
    );
    expect(await healthy()).toBe(true);
  });

  it("keeps its data and configuration across an upgrade (the installer run again)", async () => {
    expect((await http("http://127.0.0.1:8787/api/speakers", "POST", { name: "Alice" })).status).toBe(201);
    await machine.sh("sed -i 's/^room: default$/room: kitchen/' /etc/voiceid/voiceid.yaml");
    await machine.sh(`${checkoutInside}/scripts/install-service.sh`, 180_000);
    expect(await machine.sh("grep '^room:' /etc/voiceid/voiceid.yaml")).toBe("room: kitchen\n");
    const speakers = await http("http://127.0.0.1:8787/api/speakers");
    expect(JSON.stringify(speakers.json)).toMatch(/"Alice"/);
    // The daemon runs with the kept configuration: it announces itself in the kitchen.
    expect(await machine.sh("mosquitto_sub -C 1 -W 10 -t voiceid/kitchen/status")).toBe("online\n");
  });

  it("uninstalls, keeping configuration and data unless purged, then leaves nothing behind", async () => {
    await machine.sh(`${checkoutInside}/scripts/install-service.sh --uninstall`);
    expect(await machine.sh("ls /etc/voiceid /var/lib/voiceid")).toMatch(
      /voiceid\.yaml[\s\S]*registry\.json/,
    );
    await machine.sh(`${checkoutInside}/scripts/install-service.sh --uninstall --purge`);
    // The machine's files as before the install; asound.conf is the test's own.
    const after = (await fileList()).replace("/etc/asound.conf\n", "");
    expect(after).toBe(filesBeforeInstall);
    expect((await machine.exec(["id", "voiceid"])).code).not.toBe(0);
    expect((await show("LoadState")).LoadState).toBe("not-found");
  });
});
