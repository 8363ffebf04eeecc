import { UsageError } from "../errors.js";
import { USAGE } from "../usage.js";
import { diarizeCommand } from "./diarize.js";
import { embedCommand } from "./embed.js";
import { enrollCommand } from "./enroll.js";
import { identifyCommand } from "./identify.js";
import { modelsCommand } from "./models.js";
import { runDaemonCommand } from "./run.js";
import { speakersCommand } from "./speakers.js";

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  diarize: diarizeCommand,
  embed: embedCommand,
  enroll: enrollCommand,
  enrol: enrollCommand,
  identify: identifyCommand,
  speakers: speakersCommand,
  models: modelsCommand,
  run: runDaemonCommand,
};

/** Dispatches to a command; resolves to its exit code (-1: still running, the daemon). */
export async function runCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (rest.includes("-h") || rest.includes("--help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command "${name}"`);
  return command(rest);
}
