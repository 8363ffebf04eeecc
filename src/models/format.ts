import type { ModelFileStatus } from "./check.js";
import type { FetchedFile } from "./fetch.js";
import { formatBytes } from "./progress.js";

/** Lines for `voiceid models check`. */
export function formatModelCheck(statuses: readonly ModelFileStatus[]): string[] {
  const lines = statuses.map(checkLine);
  const bad = statuses.filter((s) => s.status !== "present").length;
  lines.push(
    bad === 0
      ? `all ${statuses.length} model files present and verified`
      : `${bad} of ${statuses.length} model files need \`voiceid models fetch\``,
  );
  return lines;
}

function checkLine(s: ModelFileStatus): string {
  const id = `${s.modelId}/${s.fileName}`;
  if (s.status === "present")
    return `ok       ${id} (${formatBytes(s.size ?? 0)}, sha256 ${s.expectedSha256.slice(0, 12)}…)`;
  if (s.status === "missing")
    return `MISSING  ${id}${s.derived ? " (converted on the device)" : ""} -> ${s.path}`;
  return `CORRUPT  ${id}: sha256 ${s.actualSha256}, expected ${s.expectedSha256} (${s.size} bytes, expected ${s.expectedSize}) -> ${s.path}`;
}

/** Lines for `voiceid models fetch`. */
export function formatFetchReport(files: readonly FetchedFile[]): string[] {
  const verbs = {
    present: "ok (already present)",
    downloaded: "downloaded",
    converted: "converted",
  } as const;
  return files.map((f) => {
    const from = f.origin !== undefined ? ` from ${f.origin}` : "";
    const replaced = f.replacedCorrupt === true ? " (replaced a corrupt copy)" : "";
    return `${`${f.modelId}/${f.fileName}`.padEnd(40)} ${verbs[f.action]}${from}${replaced}`;
  });
}
