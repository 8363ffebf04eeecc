import { endianness } from "node:os";
import { readZip } from "../archives.js";
import { TorchCheckpointError } from "../errors.js";
import { PyGlobal, unpickle } from "./pickle.js";

export type TorchDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

const storageTypes: Record<string, { dtype: TorchDType; elementSize: number }> = {
  FloatStorage: { dtype: "float32", elementSize: 4 },
  DoubleStorage: { dtype: "float64", elementSize: 8 },
  HalfStorage: { dtype: "float16", elementSize: 2 },
  BFloat16Storage: { dtype: "bfloat16", elementSize: 2 },
  LongStorage: { dtype: "int64", elementSize: 8 },
  IntStorage: { dtype: "int32", elementSize: 4 },
  ShortStorage: { dtype: "int16", elementSize: 2 },
  CharStorage: { dtype: "int8", elementSize: 1 },
  ByteStorage: { dtype: "uint8", elementSize: 1 },
  BoolStorage: { dtype: "bool", elementSize: 1 },
};

/** A torch storage: a flat typed buffer that tensors view. `data` is filled once its bytes are read. */
export class TorchStorage {
  data: Buffer | undefined = undefined;
  constructor(
    readonly key: string,
    readonly dtype: TorchDType,
    readonly elementSize: number,
    readonly numel: number,
    readonly location: string,
  ) {}
}

/** A strided view into a storage, as rebuilt by torch._utils._rebuild_tensor_v2. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get dtype(): TorchDType {
    return this.storage.dtype;
  }

  /** Row-major float32 copy of the tensor's elements (float32 and float64 storages). */
  toFloat32(): Float32Array {
    const { storage, shape, stride, storageOffset } = this;
    const where = `tensor on storage "${storage.key}"`;
    if (storage.data === undefined)
      throw new TorchCheckpointError(`${where}: storage bytes were never loaded`);
    if (storage.dtype !== "float32" && storage.dtype !== "float64")
      throw new TorchCheckpointError(`${where}: dtype ${storage.dtype} cannot be read as float32`);
    if (endianness() !== "LE")
      throw new TorchCheckpointError("reading torch checkpoints needs a little-endian CPU");
    const n = this.numel;
    const out = new Float32Array(n);
    if (n === 0) return out;
    let maxIndex = storageOffset;
    for (let d = 0; d < shape.length; d++) maxIndex += (shape[d] - 1) * stride[d];
    if (
      storageOffset < 0 ||
      maxIndex >= storage.numel ||
      storage.data.length / storage.elementSize < storage.numel
    )
      throw new TorchCheckpointError(
        `${where}: view (offset ${storageOffset}, shape [${shape}], stride [${stride}]) exceeds the storage's ${storage.numel} elements`,
      );
    const data = storage.data;
    if (storage.dtype === "float32" && isRowMajor(shape, stride)) {
      // Fast path: one copy into an aligned buffer.
      data.copy(Buffer.from(out.buffer), 0, storageOffset * 4, (storageOffset + n) * 4);
      return out;
    }
    const read =
      storage.dtype === "float32"
        ? (i: number) => data.readFloatLE(i * 4)
        : (i: number) => data.readDoubleLE(i * 8);
    // Walk the index space in row-major order; `idx` holds the multi-index, `pos` the storage element.
    const idx = new Array<number>(shape.length).fill(0);
    let pos = storageOffset;
    for (let k = 0; k < n; k++) {
      out[k] = read(pos);
      for (let d = shape.length - 1; d >= 0; d--) {
        idx[d]++;
        pos += stride[d];
        if (idx[d] < shape[d]) break;
        pos -= stride[d] * shape[d];
        idx[d] = 0;
      }
    }
    return out;
  }
}

function isRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

