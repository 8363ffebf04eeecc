import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export interface FileDigest {
  sha256: string;
  size: number;
}

/** sha256 and size of a file, streamed so large models do not sit in memory. */
export async function sha256File(file: string): Promise<FileDigest> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}
