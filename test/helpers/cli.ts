import { spawn } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./paths.js";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `voiceid` entry point in a child process, as a user would, on `dataDir`. */
export function runVoiceid(dataDir: string, ...args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(repoRoot, "src/cli/main.ts"), ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, VOICEID_DATA_DIR: dataDir, VOICEID_CONFIG: "" },
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
