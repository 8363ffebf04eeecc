import type { EncoderId } from "../embedding/encoder.js";

/** One encoder timed on this machine: a few seconds of audio, one thread. */
export interface EncoderMeasurement {
  encoder: EncoderId;
  provider: "cpu" | "cuda";
  /** Milliseconds of compute per second of audio (median of the runs). */
  msPerAudioSecond: number;
  /** msPerAudioSecond / 1000: the share of one core a continuous stream of audio costs. */
  realTimeFactor: number;
}

export interface EncoderChoice {
  encoder: EncoderId;
  /** One sentence a person can act on. */
  reason: string;
}

/**
 * The encoders "auto" takes when the machine affords them, best first: CAM++ (measured here: EER 0.83 %
 * against Resemblyzer's 2.5 %, and far better through a room microphone; about a third of ECAPA-TDNN's
 * compute), then ECAPA-TDNN (its weights must be provided; not measured here).
 */
export const LARGER_ENCODERS: readonly { id: EncoderId; name: string }[] = [
  { id: "campplus-zh-en", name: "CAM++" },
  { id: "ecapa-voxceleb", name: "ECAPA-TDNN" },
];

/**
 * Which encoder to run. A configured one wins; "auto" takes the first of LARGER_ENCODERS that is
 * installed and whose measured real-time factor fits the budget, else Resemblyzer. Pure, so every rule
 * is testable.
 */
export function chooseEncoder(input: {
  configured: "auto" | EncoderId;
  installed: readonly EncoderId[];
  measurements: readonly EncoderMeasurement[];
  /** Largest real-time factor at which a larger encoder is chosen (config hardware.maxRealTimeFactor). */
  maxRealTimeFactor: number;
}): EncoderChoice {
  const { configured, installed, measurements, maxRealTimeFactor: budget } = input;
  if (configured !== "auto")
    return { encoder: configured, reason: `configured (identification.encoder: ${configured})` };
  const notTaken: string[] = [];
  for (const { id, name } of LARGER_ENCODERS) {
    if (!installed.includes(id)) {
      notTaken.push(`${name} is not installed (\`voiceid models fetch\` says how to provide it)`);
      continue;
    }
    const measured = measurements.find((m) => m.encoder === id);
    if (measured === undefined) {
      notTaken.push(`${name} could not be measured on this machine`);
      continue;
    }
    const rtf = measured.realTimeFactor.toFixed(3);
    if (measured.realTimeFactor <= budget)
      return {
        encoder: id,
        reason: `${name} runs at real-time factor ${rtf} on ${measured.provider}, within the budget of ${budget}`,
      };
    notTaken.push(
      `${name} runs at real-time factor ${rtf} on ${measured.provider}, over the budget of ${budget}`,
    );
  }
  return { encoder: "resemblyzer-0.1.4", reason: notTaken.join("; ") };
}
