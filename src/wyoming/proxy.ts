import { createServer, type Server, type Socket } from "node:net";
import type { WyomingConfig } from "../config/schema.js";
import type { SpeakerEncoder } from "../embedding/encoder.js";
import type { Decision } from "../identify/decision.js";
import type { LiveIdentifierOptions } from "../identify/live-identifier.js";
import type { MatchCandidate } from "../registry/matcher.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import type { VoiceActivityDetector } from "../vad/detector.js";
import type { SkippableDetector } from "../vad/quiet-gate.js";
import type { SegmenterConfig } from "../vad/segmenter.js";
import { DEFAULT_WYOMING_LIMITS, type WyomingEvent } from "./codec.js";
import type { VoiceCommand, WyomingMode } from "./command.js";
import { CommandIdentifier } from "./command-identifier.js";
import { hasSpeechToText, proxiedInfo } from "./info.js";
import { parseTcpUri, WyomingPeer } from "./peer.js";
import { CommandError, WyomingSession } from "./session.js";

type CommandVad = VoiceActivityDetector & SkippableDetector;

export interface WyomingProxyOptions {
  config: WyomingConfig;
  /** A VAD of its own for each command identified at once (the stack's streamVad). */
  createVad: () => CommandVad;
  encoder: SpeakerEncoder;
  candidates: () => readonly MatchCandidate[];
  segmenter: Partial<SegmenterConfig>;
  identification: LiveIdentifierOptions;
  /** Every decision on a command's audio, with the command's id. */
  onDecision?: (commandId: number, decision: Decision) => void;
  /** Who gave a command; settles once it is published (its transcript waits for that, briefly). */
  onCommand: (command: VoiceCommand) => Promise<void> | void;
  onTranscript?: (command: VoiceCommand, text: string) => void;
  onStopLatency?: (seconds: number, mode: WyomingMode, forwarded: boolean) => void;
  logger: Logger;
}

/** Waiting for a connection to the speech-to-text service. */
const CONNECT_TIMEOUT_MS = 5000;
/** Waiting for its `info` after `describe`. */
const DESCRIBE_TIMEOUT_MS = 5000;
/** Open client connections at most; more are closed at once (a flood must not exhaust the daemon). */
const MAX_CONNECTIONS = 64;

/**
 * The Wyoming speech-to-text proxy: Home Assistant connects as to any speech-to-text service, voiceid
 * names the speaker of each command on the audio as it arrives and forwards it (pass), or only an
 * enrolled person's command (gate), or only that person's speech (extract) to the upstream service.
 */
export class WyomingProxy implements Component {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<Promise<void>>();
  private readonly freeVads: CommandVad[] = [];
  private commandSeq = 0;
  private address: { host: string; port: number } | null = null;

  constructor(private readonly options: WyomingProxyOptions) {}

  /** Where it listens, once started (the real port when configured as 0). */
  get listening(): { host: string; port: number } | null {
    return this.address;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const { config } = this.options;
    const { host, port } = parseTcpUri(config.listen);
    for (let i = 0; i < config.maxConcurrentCommands; i++) {
      const vad = this.options.createVad();
      await vad.start();
      this.freeVads.push(vad);
    }
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) => this.options.logger.error("Wyoming server error", { error: err.message }));
    const bound = server.address();
    this.address = bound && typeof bound === "object" ? { host, port: bound.port } : { host, port };
    this.server = server;
    this.options.logger.info("Wyoming speech-to-text proxy listening", {
      listen: `tcp://${host}:${this.address.port}`,
      upstream: config.upstream,
      mode: config.mode,
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await Promise.allSettled([...this.sessions]);
    await closed;
    this.freeVads.length = 0;
  }

  private accept(socket: Socket): void {
    if (this.sockets.size >= MAX_CONNECTIONS) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    const log = this.options.logger;
    const session = new WyomingSession(new WyomingPeer(socket, DEFAULT_WYOMING_LIMITS), {
      mode: this.options.config.mode,
      tagTranscript: this.options.config.tagTranscript,
      maxCommandSeconds: this.options.config.maxCommandSeconds,
      upstreamTimeoutMs: this.options.config.upstreamTimeoutSeconds * 1000,
      describe: () => this.describe(),
      connectUpstream: () => this.connectUpstream(),
      identifier: async (id) => this.identifier(id),
      nextCommandId: () => ++this.commandSeq,
      onCommand: (command) => this.options.onCommand(command),
      onTranscript: (command, text) => this.options.onTranscript?.(command, text),
      onStopLatency: this.options.onStopLatency,
      logger: log,
    });
    const run = session
      .run()
      .catch((err: unknown) =>
        log.error("Wyoming session failed", { error: err instanceof Error ? err.message : String(err) }),
      )
      .finally(() => this.sessions.delete(run));
    this.sessions.add(run);
  }

  private connectUpstream(): Promise<WyomingPeer> {
    const upstream = this.options.config.upstream;
    if (!upstream) throw new CommandError("no wyoming.upstream configured", "upstream");
    return WyomingPeer.connect(upstream, CONNECT_TIMEOUT_MS);
  }

  private async describe(): Promise<WyomingEvent> {
    let upstream: WyomingPeer;
    try {
      upstream = await this.connectUpstream();
    } catch (err) {
      throw new CommandError(err instanceof Error ? err.message : String(err), "upstream");
    }
    try {
      await upstream.send({ type: "describe", data: {}, payload: null });
      for (;;) {
        const event = await upstream.next(DESCRIBE_TIMEOUT_MS).catch((err: unknown) => {
          throw new CommandError(
            `speech-to-text service: ${err instanceof Error ? err.message : err}`,
            "upstream",
          );
        });
        if (!event) throw new CommandError("speech-to-text service closed the connection", "upstream");
        if (event.type !== "info") continue;
        if (!hasSpeechToText(event)) {
          throw new CommandError("the upstream service offers no speech-to-text", "upstream");
        }
        return proxiedInfo(event);
      }
    } finally {
      upstream.close();
    }
  }

  private identifier(id: number): { identifier: CommandIdentifier; release: () => void } {
    const vad = this.freeVads.pop();
    if (!vad) {
      throw new CommandError(
        `busy: ${this.options.config.maxConcurrentCommands} commands are being identified (wyoming.maxConcurrentCommands)`,
        "busy",
      );
    }
    const { encoder, candidates, segmenter, identification, onDecision, logger } = this.options;
    const identifier = new CommandIdentifier({
      vad,
      encoder,
      candidates,
      segmenter,
      identification,
      onDecision: onDecision ? (d) => onDecision(id, d) : undefined,
      logger: logger.child(`command-${id}`),
    });
    let released = false;
    return {
      identifier,
      release: () => {
        if (released) return;
        released = true;
        if (this.server) this.freeVads.push(vad);
      },
    };
  }
}
