import { runModelsCheck, runModelsFetch } from "../../models/commands.js";
import { createLogger } from "../../util/log.js";
import { parseCommandArgs } from "../args.js";
import { cliConfig, modelsDirOf } from "../context.js";
import { UsageError } from "../errors.js";

export async function modelsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    mirror: { type: "string" },
    quiet: { type: "boolean", short: "q" },
  });
  const [sub, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`models ${sub ?? ""} takes no arguments`);
  const config = await cliConfig(values);
  const modelsDir = modelsDirOf(config);
  const logger = createLogger(values.quiet ? "warn" : "info");
  switch (sub) {
    case "fetch":
      return runModelsFetch({ modelsDir, logger, mirrorDir: values.mirror, progress: !values.quiet });
    case "check":
      return runModelsCheck({ modelsDir, logger });
    default:
      throw new UsageError(
        sub ? `unknown models subcommand "${sub}"` : "models needs a subcommand: fetch or check",
      );
  }
}