interface StorageRef {
  storage: TorchStorage;
  /** Element offset of a legacy storage view into its root storage. */
  offset: number;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/**
 * Load a PyTorch checkpoint written by torch.save, in either the legacy format (a sequence of
 * pickles followed by raw storages) or the zip format (archive/data.pkl + archive/data/<key>).
 * Returns the unpickled top-level object; tensors appear as TorchTensor. Nothing is executed.
 */
export function loadTorchCheckpoint(data: Uint8Array, label = "checkpoint"): unknown {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length >= 4 && buf.readUInt32LE(0) === 0x04034b50) return loadZipCheckpoint(buf, label);
  if (buf.length >= 3 && buf[0] === 0x80 && buf[2] === 0x8a) return loadLegacyCheckpoint(buf, label);
  if (buf.length >= 262 && buf.toString("latin1", 257, 262) === "ustar")
    throw new TorchCheckpointError(`${label}: the pre-0.4 tar checkpoint format is not supported`);
  throw new TorchCheckpointError(`${label}: not a PyTorch checkpoint (neither zip nor legacy pickle format)`);
}

function storageFromPid(
  pid: unknown,
  label: string,
): { type: PyGlobal; key: string; location: string; numel: number; view: unknown } {
  if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5)
    throw new TorchCheckpointError(`${label}: unexpected persistent id ${JSON.stringify(String(pid))}`);
  const [, type, key, location, numel, view] = pid;
  if (!(type instanceof PyGlobal) || typeof key !== "string" || typeof numel !== "number")
    throw new TorchCheckpointError(`${label}: malformed storage persistent id for key ${String(key)}`);
  return { type, key, location: String(location), numel, view };
}

function storageType(type: PyGlobal, label: string): { dtype: TorchDType; elementSize: number } {
  const t = type.module === "torch" ? storageTypes[type.name] : undefined;
  if (t === undefined)
    throw new TorchCheckpointError(`${label}: unsupported storage type ${type.qualifiedName}`);
  return t;
}

/** REDUCE of the torch globals that build tensors; undefined lets the pickle VM use its defaults. */
function rebuildTensors(label: string): (fn: PyGlobal, args: readonly unknown[]) => unknown {
  return (fn, args) => {
    if (fn.module !== "torch._utils") return undefined;
    if (fn.name === "_rebuild_tensor_v2" || fn.name === "_rebuild_tensor") {
      const [ref, offset, size, stride] = args as [StorageRef, unknown, unknown, unknown];
      if (
        ref === null ||
        typeof ref !== "object" ||
        !(ref.storage instanceof TorchStorage) ||
        typeof offset !== "number" ||
        !isIntArray(size) ||
        !isIntArray(stride) ||
        size.length !== stride.length
      )
        throw new TorchCheckpointError(`${label}: malformed ${fn.name} arguments`);
      return new TorchTensor(ref.storage, ref.offset + offset, size, stride);
    }
    // nn.Parameter(tensor): the tensor is all we need.
    if (fn.name === "_rebuild_parameter" || fn.name === "_rebuild_parameter_with_state") return args[0];
    return undefined;
  };
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x));
}

