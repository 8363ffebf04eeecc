import { setTimeout as sleep } from "node:timers/promises";
import { PcmDecoder, s16leFormat } from "../audio/sources/pcm.js";
import type { Logger } from "../util/log.js";
import type { WyomingEvent } from "./codec.js";
import { WyomingProtocolError } from "./codec.js";
import type { CommandVerdict, Stretch, VoiceCommand, WyomingMode } from "./command.js";
import type { CommandIdentifier } from "./command-identifier.js";
import { type WyomingPeer, WyomingTimeoutError } from "./peer.js";

/** A command the proxy refuses or cannot complete: told to the peer as an `error` event with `code`. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

export interface AudioFormat {
  rate: number;
  width: number;
  channels: number;
}

/** What a session needs from the proxy. */
export interface SessionContext {
  mode: WyomingMode;
  tagTranscript: boolean;
  maxCommandSeconds: number;
  upstreamTimeoutMs: number;
  /** The upstream's info, as voiceid offers it. */
  describe(): Promise<WyomingEvent>;
  /** A connection to the speech-to-text service. */
  connectUpstream(): Promise<WyomingPeer>;
  /** A command identifier with a VAD of its own (CommandError "busy" when all are in use). */
  identifier(commandId: number): Promise<{ identifier: CommandIdentifier; release: () => void }>;
  nextCommandId(): number;
  /**
   * The command's result, published before its transcript goes back: the transcript waits (up to
   * PUBLISH_WAIT_MS) for the returned promise, so that Home Assistant has who spoke when it acts on what.
   */
  onCommand(command: VoiceCommand): Promise<void> | void;
  /** Its transcript, once known. */
  onTranscript(command: VoiceCommand, text: string): void;
  /** Seconds from audio-stop to the audio-stop reaching the upstream (or to the answer, not forwarded). */
  onStopLatency?(seconds: number, mode: WyomingMode, forwarded: boolean): void;
  logger: Logger;
}

interface OpenCommand {
  id: number;
  format: AudioFormat;
  transcribe: WyomingEvent;
  identifier: CommandIdentifier;
  release: () => void;
  decoder: PcmDecoder;
  /** The audio as received (gate and extract forward it, or part of it, after audio-stop). */
  chunks: Uint8Array[];
  bytes: number;
  maxBytes: number;
  /** pass: the upstream connection, fed as the audio arrives. */
  upstream: WyomingPeer | null;
}

/**
 * A connection that sends nothing for this long is closed: a peer must not hold a command (and its VAD)
 * open by going quiet. Satellites stream a chunk every few tens of ms.
 */
export const IDLE_TIMEOUT_MS = 30_000;

const DEFAULT_TRANSCRIBE: WyomingEvent = { type: "transcribe", data: {}, payload: null };
/** Audio forwarded after audio-stop goes in chunks of this many frames (Home Assistant sends 1024-ish). */
const FORWARD_CHUNK_FRAMES = 2048;
/**
 * The longest a transcript waits for the broker to acknowledge who gave the command: a local broker
 * answers in a millisecond or two; one that hangs must not hold every voice command.
 */
export const PUBLISH_WAIT_MS = 500;

/**
 * One client connection (Home Assistant's speech-to-text entity opens one per command): describe ->
 * info; transcribe, audio-start, audio-chunk..., audio-stop -> transcript. Anything malformed ends it
 * with an `error` event; the proxy goes on serving others.
 */
export class WyomingSession {
  private transcribe: WyomingEvent = DEFAULT_TRANSCRIBE;
  private command: OpenCommand | null = null;

  constructor(
    private readonly peer: WyomingPeer,
    private readonly ctx: SessionContext,
  ) {}

  async run(): Promise<void> {
    try {
      for (;;) {
        const event = await this.peer.next(IDLE_TIMEOUT_MS).catch((err: unknown) => {
          if (err instanceof WyomingTimeoutError) {
            throw new CommandError(`nothing received for ${IDLE_TIMEOUT_MS / 1000} s`, "timeout");
          }
          throw err;
        });
        if (!event) break;
        await this.handle(event);
      }
    } catch (err) {
      await this.fail(err);
    } finally {
      await this.abandon();
      this.peer.close();
    }
  }

  private async fail(err: unknown): Promise<void> {
    const log = this.ctx.logger;
    if (err instanceof WyomingProtocolError) {
      log.warn("closed a Wyoming connection that broke the protocol", { error: err.message });
      await this.peer.fail(err.message, "protocol");
    } else if (err instanceof CommandError) {
      log.warn("Wyoming command failed", { error: err.message, code: err.code });
      await this.peer.fail(err.message, err.code);
    } else {
      const message = err instanceof Error ? err.message : String(err);
      // A peer that went away mid-stream is the usual case: nothing to tell it.
      log.info("Wyoming connection ended", { error: message });
      await this.peer.fail(message, "internal");
    }
  }

