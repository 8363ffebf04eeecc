import type { ModelFileStatus } from "./check.js";
import type { FetchedFile } from "./fetch.js";
import { formatBytes } from "./progress.js";

/** Lines for `voiceid models check`. */
export function formatModelCheck(statuses: readonly ModelFileStatus[]): string[] {
  const lines = statuses.map(checkLine);
  const absent = (s: ModelFileStatus) => s.optional && s.status === "missing";
  const counted = statuses.filter((s) => !absent(s));
  const bad = counted.filter((s) => s.status !== "present").length;
  const optional = [...new Set(statuses.filter(absent).map((s) => s.modelId))];
  const note = optional.length > 0 ? `; not installed (optional): ${optional.join(", ")}` : "";
  lines.push(
    bad === 0
      ? `all ${counted.length} model files present and verified${note}`
      : `${bad} of ${counted.length} model files need \`voiceid models fetch\`${note}`,
  );
  return lines;
}

function checkLine(s: ModelFileStatus): string {
  const id = `${s.modelId}/${s.fileName}`;
  if (s.status === "present")
    return `ok       ${id} (${formatBytes(s.size ?? 0)}, sha256 ${(s.expectedSha256 ?? "").slice(0, 12)}…)`;
  if (s.status === "missing" && s.optional) return `absent   ${id} (optional) -> ${s.path}`;
  if (s.status === "missing")
    return `MISSING  ${id}${s.derived ? " (converted on the device)" : ""} -> ${s.path}`;
  if (s.status === "stale")
    return `STALE    ${id}: not converted from the pinned input by this converter -> ${s.path}`;
  return `CORRUPT  ${id}: sha256 ${s.actualSha256}, expected ${s.expectedSha256} (${s.size} bytes, expected ${s.expectedSize}) -> ${s.path}`;
}

/** Lines for `voiceid models fetch`. */
export function formatFetchReport(files: readonly FetchedFile[]): string[] {
  const verbs = {
    present: "ok (already present)",
    downloaded: "downloaded",
    converted: "converted",
    unavailable: "UNAVAILABLE",
  } as const;
  return files.flatMap((f) => {
    if (f.action === "unavailable")
      return [
        `${f.modelId.padEnd(40)} ${verbs.unavailable}: ${f.reason ?? ""}`,
        `${"".padEnd(40)} ${f.hint ?? ""}`,
      ];
    const from = f.origin !== undefined ? ` from ${f.origin}` : "";
    const replaced = f.replacedCorrupt === true ? " (replaced a corrupt copy)" : "";
    return `${`${f.modelId}/${f.fileName}`.padEnd(40)} ${verbs[f.action]}${from}${replaced}`;
  });
}
