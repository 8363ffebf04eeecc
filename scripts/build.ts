/**
 * npm run build: the command line and daemon as a few bundled ES modules (dist/cli/main.js and the
 * chunks it imports on demand), so a command starts by reading a handful of files instead of hundreds
 * (voiceid speakers ~30 % and voiceid identify ~15 % faster: npm run bench:cli). Types are checked by
 * npm run check (tsc); onnxruntime-node (native) and systeminformation stay in node_modules.
 */
import { chmodSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
rmSync(dist, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, "src/cli/main.ts")],
  outbase: path.join(root, "src"),
  outdir: dist,
  bundle: true,
  // Commands import what they need lazily (import()); each lazy part becomes a chunk of its own.
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "bundle",
  external: ["onnxruntime-node", "systeminformation"],
  // Bundled CommonJS packages call require() for Node's own modules.
  banner: {
    js: 'import { createRequire as __voiceidCreateRequire } from "node:module"; const require = __voiceidCreateRequire(import.meta.url);',
  },
  sourcemap: true,
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning",
});
chmodSync(path.join(dist, "cli/main.js"), 0o755);
