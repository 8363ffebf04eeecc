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
 * Which encoder to run. A configured one wins; "auto" takes ECAPA-TDNN when it is installed and its
 * measured real-time factor fits the budget, else Resemblyzer. Pure, so every rule is testable.
 */
export function chooseEncoder(input: {
  configured: "auto" | EncoderId;
  installed: readonly EncoderId[];
  measurements: readonly EncoderMeasurement[];
  /** Largest real-time factor at which ECAPA-TDNN is chosen (config hardware.maxEcapaRealTimeFactor). */
  maxEcapaRealTimeFactor: number;
}): EncoderChoice {
  const { configured, installed, measurements, maxEcapaRealTimeFactor: budget } = input;
  if (configured !== "auto")
    return { encoder: configured, reason: `configured (identification.encoder: ${configured})` };
  if (!installed.includes("ecapa-voxceleb"))
    return {
      encoder: "resemblyzer-0.1.4",
      reason: "ECAPA-TDNN is not installed (`voiceid models fetch` says how to provide it)",
    };
  const ecapa = measurements.find((m) => m.encoder === "ecapa-voxceleb");
  if (ecapa === undefined)
    return { encoder: "resemblyzer-0.1.4", reason: "ECAPA-TDNN could not be measured on this machine" };
  const rtf = ecapa.realTimeFactor.toFixed(3);
  if (ecapa.realTimeFactor <= budget)
    return {
      encoder: "ecapa-voxceleb",
      reason: `ECAPA-TDNN runs at real-time factor ${rtf} on ${ecapa.provider}, within the budget of ${budget}`,
    };
  return {
    encoder: "resemblyzer-0.1.4",
    reason: `ECAPA-TDNN runs at real-time factor ${rtf} on ${ecapa.provider}, over the budget of ${budget}`,
  };
}
