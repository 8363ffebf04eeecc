import { SpeechPipeline } from "../daemon/speech-pipeline.js";
import type { SpeakerEncoder } from "../embedding/encoder.js";
import type { Decision } from "../identify/decision.js";
import type { LiveIdentifierOptions } from "../identify/live-identifier.js";
import type { MatchCandidate } from "../registry/matcher.js";
import type { Logger } from "../util/log.js";
import type { VoiceActivityDetector } from "../vad/detector.js";
import type { SkippableDetector } from "../vad/quiet-gate.js";
import type { SegmenterConfig } from "../vad/segmenter.js";
import { type CommandVerdict, commandVerdict } from "./command.js";

export interface CommandIdentifierOptions {
  vad: VoiceActivityDetector & SkippableDetector;
  encoder: SpeakerEncoder;
  candidates: () => readonly MatchCandidate[];
  segmenter: Partial<SegmenterConfig>;
  identification: LiveIdentifierOptions;
  /** Every decision as it is made (talking / last heard in Home Assistant, the event stream). */
  onDecision?: (decision: Decision) => void;
  logger: Logger;
}

/**
 * Names the speaker of one command with the live path's parts (Silero VAD, windows, the speaker
 * tracker) on its own stream: audio is judged as it arrives, so at audio-stop only the last window
 * is left to embed.
 */
export class CommandIdentifier {
  private readonly stopped: Decision[] = [];
  private readonly pipeline: SpeechPipeline;
  private pending: Promise<void> = Promise.resolve();
  private namedSoFar: string | null = null;
  /** The latest decision of each turn still open. */
  private readonly open = new Map<number, Decision>();

  constructor(private readonly options: CommandIdentifierOptions) {
    this.pipeline = new SpeechPipeline({
      vad: options.vad,
      // A command is speech from its first sample: no quiet background to skip, no batching wait.
      quietGate: false,
      idleBatchSamples: 0,
      encoder: options.encoder,
      candidates: options.candidates,
      segmenter: options.segmenter,
      identification: options.identification,
      onDecision: (d) => {
        if (d.type === "stopped") {
          this.stopped.push(d);
          this.open.delete(d.turnId);
        } else this.open.set(d.turnId, d);
        if (d.speakerId !== null) this.namedSoFar ??= d.speakerId;
        options.onDecision?.(d);
      },
      logger: options.logger,
    });
  }

  /** An enrolled person was named on the audio so far (the first one), or null. */
  get named(): string | null {
    return this.namedSoFar;
  }

  /**
   * The verdict on the audio judged so far, open turns taken as running to `endS` (seconds of the
   * command): what extract mode forwards at audio-stop without waiting for the last window.
   */
  provisional(endS: number): CommandVerdict {
    const open = [...this.open.values()].map(
      (d): Decision => ({
        ...d,
        type: "stopped",
        durationS: Math.max(d.durationS, endS - d.startS),
      }),
    );
    return commandVerdict([...this.stopped, ...open]);
  }

  async start(): Promise<void> {
    this.options.vad.reset();
    await this.pipeline.start();
  }

  /** 16 kHz mono audio of the command, in order; processing runs behind the caller. */
  accept(samples: Float32Array): void {
    if (samples.length === 0) return;
    this.pending = this.pipeline.accept(samples);
  }

  /** End of the command: its open turn ends and the verdict is final. */
  async finish(): Promise<CommandVerdict> {
    await this.pending;
    await this.pipeline.stop();
    return commandVerdict(this.stopped);
  }

  /** Drops the command (its peer went away). */
  async abandon(): Promise<void> {
    await this.pipeline.stop();
  }
}
