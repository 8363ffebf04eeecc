#!/usr/bin/env node
import { runCommand } from "./commands/index.js";
import { UsageError } from "./errors.js";
import { USAGE } from "./usage.js";

// The one place that turns outcomes into exit codes: 0 ok, 1 failure, 2 usage.
async function main(argv: string[]): Promise<number> {
  try {
    return await runCommand(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`voiceid: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`voiceid: ${message.split("\n")[0]}\n`);
    if (process.env.VOICEID_DEBUG && err instanceof Error && err.stack)
      process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// `run` keeps the process alive until a signal; the other commands end here. A failure ends the process even
// if something it started still holds it open: systemd restarts a daemon that exits, not one that hangs.
if (code > 0) process.exit(code);
if (code === 0) process.exitCode = code;