  private async handle(event: WyomingEvent): Promise<void> {
    switch (event.type) {
      case "describe":
        await this.peer.send(await this.ctx.describe());
        return;
      case "ping":
        await this.peer.send({ type: "pong", data: event.data, payload: null });
        return;
      case "transcribe":
        await this.abandon();
        this.transcribe = event;
        return;
      case "audio-start":
        await this.start(event);
        return;
      case "audio-chunk":
        await this.chunk(event);
        return;
      case "audio-stop":
        await this.stop(event);
        return;
      default:
        // As the reference servers do: events of other services are not ours, and are dropped.
        return;
    }
  }

  private async start(event: WyomingEvent): Promise<void> {
    await this.abandon();
    const format = audioFormat(event.data, "audio-start");
    const id = this.ctx.nextCommandId();
    const { identifier, release } = await this.ctx.identifier(id);
    const command: OpenCommand = {
      id,
      format,
      transcribe: this.transcribe,
      identifier,
      release,
      decoder: new PcmDecoder(s16leFormat({ sampleRate: format.rate, channels: format.channels })),
      chunks: [],
      bytes: 0,
      maxBytes: Math.floor(this.ctx.maxCommandSeconds * format.rate) * format.width * format.channels,
      upstream: null,
    };
    this.command = command;
    try {
      await identifier.start();
      if (this.ctx.mode === "pass") {
        command.upstream = await this.upstream();
        await command.upstream.send(command.transcribe);
        await command.upstream.send(event);
      }
    } catch (err) {
      await this.abandon();
      throw err;
    }
  }

  private async chunk(event: WyomingEvent): Promise<void> {
    const command = this.command;
    if (!command) throw new CommandError("audio-chunk before audio-start", "audio-order");
    const format = audioFormat({ ...command.format, ...event.data }, "audio-chunk");
    if (
      format.rate !== command.format.rate ||
      format.width !== command.format.width ||
      format.channels !== command.format.channels
    ) {
      throw new CommandError("audio-chunk format differs from its audio-start", "audio-format");
    }
    const audio = event.payload ?? new Uint8Array(0);
    command.bytes += audio.length;
    if (command.bytes > command.maxBytes) {
      throw new CommandError(`command longer than ${this.ctx.maxCommandSeconds} s`, "too-long");
    }
    command.identifier.accept(command.decoder.push(audio));
    if (command.upstream) {
      await command.upstream.send(event);
      return;
    }
    command.chunks.push(audio);
    if (this.ctx.mode === "gate" && command.identifier.named !== null) {
      // Named while speaking: forward what came so far and the rest as it arrives, so audio-stop
      // reaches the speech-to-text service at once.
      const upstream = await this.upstream();
      command.upstream = upstream;
      await forwardAudio(upstream, command, concat(command.chunks, command.bytes), null, null);
      command.chunks = [];
    }
  }

  private async stop(event: WyomingEvent): Promise<void> {
    const command = this.command;
    if (!command) throw new CommandError("audio-stop before audio-start", "audio-order");
    const stoppedAt = performance.now();
    const mode = this.ctx.mode;
    let upstream = command.upstream;
    if (upstream) {
      await upstream.send(event);
      this.ctx.onStopLatency?.((performance.now() - stoppedAt) / 1000, mode, true);
    }
    const frameBytes = command.format.width * command.format.channels;
    const durationS = command.bytes / frameBytes / command.format.rate;
    let forwardedS = upstream ? durationS : 0;
    // Extract: the person named on the audio judged so far gets their stretches forwarded at once;
    // the last window only settles what is reported.
    const early = !upstream && mode === "extract" ? command.identifier.provisional(durationS) : null;
    if (early?.speakerId) {
      [upstream, forwardedS] = await this.forward(command, early, event);
      this.ctx.onStopLatency?.((performance.now() - stoppedAt) / 1000, mode, true);
    }
    command.identifier.accept(command.decoder.flush());
    let verdict: CommandVerdict;
    try {
      verdict = await command.identifier.finish();
    } finally {
      command.release();
      this.command = null;
    }
    if (!upstream && verdict.speakerId !== null) {
      [upstream, forwardedS] = await this.forward(command, verdict, event);
      this.ctx.onStopLatency?.((performance.now() - stoppedAt) / 1000, mode, true);
    } else if (!upstream) {
      this.ctx.onStopLatency?.((performance.now() - stoppedAt) / 1000, mode, false);
    }
    const result: VoiceCommand = {
      id: command.id,
      at: new Date().toISOString(),
      speakerId: verdict.speakerId,
      speaker: verdict.speaker,
      reason: verdict.reason,
      score: verdict.score,
      durationS: round(durationS),
      mode,
      forwarded: upstream !== null,
      forwardedS: round(forwardedS),
      transcript: null,
    };
    // Before the transcript: an automation or agent handling the command reads who gave it. Published
    // while the upstream transcribes; the transcript goes back once the broker has it (a fast upstream
    // beat it to Home Assistant), or after PUBLISH_WAIT_MS if the broker is slow to answer.
    const publishing = Promise.resolve(this.ctx.onCommand(result)).catch((err: unknown) =>
      this.ctx.logger.warn("could not publish who gave the command", {
        command: result.id,
        error: err instanceof Error ? err.message : String(err),
      }),
    );
    const published = Promise.race([publishing, sleep(PUBLISH_WAIT_MS, undefined, { ref: false })]);
    if (!upstream) {
      await published;
      await this.peer.send({ type: "transcript", data: { text: "" }, payload: null });
      return;
    }
    const transcript = await this.readTranscript(upstream);
    const text = typeof transcript.data.text === "string" ? transcript.data.text : "";
    this.ctx.onTranscript(result, text);
    const tagged = this.ctx.tagTranscript && verdict.speaker && text ? `[${verdict.speaker}] ${text}` : text;
    await published;
    await this.peer.send({ type: "transcript", data: { ...transcript.data, text: tagged }, payload: null });
  }

