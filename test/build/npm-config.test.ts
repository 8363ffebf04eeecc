import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/paths.js";

const run = promisify(execFile);

/**
 * The project's .npmrc as a user meets it: `npx voiceid` from the checkout prints no npm warning, and a
 * plain `npm install` (no ONNXRUNTIME_NODE_INSTALL in the environment) runs no dependency's install
 * script, so onnxruntime-node does not try to download CUDA binaries.
 */
const env = { ...process.env };
delete env.ONNXRUNTIME_NODE_INSTALL;

describe("the project's npm configuration", () => {
  it("lets `npx voiceid` start without an npm warning", async () => {
    const { stdout, stderr } = await run("npx", ["voiceid", "--help"], { cwd: repoRoot, env });
    expect(stdout).toMatch(/^Usage: voiceid/);
    expect(stderr).toBe("");
  });

  it("keeps onnxruntime-node's install script (the CUDA download) from running", async () => {
    // `npm rebuild` runs install scripts exactly as `npm install` does; with the script run, this fails
    // here (no NuGet) or downloads CUDA binaries (with internet) and prints what it fetches.
    const { stdout, stderr } = await run("npm", ["rebuild", "onnxruntime-node", "--foreground-scripts"], {
      cwd: repoRoot,
      env,
    });
    expect(stdout.trim()).toBe("rebuilt dependencies successfully");
    expect(stderr).toBe("");
  });
});
