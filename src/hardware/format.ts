import type { EncoderSelection } from "./encoder-selection.js";

/** `voiceid hardware` as text. */
export function formatSelection(s: EncoderSelection): string {
  const { cpu } = s.profile;
  const gpus = s.profile.gpus.map((g) => `${g.vendor} ${g.model}${g.vramMB ? ` (${g.vramMB} MB)` : ""}`);
  const lines = [
    `board:     ${s.profile.board}`,
    `cpu:       ${cpu.brand}, ${cpu.arch}, ${cpu.physicalCores} cores (${cpu.cores} threads)${cpu.speedGHz ? `, ${cpu.speedGHz} GHz` : ""}`,
    `simd:      ${cpu.simd.join(" ") || "none detected"}`,
    `memory:    ${(s.profile.memoryBytes / 2 ** 30).toFixed(1)} GiB`,
    `gpu:       ${gpus.join(", ") || "none"}${s.executionProvider === "cuda" ? " (CUDA will be tried)" : ""}`,
    `installed: ${s.installed.join(", ") || "no encoder (run `voiceid models fetch`)"}`,
    `measured${s.cached ? " (cached)" : ""}:`,
    ...s.measurements.map(
      (m) =>
        `  ${m.encoder.padEnd(18)} ${m.msPerAudioSecond.toFixed(1).padStart(6)} ms per second of audio, real-time factor ${m.realTimeFactor.toFixed(3)} on ${m.provider}`,
    ),
    `encoder:   ${s.choice.encoder} (${s.choice.reason})`,
  ];
  return `${lines.join("\n")}\n`;
}
