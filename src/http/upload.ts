import type { Context } from "hono";
import type { EnrolmentClip } from "../enrolment/enroller.js";
import type { SampleSource } from "../registry/registry.js";
import { quoteInput } from "../util/quote.js";
import { ApiError } from "./errors.js";
import type { UploadIntake } from "./upload-intake.js";

/** Media types that mean "this body is a WAV file". */
export const WAV_MEDIA_TYPES = new Set(["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"]);
const OCTET_STREAM = "application/octet-stream";
const MULTIPART = "multipart/form-data";
/** A part's file name is only a label for messages and feedback: no file system keeps a longer one. */
const MAX_FILE_NAME_CHARS = 255;

const ACCEPTED =
  "send a WAV file (Content-Type audio/wav, or application/octet-stream) or multipart/form-data with WAV files";

function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

/** RIFF (or RF64/RIFX) magic: how an untyped upload proves it is a WAV. */
export function hasRiffMagic(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  return magic === "RIFF" || magic === "RF64" || magic === "RIFX";
}

/**
 * Takes an upload of audio clips: the raw body when it is a WAV, or every file part of a multipart form. The
 * media type is checked before anything is read (415); the body comes in through `intake` (bounded in size,
 * time and memory), and `work` runs on its clips in one of the intake's slots. Rejects with 400 (empty / no
 * files / malformed form) or 415 (an untyped body without RIFF magic). Whether the bytes really decode is for
 * the WAV decoder to say (422).
 */
export async function takeAudioUpload<T>(
  c: Context,
  intake: UploadIntake,
  source: SampleSource,
  work: (clips: EnrolmentClip[]) => Promise<T>,
): Promise<T> {
  const header = c.req.header("content-type");
  const type = mediaTypeOf(header);
  if (type !== MULTIPART && type !== OCTET_STREAM && !WAV_MEDIA_TYPES.has(type)) {
    const got = type === "" ? "no Content-Type" : `Content-Type ${quoteInput(type)}`;
    throw new ApiError(415, "unsupported_media_type", `${got} is not accepted: ${ACCEPTED}`);
  }
  return intake.take(c, async (body) => {
    if (type === MULTIPART) return work(await multipartClips(body, header ?? "", source));
    checkClip(body, type, "request body");
    return work([{ bytes: body, source }]);
  });
}

async function multipartClips(
  body: Uint8Array,
  contentType: string,
  source: SampleSource,
): Promise<EnrolmentClip[]> {
  let form: FormData;
  try {
    form = await new Response(body, { headers: { "Content-Type": contentType } }).formData();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ApiError(400, "invalid_multipart", `could not read the multipart form: ${reason}`);
  }
  const files = [...form.values()].filter((value) => typeof value !== "string");
  if (files.length === 0) {
    throw new ApiError(400, "no_files", "the multipart form has no file parts; attach one or more WAV files");
  }
  const clips: EnrolmentClip[] = [];
  for (const [index, file] of files.entries()) {
    const name = file.name.slice(0, MAX_FILE_NAME_CHARS) || `file ${index + 1}`;
    const type = mediaTypeOf(file.type);
    if (type !== "" && type !== OCTET_STREAM && !WAV_MEDIA_TYPES.has(type)) {
      throw new ApiError(
        415,
        "unsupported_media_type",
        `${quoteInput(name)} is ${quoteInput(type)}: ${ACCEPTED}`,
      );
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    checkClip(bytes, type, quoteInput(name));
    clips.push({ bytes, source, name });
  }
  return clips;
}

function checkClip(bytes: Uint8Array, type: string, what: string): void {
  if (bytes.length === 0) throw new ApiError(400, "empty_body", `${what} is empty; send a WAV file`);
  if (!WAV_MEDIA_TYPES.has(type) && !hasRiffMagic(bytes)) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      `${what} is not a WAV file (no RIFF header): ${ACCEPTED}`,
    );
  }
}
