/** The model file is not where we were told to look. */
export class VadModelMissingError extends Error {
  constructor(readonly modelPath: string) {
    super(`Silero VAD model not found at ${modelPath}; run \`voiceid models fetch\` to download it`);
    this.name = "VadModelMissingError";
  }
}

/** A VAD part was used wrongly (not started, bad frame, overlapping calls, audio no longer buffered). */
export class VadUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VadUsageError";
  }
}
