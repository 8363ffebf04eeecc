import { buildCli } from "../../scripts/bundle.js";

/**
 * Before any test: the bundle in dist/ rebuilt from this source (about a second), so the tests that
 * run the command line and the daemon as processes run what ships, never a stale build.
 */
export async function setup(): Promise<void> {
  await buildCli();
}
