import { UsageError } from "../errors.js";
import { USAGE } from "../usage.js";

type Command = (argv: string[]) => Promise<number>;

/**
 * Loaded on demand: a command imports only what it needs (`voiceid speakers` never loads onnxruntime,
 * MQTT or the HTTP server), which is most of a short command's run time.
 */
const commands: Record<string, () => Promise<Command>> = {
  diarize: async () => (await import("./diarize.js")).diarizeCommand,
  embed: async () => (await import("./embed.js")).embedCommand,
  enroll: async () => (await import("./enroll.js")).enrollCommand,
  enrol: async () => (await import("./enroll.js")).enrollCommand,
  identify: async () => (await import("./identify.js")).identifyCommand,
  speakers: async () => (await import("./speakers.js")).speakersCommand,
  voices: async () => (await import("./voices.js")).voicesCommand,
  models: async () => (await import("./models.js")).modelsCommand,
  hardware: async () => (await import("./hardware.js")).hardwareCommand,
  household: async () => (await import("./household.js")).householdCommand,
  run: async () => (await import("./run.js")).runDaemonCommand,
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
  const load = commands[name];
  if (!load) throw new UsageError(`unknown command "${name}"`);
  return (await load())(rest);
}
