import { selectEncoderFor } from "../../hardware/encoder-selection.js";
import { formatSelection } from "../../hardware/format.js";
import { createLogger } from "../../util/log.js";
import { parseCommandArgs } from "../args.js";
import { cliConfig } from "../context.js";
import { UsageError } from "../errors.js";

/** `voiceid hardware [--json] [--remeasure]`: what was detected and measured, and the encoder choice. */
export async function hardwareCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    json: { type: "boolean" },
    remeasure: { type: "boolean" },
  });
  if (positionals.length > 0) throw new UsageError("hardware takes no arguments");
  const config = await cliConfig(values);
  const selection = await selectEncoderFor(config, createLogger(values.json ? "warn" : "info"), {
    measureAll: true,
    remeasure: values.remeasure === true,
  });
  process.stdout.write(values.json ? `${JSON.stringify(selection, null, 2)}\n` : formatSelection(selection));
  return 0;
}
