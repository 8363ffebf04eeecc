import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "./errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

export const commonOptions = {
  "data-dir": { type: "string" },
  "models-dir": { type: "string" },
  config: { type: "string", short: "c" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

/** parseArgs with the common options, turning its errors into usage errors. */
export function parseCommandArgs<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({
      args,
      options: { ...commonOptions, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}
