/** npm run build: the command line and daemon bundled into dist/ (see scripts/bundle.ts). */
import { BundleError, buildCli } from "./bundle.js";

try {
  await buildCli();
} catch (err) {
  if (!(err instanceof BundleError)) throw err;
  process.stderr.write(`build: ${err.message}\n`);
  process.exitCode = 1;
}
