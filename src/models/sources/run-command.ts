import { execFile } from "node:child_process";
import { SourceUnavailableError } from "../errors.js";

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/**
 * Run a registry client (pip, npm) without a shell. Failures become SourceUnavailableError carrying
 * the tail of stderr, which is where both tools explain what went wrong.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; display?: string },
): Promise<CommandResult> {
  const shown = options.display ?? [command, ...args].join(" ");
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 10 * 60_000,
        maxBuffer: 16 * 1024 * 1024,
        env: options.env ?? process.env,
      },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ stdout, stderr });
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
        if (e.code === "ENOENT")
          reject(new SourceUnavailableError(`${command} is not installed or not on PATH`));
        else if (e.killed) reject(new SourceUnavailableError(`\`${shown}\` timed out`));
        else {
          const tail = lastLines(stderr.trim() !== "" ? stderr : stdout, 4);
          reject(
            new SourceUnavailableError(
              `\`${shown}\` failed (exit ${String(e.code)})${tail !== "" ? `: ${tail}` : ""}`,
            ),
          );
        }
      },
    );
  });
}

/** The lines that explain a failure: error lines if the tool marked any, else the last few lines. */
function lastLines(text: string, n: number): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^npm (warn|error) A complete log/i.test(l));
  const errors = lines.filter((l) => /^(npm )?error\b/i.test(l));
  return (errors.length > 0 ? errors : lines).slice(-n).join(" | ");
}
