import type { LiveAudio } from "../http/deps.js";
import type { AudioInput } from "./audio-input.js";

const SAMPLE_RATE = 16_000;

export class LiveAudioUnavailableError extends Error {
  readonly code = "live_audio_unavailable";
}

/** Muted on purpose: a recording must not switch the microphone back on behind the user's back. */
export class NotListeningError extends Error {
  readonly code = "not_listening";
}

/** Lets the HTTP API record the next N seconds of the live input (enrolment from the microphone). */
export class LiveAudioTap implements LiveAudio {
  constructor(private readonly source: Pick<AudioInput, "status" | "onAudio">) {}

  record(seconds: number, signal?: AbortSignal): Promise<Float32Array> {
    const state = this.source.status().state;
    if (state === "muted") {
      return Promise.reject(
        new NotListeningError("listening is switched off; switch it on first (POST /api/listening)"),
      );
    }
    if (state !== "running") {
      return Promise.reject(new LiveAudioUnavailableError(`the audio input is not running (${state})`));
    }
    const out = new Float32Array(Math.round(seconds * SAMPLE_RATE));
    let filled = 0;
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        unsubscribe();
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(out.subarray(0, filled));
      };
      const onAbort = () => done(new Error("recording aborted"));
      const unsubscribe = this.source.onAudio((chunk) => {
        const take = Math.min(chunk.length, out.length - filled);
        out.set(chunk.subarray(0, take), filled);
        filled += take;
        if (filled >= out.length) done();
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
