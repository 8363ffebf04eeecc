import { z } from "zod";
import { HOUSEHOLD_NODE_PATTERN } from "../registry/schema.js";
import { type PersonRecord, personRecordSchema } from "./records.js";

/**
 * What travels inside a sealed household message. Voiceprints (float32 from the encoder) go as base64 of
 * their float32 bytes, a third of their JSON text; a vector that float32 cannot hold exactly stays a list.
 */

export type HouseholdMessage =
  | { kind: "person"; from: string; room: string; sentAt: string; record: PersonRecord }
  | { kind: "node"; from: string; room: string; sentAt: string; version: string; people: number };

const sender = {
  from: z.string().regex(HOUSEHOLD_NODE_PATTERN),
  room: z.string().max(256),
  sentAt: z.iso.datetime({ offset: true }),
};

const messageSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("person"), ...sender, record: personRecordSchema }),
  z.strictObject({
    kind: z.literal("node"),
    ...sender,
    version: z.string().max(64),
    people: z.number().int().nonnegative(),
  }),
]);

/** Shorter vectors are not worth the encoding. */
const PACK_MIN_LENGTH = 8;

export function encodeMessage(message: HouseholdMessage): Buffer {
  return Buffer.from(
    JSON.stringify(message, (_key, value: unknown) => {
      if (!Array.isArray(value) || value.length < PACK_MIN_LENGTH) return value;
      if (!value.every((v) => typeof v === "number" && Math.fround(v) === v)) return value;
      return { f32: Buffer.from(Float32Array.from(value).buffer).toString("base64") };
    }),
  );
}

export class WireError extends Error {
  override name = "WireError";
}

/** The message, or WireError for anything that is not one (after authentication: a bug or a bad key holder). */
export function decodeMessage(bytes: Buffer): HouseholdMessage {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"), (_key, value: unknown) => {
      if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
      const packed = (value as { f32?: unknown }).f32;
      if (typeof packed !== "string" || Object.keys(value).length !== 1) return value;
      const raw = Buffer.from(packed, "base64");
      if (raw.length % 4 !== 0) throw new WireError("packed vector is not whole float32 values");
      return Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)));
    });
  } catch (err) {
    throw new WireError(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = messageSchema.safeParse(json);
  if (!parsed.success) throw new WireError(`unexpected shape: ${parsed.error.issues[0]?.message ?? ""}`);
  return parsed.data as HouseholdMessage;
}
