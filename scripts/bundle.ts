/**
 * The command line and daemon as a few bundled ES modules (dist/cli/main.js and the chunks it imports
 * on demand), so a command starts by reading a handful of files instead of hundreds (voiceid speakers
 * ~30 % and voiceid identify ~15 % faster: npm run bench:cli). Types are checked by npm run check
 * (tsc); onnxruntime-node (native) and systeminformation stay in node_modules.
 *
 * Bundling changes how CommonJS code runs, and two of its failures passed every test of src/ and
 * crashed the shipped build: `import()` of a CommonJS package (only a default export in a chunk), and a
 * package finding its own files through __dirname (undefined in an ES module). The bundle is checked
 * for both before it is written, so such a build fails here instead of on a user's machine.
 */
import { chmodSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile, type OutputFile } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface BundleOptions {
  /** The entry module, e.g. src/cli/main.ts. */
  entryPoint: string;
  /** Source root: the entry's path below it is kept in the output (src/cli/main.ts -> <outdir>/cli/main.js). */
  outbase: string;
  outdir: string;
}

/** A bundle that would break at run time; each problem names the module and what to do. */
export class BundleError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`the bundle would break at run time:\n  - ${problems.join("\n  - ")}`);
    this.name = "BundleError";
  }
}

/**
 * Bundles `entryPoint` into `outdir`, checks the result, then writes it and removes files of earlier
 * builds. Nothing is written when a check fails, and files are replaced in place rather than the folder
 * emptied first, so a daemon running from `outdir` never finds a chunk missing.
 */
export async function bundle(options: BundleOptions): Promise<string[]> {
  const result = await build({
    entryPoints: [options.entryPoint],
    outbase: options.outbase,
    outdir: options.outdir,
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
    metafile: true,
    write: false,
  });
  const problems = [...dynamicImportsOfCommonJs(result.metafile), ...fileRelativeLookups(result.outputFiles)];
  if (problems.length > 0) throw new BundleError(problems);

  const written = new Set<string>();
  for (const file of result.outputFiles) {
    mkdirSync(path.dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.contents);
    written.add(file.path);
  }
  for (const name of readdirSync(options.outdir, { recursive: true, encoding: "utf8" })) {
    const file = path.join(options.outdir, name);
    if (!written.has(file) && statSync(file).isFile()) rmSync(file);
  }
  return [...written];
}

/** `import()` of a bundled CommonJS module: in a chunk it has only a default export, so names are undefined. */
function dynamicImportsOfCommonJs(metafile: Metafile): string[] {
  const problems: string[] = [];
  for (const [importer, input] of Object.entries(metafile.inputs)) {
    for (const imported of input.imports) {
      if (imported.kind !== "dynamic-import" || imported.external) continue;
      if (metafile.inputs[imported.path]?.format !== "cjs") continue;
      problems.push(
        `${importer}: import("${imported.original ?? imported.path}") loads CommonJS (${imported.path}); ` +
          "import it statically in a small module of ours and import() that module instead",
      );
    }
  }
  return problems;
}

/** Free __dirname / __filename, or require() of a computed path: lookups relative to a file that moved. */
const FILE_RELATIVE = /(?<![\w$."'`])(__dirname|__filename)\b|__require\((?!\s*["'`])/g;

function fileRelativeLookups(outputs: readonly OutputFile[]): string[] {
  const problems: string[] = [];
  for (const file of outputs) {
    if (!file.path.endsWith(".js")) continue;
    const text = file.text;
    for (const match of text.matchAll(FILE_RELATIVE)) {
      // esbuild heads each bundled module with a comment naming its source file.
      const heading = [...text.slice(0, match.index).matchAll(/^\/\/ (\S+)$/gm)].at(-1)?.[1] ?? file.path;
      const what = match[1] ?? "require() of a computed path";
      problems.push(
        `${heading}: ${what} looks up files beside the module, which a bundle moves; ` +
          "import the file it looks for directly, or add the package to the bundle's externals",
      );
    }
  }
  return [...new Set(problems)];
}

/** npm run build: src/cli/main.ts -> dist/cli/main.js (executable) and dist/chunks/. */
export async function buildCli(): Promise<void> {
  const dist = path.join(root, "dist");
  await bundle({
    entryPoint: path.join(root, "src/cli/main.ts"),
    outbase: path.join(root, "src"),
    outdir: dist,
  });
  chmodSync(path.join(dist, "cli/main.js"), 0o755);
}
