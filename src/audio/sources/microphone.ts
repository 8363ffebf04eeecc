import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import arecord from "node-record-lpcm16/recorders/arecord.js";
import sox from "node-record-lpcm16/recorders/sox.js";
import type { Logger } from "../../util/log.js";
import { PcmDecoder, s16leFormat } from "./pcm.js";
import {
  type AudioListener,
  type AudioSource,
  type AudioSourceStatus,
  type EndListener,
  SourceEmitter,
} from "./source.js";

export interface MicrophoneSourceOptions {
  /** ALSA device: arecord -D, or AUDIODEV for sox. */
  device: string;
  recorder: "arecord" | "sox";
  /** Capture rate and channels asked of the device; converted to 16 kHz mono. */
  sampleRate: number;
  channels: number;
  restartBackoffMs: { min: number; max: number };
  /** Environment of the recorder process (ALSA reads ~/.asoundrc via HOME). Default process.env. */
  env?: NodeJS.ProcessEnv;
  logger: Logger;
}

/** A recorder that delivered audio this long is healthy again: the next failure restarts at min delay. */
const HEALTHY_RUN_MS = 10_000;
/** stop(): time the recorder gets for SIGTERM before SIGKILL, and for SIGKILL before we give up waiting. */
const KILL_GRACE_MS = 400;
const STDERR_TAIL_BYTES = 4096;

type RecorderProcess = ChildProcessByStdio<null, Readable, Readable>;

/**
 * node-record-lpcm16's command builders, imported by file: its own loader finds them with
 * path.resolve(__dirname, name), which a bundle cannot follow.
 */
const RECORDERS = { arecord, sox } as const;

/**
 * Live capture through arecord or sox (command lines from node-record-lpcm16's recorder modules),
 * s16le on a pipe. The recorder exiting for any reason (device unplugged, process killed, busy device)
 * is logged and retried with exponential backoff, forever: a daemon without its microphone waits for
 * it rather than dying. Silence is not a failure; nothing watches for it.
 */
export class MicrophoneSource implements AudioSource {
  readonly kind: "microphone" | "command" = "microphone";
  private readonly emitter: SourceEmitter;
  private child: RecorderProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(protected readonly options: MicrophoneSourceOptions) {
    this.emitter = new SourceEmitter(options.logger);
  }

  onAudio(listener: AudioListener): () => void {
    return this.emitter.onAudio(listener);
  }

  /** A microphone never ends on its own; listeners are accepted for interface symmetry. */
  onEnd(listener: EndListener): () => void {
    return this.emitter.onEnd(listener);
  }

  status(): AudioSourceStatus {
    return this.emitter.status();
  }

  /** Launches the recorder and returns; failures to open the device show up as status "retrying". */
  async start(): Promise<void> {
    if (this.started || this.stopping) return;
    this.started = true;
    this.launch();
  }

  stop(): Promise<void> {
    this.stopping ??= this.halt();
    return this.stopping;
  }