function loadLegacyCheckpoint(buf: Buffer, label: string): unknown {
  const magic = unpickle(buf, 0, {}, `${label} (magic number)`);
  if (magic.value !== LEGACY_MAGIC && magic.value !== Number(LEGACY_MAGIC))
    throw new TorchCheckpointError(`${label}: bad magic number; not a legacy torch checkpoint`);
  const proto = unpickle(buf, magic.end, {}, `${label} (protocol version)`);
  if (proto.value !== 1001)
    throw new TorchCheckpointError(`${label}: unsupported legacy protocol version ${String(proto.value)}`);
  const sys = unpickle(buf, proto.end, {}, `${label} (sys info)`);
  if (!(sys.value instanceof Map) || sys.value.get("little_endian") !== true)
    throw new TorchCheckpointError(`${label}: only little-endian checkpoints are supported`);

  const storages = new Map<string, TorchStorage>();
  const main = unpickle(
    buf,
    sys.end,
    {
      persistentLoad: (pid) => {
        const s = storageFromPid(pid, label);
        const { dtype, elementSize } = storageType(s.type, label);
        let root = storages.get(s.key);
        if (root === undefined) {
          root = new TorchStorage(s.key, dtype, elementSize, s.numel, s.location);
          storages.set(s.key, root);
        }
        // view_metadata = (view_key, offset, view_size): a view into the root storage.
        if (Array.isArray(s.view) && typeof s.view[1] === "number")
          return { storage: root, offset: s.view[1] } satisfies StorageRef;
        return { storage: root, offset: 0 } satisfies StorageRef;
      },
      call: rebuildTensors(label),
    },
    `${label} (main pickle)`,
  );
  const keys = unpickle(buf, main.end, {}, `${label} (storage keys)`);
  if (!Array.isArray(keys.value)) throw new TorchCheckpointError(`${label}: storage key list is missing`);
  let p = keys.end;
  for (const key of keys.value as unknown[]) {
    const storage = storages.get(String(key));
    if (storage === undefined)
      throw new TorchCheckpointError(`${label}: storage ${String(key)} is listed but never used`);
    if (p + 8 > buf.length)
      throw new TorchCheckpointError(`${label}: truncated before storage ${storage.key}`);
    const numel = Number(buf.readBigInt64LE(p));
    p += 8;
    const bytes = numel * storage.elementSize;
    if (numel !== storage.numel || p + bytes > buf.length)
      throw new TorchCheckpointError(
        `${label}: storage ${storage.key} is truncated or has ${numel} elements, expected ${storage.numel}`,
      );
    storage.data = buf.subarray(p, p + bytes);
    p += bytes;
  }
  return main.value;
}

function loadZipCheckpoint(buf: Buffer, label: string): unknown {
  const zip = readZip(buf, label);
  const pkl = [...zip.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl === undefined)
    throw new TorchCheckpointError(`${label}: zip has no <archive>/data.pkl; not a torch checkpoint`);
  const prefix = pkl.slice(0, -"data.pkl".length);
  const byteorder = zip.get(`${prefix}byteorder`);
  if (byteorder !== undefined && byteorder.toString("latin1") !== "little")
    throw new TorchCheckpointError(`${label}: only little-endian checkpoints are supported`);
  const storages = new Map<string, TorchStorage>();
  const result = unpickle(
    zip.get(pkl)!,
    0,
    {
      persistentLoad: (pid) => {
        const s = storageFromPid(pid, label);
        const { dtype, elementSize } = storageType(s.type, label);
        let storage = storages.get(s.key);
        if (storage === undefined) {
          storage = new TorchStorage(s.key, dtype, elementSize, s.numel, s.location);
          const name = `${prefix}data/${s.key}`;
          const data = zip.get(name);
          if (data === undefined) throw new TorchCheckpointError(`${label}: storage file ${name} is missing`);
          storage.data = data;
          if (storage.data.length < s.numel * elementSize)
            throw new TorchCheckpointError(
              `${label}: storage ${name} has ${storage.data.length} bytes, needs ${s.numel * elementSize}`,
            );
          storages.set(s.key, storage);
        }
        return { storage, offset: 0 } satisfies StorageRef;
      },
      call: rebuildTensors(label),
    },
    `${label} (${pkl})`,
  );
  return result.value;
}

/**
 * The tensors of a checkpoint's state dict: the object under "model_state" (Resemblyzer),
 * "state_dict" or "model", or the checkpoint itself when it maps names to tensors.
 */
export function stateDict(checkpoint: unknown, label = "checkpoint"): Map<string, TorchTensor> {
  const candidates: unknown[] = [checkpoint];
  if (checkpoint instanceof Map)
    for (const k of ["model_state", "state_dict", "model"])
      if (checkpoint.has(k)) candidates.unshift(checkpoint.get(k));
  for (const c of candidates) {
    if (!(c instanceof Map)) continue;
    const out = new Map<string, TorchTensor>();
    for (const [k, v] of c) if (typeof k === "string" && v instanceof TorchTensor) out.set(k, v);
    if (out.size > 0) return out;
  }
  throw new TorchCheckpointError(`${label}: no state dict of tensors found`);
}
