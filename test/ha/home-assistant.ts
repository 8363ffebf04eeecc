import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../helpers/paths.js";

const run = promisify(execFile);

/** ../shared/home-assistant: a real Home Assistant Core in a chroot (see its README). */
export const HA_KIT = path.resolve(repoRoot, "../shared/home-assistant");
export const HA_ROOT = process.env.HA_ROOT ?? "/opt/ha-trixie";
/** A configuration folder of the tests' own, kept between runs (onboarding and the frontend install once). */
export const HA_CONFIG = process.env.VOICEID_HA_CONFIG ?? "/tmp/voiceid-ha-test";
export const HA_PORT = Number(process.env.VOICEID_HA_PORT ?? 18124);
/** Fixed, because Home Assistant's MQTT entry is made for one port at onboarding. */
export const HA_MQTT_PORT = Number(process.env.VOICEID_HA_MQTT_PORT ?? 18831);

export interface StateChange {
  /** Seconds since the epoch, when Home Assistant reported it. */
  t: number;
  entity: string;
  old: string | null;
  new: string | null;
  attrs: Record<string, unknown> | null;
}

export interface HaState {
  entity_id: string;
  state: string;
  attributes: Record<string, unknown>;
}

/** Why the Home Assistant tests cannot run here, or null when they can. */
export function homeAssistantMissing(): string | null {
  if (!existsSync(path.join(HA_KIT, "ha.sh"))) return `${HA_KIT}/ha.sh not found`;
  if (!existsSync(path.join(HA_ROOT, "opt/ha/bin/hass"))) {
    return `Home Assistant is not installed in ${HA_ROOT}: run ${HA_KIT}/setup.sh first (about 8 minutes)`;
  }
  return null;
}

const env = () => ({ ...process.env, HA_ROOT, HA_CONFIG, HA_PORT: String(HA_PORT) });

/** Home Assistant driven through its own REST and WebSocket APIs (the kit's ha.sh / ha.py). */
export class HomeAssistant {
  private watcher: ChildProcess | null = null;
  readonly changes: StateChange[] = [];

  async start(): Promise<void> {
    if (existsSync(path.join(HA_CONFIG, ".token"))) await this.startOnboarded();
    else {
      // First start: ha.sh installs the frontend, onboards, makes a token and the MQTT entry.
      await run("bash", [path.join(HA_KIT, "ha.sh"), "start", String(HA_MQTT_PORT)], {
        env: env(),
        timeout: 600_000,
      });
    }
    await this.waitForMqtt();
    this.startWatching();
  }

  /**
   * What ha.sh start does, for a configuration already onboarded: ha.sh waits for /api/onboarding, which
   * Home Assistant no longer serves once onboarding is done.
   */
  private async startOnboarded(): Promise<void> {
    const out = openSync(path.join(HA_CONFIG, "hass.out"), "a");
    const child = spawn(
      path.join(HA_KIT, "chroot.sh"),
      ["hass", "-c", HA_CONFIG, "--log-file", path.join(HA_CONFIG, "home-assistant.log")],
      { env: env(), detached: true, stdio: ["ignore", out, out] },
    );
    child.unref();
    writeFileSync(path.join(HA_CONFIG, "hass.pid"), String(child.pid));
    await this.until(
      "Home Assistant's API",
      async () => {
        try {
          return (await this.api("GET", "/api/")).status === 200;
        } catch {
          return false;
        }
      },
      300_000,
    );
  }

  async stop(): Promise<void> {
    this.watcher?.kill("SIGTERM");
    this.watcher = null;
    await run("bash", [path.join(HA_KIT, "ha.sh"), "stop"], { env: env(), timeout: 120_000 });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private token(): string {
    return readFileSync(path.join(HA_CONFIG, ".token"), "utf8").trim();
  }

  async api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`http://127.0.0.1:${HA_PORT}${route}`, {
      method,
      headers: { Authorization: `Bearer ${this.token()}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async state(entityId: string): Promise<HaState | null> {
    const res = await this.api<HaState>("GET", `/api/states/${entityId}`);
    return res.status === 200 ? res.body : null;
  }

  /** One WebSocket command (the kit's ha.py), e.g. config/entity_registry/list. */
  async ws<T>(command: Record<string, unknown>): Promise<T> {
    const { stdout } = await run("bash", [path.join(HA_KIT, "ha.sh"), "ws", JSON.stringify(command)], {
      env: env(),
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(stdout) as T;
  }

  async call(domain: string, service: string, data: Record<string, unknown>): Promise<void> {
    const res = await this.api("POST", `/api/services/${domain}/${service}`, data);
    if (res.status !== 200) throw new Error(`${domain}.${service}: HTTP ${res.status}`);
  }

  /** Polls until `check` returns a value (protocol timeout, not a speed assertion). */
  async until<T>(
    what: string,
    check: () => Promise<T | undefined | null | false>,
    timeoutMs = 30_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  changesOf(entity: string, since = 0): StateChange[] {
    return this.changes.filter((c) => c.entity === entity && c.t >= since);
  }

  private async waitForMqtt(): Promise<void> {
    await this.until(
      "the MQTT integration to be loaded",
      async () => {
        const entries = await this.api<Array<{ domain: string; state: string }>>(
          "GET",
          "/api/config/config_entries/entry",
        );
        return entries.body.some((e) => e.domain === "mqtt" && e.state === "loaded");
      },
      120_000,
    );
  }

  private startWatching(): void {
    const child = spawn("bash", [path.join(HA_KIT, "ha.sh"), "watch"], {
      env: env(),
      stdio: ["ignore", "pipe", "ignore"],
    });
    this.watcher = child;
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const e = JSON.parse(line) as {
          t: number;
          ev: string;
          entity?: string;
          old?: string;
          new?: string;
          attrs?: Record<string, unknown>;
        };
        if (e.ev === "state_changed" && e.entity) {
          this.changes.push({
            t: e.t,
            entity: e.entity,
            old: e.old ?? null,
            new: e.new ?? null,
            attrs: e.attrs ?? null,
          });
        }
      }
    });
  }
}
