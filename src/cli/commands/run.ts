import { readFileSync } from "node:fs";
import { Daemon } from "../../daemon/daemon.js";
import { repoRoot } from "../../models/paths.js";
import { createLogger } from "../../util/log.js";
import { parseCommandArgs } from "../args.js";
import { cliConfig } from "../context.js";
import { UsageError } from "../errors.js";

/** Longest a graceful stop may take before the process gives up on it. */
const STOP_DEADLINE_MS = 10_000;

/**
 * `voiceid run`: the daemon. Owns signals and exit codes. With a file or stdin input it exits
 * after the input ends and its last segment is reported; with a microphone it runs until stopped.
 */
export async function runDaemonCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    input: { type: "string", short: "i" },
    realtime: { type: "boolean" },
    room: { type: "string" },
  });
  if (positionals.length > 0) throw new UsageError(`run takes no arguments (got "${positionals[0]}")`);
  const overrides: Record<string, unknown> = {};
  if (values.input === "-") overrides["audio.source"] = "stdin";
  else if (values.input) Object.assign(overrides, { "audio.source": "file", "audio.file": values.input });
  if (values.realtime) overrides["audio.realtime"] = true;
  if (values.room) overrides.room = values.room;
  const config = await cliConfig(values, overrides);
  if (config.inputs && (values.input || values.room)) {
    throw new UsageError(
      `--${values.input ? "input" : "room"} is for one input; the configuration lists inputs (one room each)`,
    );
  }
  const logger = createLogger(config.logLevel);
  const daemon = new Daemon({ config, logger, version: packageVersion() });

  let exiting = false;
  const shutdown = async (why: string, code: number) => {
    if (exiting) return;
    exiting = true;
    logger.info(`stopping (${why})`);
    const deadline = setTimeout(() => {
      logger.error(`stop took longer than ${STOP_DEADLINE_MS / 1000} s; exiting anyway`);
      process.exit(1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    await daemon.stop();
    clearTimeout(deadline);
    logger.info("stopped");
    process.exit(code);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM", 0));
  process.once("SIGINT", () => void shutdown("SIGINT", 0));

  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  // Files and stdin end: the daemon exits once all its inputs have (a microphone never ends).
  void daemon.inputEnded.then(() => shutdown("input ended", 0));
  return -1;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(`${repoRoot()}/package.json`, "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}
