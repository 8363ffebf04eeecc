import type { WyomingEvent } from "./codec.js";

/**
 * The `info` voiceid answers a `describe` with: the upstream's speech-to-text programs (their models
 * and languages, which Home Assistant offers in its pipeline settings), each named as passing through
 * voiceid. Home Assistant's Wyoming integration names its speech-to-text entity after the first
 * program. Transcript streaming is switched off: voiceid returns one `transcript`.
 */
export function proxiedInfo(upstream: WyomingEvent): WyomingEvent {
  const asr = Array.isArray(upstream.data.asr) ? upstream.data.asr : [];
  const programs = asr
    .filter((p): p is Record<string, unknown> => typeof p === "object" && p !== null && !Array.isArray(p))
    .map((p) => {
      const name = typeof p.name === "string" ? p.name : "speech-to-text";
      const description = typeof p.description === "string" && p.description ? `: ${p.description}` : "";
      return {
        ...p,
        name: `voiceid (${name})`,
        description: `voiceid names the speaker, then ${name} transcribes${description}`,
        supports_transcript_streaming: false,
      };
    });
  return {
    type: "info",
    data: { asr: programs, tts: [], handle: [], intent: [], wake: [], mic: [], snd: [] },
    payload: null,
  };
}

/** Whether an upstream's info offers speech-to-text at all. */
export function hasSpeechToText(info: WyomingEvent): boolean {
  return Array.isArray(info.data.asr) && info.data.asr.length > 0;
}
