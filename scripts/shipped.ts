/**
 * The shipped build as users run it: the bundle's entry (npm run build), and the node options and
 * environment the systemd unit gives it. Benchmarks and tests run exactly this.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

/** dist/cli/main.js: what `npx voiceid` and the systemd unit run. */
export function shippedEntry(root: string): string {
  return path.join(root, "dist/cli/main.js");
}

/** The node options between `node` and the script in the unit's ExecStart line. */
export function serviceNodeFlags(root: string): string[] {
  const unit = readFileSync(path.join(root, "systemd/voiceid.service"), "utf8");
  const exec = /^ExecStart=\S*node\s+(.*?)\s*\S*dist\/cli\/main\.js/m.exec(unit);
  return exec?.[1] ? exec[1].split(/\s+/) : [];
}

/** The unit's Environment= settings that shape the process (malloc tuning), not its paths. */
export function serviceEnvironment(root: string): Record<string, string> {
  const unit = readFileSync(path.join(root, "systemd/voiceid.service"), "utf8");
  const env: Record<string, string> = {};
  for (const [, key, value] of unit.matchAll(/^Environment=(MALLOC_[A-Z_]+)=(\S+)$/gm)) env[key] = value;
  return env;
}
