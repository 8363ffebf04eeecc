/** One thing wrong with the configuration, located by key path and by where the value came from. */
export interface ConfigProblem {
  /** Key path, e.g. "mqtt.url" or "inputs[1].room"; "" for the file as a whole. */
  path: string;
  message: string;
  /** Where the offending value came from: a file path, an environment variable, "command line". */
  source?: string;
}

/** Invalid configuration. Lists every problem at once, on one line (the CLI prints the first line). */
export class ConfigError extends Error {
  readonly code = "config";
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], context?: string) {
    const items = problems.map(formatProblem);
    const head = `invalid configuration${context ? ` (${context})` : ""}`;
    super(
      items.length === 1 ? `${head}: ${items[0]}` : `${head}, ${items.length} problems: ${items.join("; ")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

function formatProblem(p: ConfigProblem): string {
  const where = p.source ? ` (from ${p.source})` : "";
  return p.path ? `${p.path}: ${p.message}${where}` : `${p.message}${where}`;
}
