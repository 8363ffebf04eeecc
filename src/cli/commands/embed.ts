import { readFile } from "node:fs/promises";
import { parseCommandArgs } from "../args.js";
import { cliConfig, cliLogger, createModelStack, withStarted } from "../context.js";
import { aboutFile, UsageError } from "../errors.js";

export async function embedCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    json: { type: "boolean" },
    "no-trim": { type: "boolean" },
  });
  if (positionals.length !== 1) throw new UsageError("embed takes exactly one WAV file");
  const config = await cliConfig(values);
  const stack = await createModelStack(config, cliLogger(config));
  const bytes = await readWavFile(positionals[0]);
  const vp = await withStarted([stack], () =>
    aboutFile(positionals[0], () => stack.extractor.fromWav(bytes, { trim: !values["no-trim"] })),
  );
  const result = {
    model: vp.modelId,
    dim: vp.embedding.length,
    embedding: Array.from(vp.embedding, (x) => Number(x.toFixed(7))),
    speechSeconds: Number(vp.speechSeconds.toFixed(3)),
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(
      `model ${result.model}, ${result.dim} dimensions, ${result.speechSeconds} s of speech\n` +
        `${result.embedding.map((x) => x.toFixed(4)).join(" ")}\n`,
    );
  }
  return 0;
}

/** Reads a file named on the command line, with a one-line reason when it cannot. */
export async function readWavFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === "ENOENT" ? `${path}: no such file` : `${path}: ${(err as Error).message}`);
  }
}
