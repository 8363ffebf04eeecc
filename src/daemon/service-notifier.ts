import { execFile } from "node:child_process";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";

/** Longest one `systemd-notify` may take: it waits until systemd has read the message. */
const NOTIFY_TIMEOUT_MS = 5000;

/**
 * Tells systemd (Type=notify) that the daemon is ready, then pings its watchdog from the event loop, so a
 * wedged daemon is restarted. Node cannot send a datagram to $NOTIFY_SOCKET, so each message is one run of
 * `systemd-notify`, which by default waits until systemd has processed it (sd_notify_barrier): the
 * message is attributed to the unit although the sender exits at once (the unit sets NotifyAccess=all).
 * Outside systemd ($NOTIFY_SOCKET unset) it does nothing.
 */
export class ServiceNotifier implements Component {
  private watchdog: NodeJS.Timeout | null = null;
  private failures = 0;

  constructor(
    private readonly logger: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Call once the daemon serves: the models are loaded, the API listens, the input runs. */
  async start(): Promise<void> {
    if (!this.env.NOTIFY_SOCKET) return;
    await this.notify("READY=1");
    const intervalMs = this.watchdogIntervalMs();
    if (intervalMs === null) return;
    // Half the watchdog's period, as sd_watchdog_enabled(3) advises: one late ping is no restart.
    this.watchdog = setInterval(() => void this.notify("WATCHDOG=1"), intervalMs);
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    if (!this.env.NOTIFY_SOCKET) return;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    await this.notify("STOPPING=1");
  }

  /** WATCHDOG_USEC is for this process only when WATCHDOG_PID is unset or ours. */
  private watchdogIntervalMs(): number | null {
    const usec = Number(this.env.WATCHDOG_USEC);
    const pid = this.env.WATCHDOG_PID;
    if (!Number.isFinite(usec) || usec <= 0 || (pid !== undefined && Number(pid) !== process.pid))
      return null;
    return Math.max(1, Math.floor(usec / 2000));
  }

  private notify(message: string): Promise<void> {
    return new Promise((resolve) => {
      execFile("systemd-notify", [message], { timeout: NOTIFY_TIMEOUT_MS, env: this.env }, (err) => {
        if (err) {
          // Once is enough in the log: a missing systemd-notify would otherwise repeat every ping.
          if (this.failures++ === 0)
            this.logger.warn(`cannot tell systemd ${message}`, { error: err.message.split("\n")[0] });
        } else {
          this.failures = 0;
        }
        resolve();
      });
    });
  }
}