  /** Forwards the whole command (gate) or the named person's stretches (extract), then audio-stop. */
  private async forward(
    command: OpenCommand,
    verdict: CommandVerdict,
    stop: WyomingEvent,
  ): Promise<[WyomingPeer, number]> {
    const audio = concat(command.chunks, command.bytes);
    const stretches =
      this.ctx.mode === "extract" ? frameRanges(verdict.stretches, command.format, audio.length) : null;
    const upstream = await this.upstream();
    return [upstream, await forwardAudio(upstream, command, audio, stretches, stop)];
  }

  private async readTranscript(upstream: WyomingPeer): Promise<WyomingEvent> {
    try {
      for (;;) {
        let event: WyomingEvent | null;
        try {
          event = await upstream.next(this.ctx.upstreamTimeoutMs);
        } catch (err) {
          throw new CommandError(
            `speech-to-text service: ${err instanceof Error ? err.message : String(err)}`,
            "upstream",
          );
        }
        if (!event) throw new CommandError("speech-to-text service closed the connection", "upstream");
        if (event.type === "transcript") return event;
        if (event.type === "error") {
          const text = typeof event.data.text === "string" ? event.data.text : "error";
          throw new CommandError(`speech-to-text service: ${text}`, "upstream");
        }
      }
    } finally {
      upstream.close();
    }
  }

  private async upstream(): Promise<WyomingPeer> {
    try {
      return await this.ctx.connectUpstream();
    } catch (err) {
      throw new CommandError(err instanceof Error ? err.message : String(err), "upstream");
    }
  }

  /** Drops an open command (a new one began, or the peer went away). */
  private async abandon(): Promise<void> {
    const command = this.command;
    if (!command) return;
    this.command = null;
    command.upstream?.close();
    try {
      await command.identifier.abandon();
    } finally {
      command.release();
    }
  }
}

/** Sends transcribe, audio-start, the audio (or its stretches) and audio-stop if given; returns seconds sent. */
async function forwardAudio(
  upstream: WyomingPeer,
  command: OpenCommand,
  audio: Uint8Array,
  stretches: Array<[number, number]> | null,
  stop: WyomingEvent | null,
): Promise<number> {
  const { format } = command;
  const frameBytes = format.width * format.channels;
  const formatData = { rate: format.rate, width: format.width, channels: format.channels };
  await upstream.send(command.transcribe);
  await upstream.send({ type: "audio-start", data: formatData, payload: null });
  let sent = 0;
  for (const [from, to] of stretches ?? [[0, audio.length]]) {
    for (let at = from; at < to; at += FORWARD_CHUNK_FRAMES * frameBytes) {
      const payload = audio.subarray(at, Math.min(to, at + FORWARD_CHUNK_FRAMES * frameBytes));
      sent += payload.length;
      // Where the chunk was in the command (ms), as Wyoming's timestamps say: extract mode leaves gaps.
      const timestamp = Math.round((at / frameBytes / format.rate) * 1000);
      await upstream.send({ type: "audio-chunk", data: { ...formatData, timestamp }, payload });
    }
  }
  if (stop) await upstream.send(stop);
  return sent / frameBytes / format.rate;
}

/** Stretches (seconds) -> sorted, merged byte ranges on frame boundaries. */
export function frameRanges(
  stretches: readonly Stretch[],
  format: AudioFormat,
  length: number,
): Array<[number, number]> {
  const frameBytes = format.width * format.channels;
  const ranges = stretches
    .map(({ startS, endS }): [number, number] => [
      Math.max(0, Math.floor(startS * format.rate)) * frameBytes,
      Math.min(length, Math.ceil(endS * format.rate) * frameBytes),
    ])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  const merged: Array<[number, number]> = [];
  for (const r of ranges) {
    const last = merged.at(-1);
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([...r]);
  }
  return merged;
}

function audioFormat(data: Record<string, unknown>, what: string): AudioFormat {
  const { rate, width, channels } = data;
  if (typeof rate !== "number" || !Number.isInteger(rate) || rate < 8000 || rate > 192_000) {
    throw new CommandError(`${what}: rate must be a whole number of Hz from 8000 to 192000`, "audio-format");
  }
  if (width !== 2)
    throw new CommandError(`${what}: only 16-bit audio (width 2) is supported`, "audio-format");
  if (typeof channels !== "number" || !Number.isInteger(channels) || channels < 1 || channels > 8) {
    throw new CommandError(`${what}: channels must be 1 to 8`, "audio-format");
  }
  return { rate, width, channels };
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
