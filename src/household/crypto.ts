import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";

/**
 * Household messages are sealed with AES-256-GCM under the household key: a broker other apps share can
 * neither read voiceprints nor inject or alter a record. The topic is authenticated data, so a sealed record
 * cannot be moved to another person's topic.
 *
 * Layout: "vh" | version 1 | key id (8 bytes) | IV (12) | tag (16) | ciphertext.
 */

const MAGIC = Buffer.from("vh\u0001", "latin1");
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

export class HouseholdKeyError extends Error {
  override name = "HouseholdKeyError";
}

/** Why a message was refused; counted, never applied. */
export class SealError extends Error {
  override name = "SealError";
}

export interface HouseholdKey {
  bytes: Buffer;
  /** First 8 bytes of SHA-256 over the key, in hex: says which key sealed a message, reveals nothing. */
  id: string;
}

/** 32 random bytes as 64 hex digits: what `voiceid household key` prints. */
export function newHouseholdKey(): string {
  return randomBytes(32).toString("hex");
}

export function parseHouseholdKey(text: string, where: string): HouseholdKey {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new HouseholdKeyError(
      `${where} must be 64 hex digits (32 bytes); make one with \`voiceid household key\``,
    );
  }
  const bytes = Buffer.from(hex, "hex");
  return {
    bytes,
    id: createHash("sha256")
      .update(bytes)
      .digest("hex")
      .slice(0, KEY_ID_BYTES * 2),
  };
}

/** The key from household.key, or read from household.keyFile. */
export async function loadHouseholdKey(config: { key?: string; keyFile?: string }): Promise<HouseholdKey> {
  if (config.key !== undefined) return parseHouseholdKey(config.key, "household.key");
  if (config.keyFile === undefined)
    throw new HouseholdKeyError("household.share needs household.key or household.keyFile");
  let text: string;
  try {
    text = await readFile(config.keyFile, "utf8");
  } catch (err) {
    throw new HouseholdKeyError(
      `cannot read household.keyFile "${config.keyFile}": ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return parseHouseholdKey(text, `household.keyFile "${config.keyFile}"`);
}

export function seal(key: HouseholdKey, topic: string, plaintext: Uint8Array): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.bytes, iv);
  cipher.setAAD(Buffer.from(topic, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([MAGIC, Buffer.from(key.id, "hex"), iv, cipher.getAuthTag(), body]);
}

/** The plaintext, or SealError for anything not sealed by this key for this topic. */
export function open(key: HouseholdKey, topic: string, payload: Uint8Array): Buffer {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (buf.length < HEADER_BYTES || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new SealError("not a sealed household message");
  }
  const ivAt = MAGIC.length + KEY_ID_BYTES;
  const keyId = buf.subarray(MAGIC.length, ivAt).toString("hex");
  if (keyId !== key.id) throw new SealError(`sealed with another key (id ${keyId})`);
  const iv = buf.subarray(ivAt, ivAt + IV_BYTES);
  const tag = buf.subarray(ivAt + IV_BYTES, HEADER_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key.bytes, iv);
  decipher.setAAD(Buffer.from(topic, "utf8"));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(buf.subarray(HEADER_BYTES)), decipher.final()]);
  } catch {
    throw new SealError("authentication failed");
  }
}