  /** The recorder's command line. */
  protected command(): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
    const { device, recorder, sampleRate, channels } = this.options;
    const built = RECORDERS[recorder]({
      sampleRate,
      channels,
      audioType: "raw",
      device,
      endOnSilence: false,
    });
    let env: NodeJS.ProcessEnv = this.options.env ?? process.env;
    if (recorder === "sox") {
      // sox picks its input from AUDIODEV (node-record-lpcm16 sets it on a copy of process.env; we keep our
      // injected env) and the device name is an ALSA one.
      env = { AUDIODRIVER: "alsa", ...env, AUDIODEV: built.spawnOptions?.env?.AUDIODEV ?? device };
    }
    return { cmd: built.cmd, args: built.args.map(String), env };
  }

  private launch(): void {
    this.restartTimer = undefined;
    if (this.stopping) return;
    this.emitter.setState("starting");
    const { cmd, args, env } = this.command();
    // A configured command may hold credentials (rtsp://user:password@camera): never logged.
    this.options.logger.debug("starting recorder", { cmd, ...(this.kind === "microphone" ? { args } : {}) });

    let child: RecorderProcess;
    try {
      // A command runs in a process group of its own: stopping it stops what its shell started too.
      child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: this.kind === "command" });
    } catch (err) {
      this.recorderEnded(undefined, `cannot start ${cmd}: ${(err as Error).message}`, 0);
      return;
    }
    this.child = child;
    const decoder = new PcmDecoder(
      s16leFormat({ sampleRate: this.options.sampleRate, channels: this.options.channels }),
    );
    let stderrTail = "";
    let firstAudioAt: number | undefined;
    let done = false;

    const finish = (reason: string): void => {
      if (done) return;
      done = true;
      const ranMs = firstAudioAt === undefined ? 0 : Date.now() - firstAudioAt;
      const lastLine = stderrTail.trim().split("\n").pop()?.trim();
      this.recorderEnded(child, lastLine ? `${reason}: ${lastLine}` : reason, ranMs);
    };

    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text: string) => {
      stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
    });
    child.stdout.on("data", (bytes: Buffer) => {
      if (firstAudioAt === undefined) {
        firstAudioAt = Date.now();
        this.emitter.setState("running");
        this.options.logger.info("capturing audio", { device: this.options.device, recorder: cmd });
      }
      const samples = decoder.push(bytes);
      if (samples.length === 0) return;
      const pending = this.emitter.deliver(samples);
      if (pending) {
        // Backpressure: the pipe (and the recorder's ALSA buffer) hold the audio meanwhile.
        child.stdout.pause();
        void pending.then(() => {
          if (!child.stdout.destroyed) child.stdout.resume();
        });
      }
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      // Spawn failures (ENOENT) may come without 'close'; later errors (kill failed) are followed by it.
      if (child.pid === undefined || err.code === "ENOENT") {
        const hint =
          err.code === "ENOENT" && this.kind === "microphone"
            ? ` (is ${cmd === "arecord" ? "alsa-utils" : "sox"} installed?)`
            : "";
        finish(`cannot start ${cmd}${hint}: ${err.message}`);
      }
    });
    // 'close' rather than 'exit': all captured audio has been delivered by then.
    child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
      finish(signal ? `${cmd} was killed by ${signal}` : `${cmd} exited with code ${code}`);
    });
  }

  private recorderEnded(child: RecorderProcess | undefined, reason: string, ranMs: number): void {
    if (child && this.child !== child) return;
    this.child = undefined;
    if (this.stopping) return;
    if (ranMs >= HEALTHY_RUN_MS) this.failures = 0;
    const { min, max } = this.options.restartBackoffMs;
    const delay = Math.min(max, min * 2 ** Math.min(this.failures, 30));
    this.failures++;
    this.emitter.setState("retrying", reason);
    this.options.logger.warn("recorder stopped; restarting", {
      reason,
      inMs: delay,
      device: this.options.device,
    });
    this.restartTimer = setTimeout(() => {
      this.emitter.countRestart();
      this.launch();
    }, delay);
  }

  /** The recorder, or a command's whole process group. */
  private signal(child: RecorderProcess, signal: NodeJS.Signals): void {
    if (this.kind === "command" && child.pid !== undefined) {
      try {
        process.kill(-child.pid, signal);
        return;
      } catch {
        // The group is gone already; the child itself below.
      }
    }
    child.kill(signal);
  }

  private async halt(): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      // Drop the pipes first: a paused stdout would otherwise hold back 'close'.
      child.stdout.destroy();
      child.stderr.destroy();
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      const within = (ms: number) =>
        Promise.race([
          exited.then(() => true),
          new Promise<boolean>((r) => setTimeout(r, ms, false).unref()),
        ]);
      this.signal(child, "SIGTERM");
      if (!(await within(KILL_GRACE_MS))) {
        this.signal(child, "SIGKILL");
        await within(KILL_GRACE_MS);
      }
    }
    this.emitter.setState("stopped");
  }
}

export type CommandSourceOptions = Omit<MicrophoneSourceOptions, "device" | "recorder"> & {
  /** A shell command line that writes raw s16le audio (sampleRate, channels) to its standard output. */
  command: string;
};

/**
 * Audio from a command, run by /bin/sh, read from its standard output: a network stream through ffmpeg
 * (`ffmpeg -i rtsp://camera/stream -f s16le -ac 1 -ar 16000 -`), another capture program. Live like a
 * microphone: when it exits it is restarted with the same backoff, and muting stops it.
 */
export class CommandSource extends MicrophoneSource {
  override readonly kind = "command";
  private readonly line: string;

  constructor(options: CommandSourceOptions) {
    const { command, ...rest } = options;
    super({ ...rest, device: "command", recorder: "arecord" });
    this.line = command;
  }

  protected override command(): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
    return { cmd: "/bin/sh", args: ["-c", this.line], env: this.options.env ?? process.env };
  }
}
