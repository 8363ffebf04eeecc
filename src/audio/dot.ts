/**
 * Dot products for the resampler's FIR filter, the one hot loop that JavaScript cannot vectorise.
 * A 150-byte WebAssembly SIMD kernel (f32x4, two accumulators) does ~4x the work per cycle of
 * the scalar JS loop; where WebAssembly SIMD is unavailable, the same API runs in plain JS.
 *
 * A workspace holds two float32 regions in one memory: a coefficient table and a signal buffer.
 */

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

const SIMD = 0xfd;
const V128_LOAD = (offset: number): number[] => [SIMD, 0x00, 0x00, ...uleb(offset)];
const F32X4_ADD = [SIMD, ...uleb(0xe4)];
const F32X4_MUL = [SIMD, ...uleb(0xe6)];
const EXTRACT = (lane: number): number[] => [SIMD, 0x1f, lane];
const GET = (i: number): number[] => [0x20, i];
const SET = (i: number): number[] => [0x21, i];

/*
 * (func (export "dot") (param $a i32) (param $b i32) (param $n i32) (result f32)
 *   (local $s0 v128) (local $s1 v128)
 *   block  local.get $n  i32.eqz  br_if 0
 *     loop   ;; 8 floats per turn, $n a multiple of 8
 *       $s0 += load($a) * load($b);  $s1 += load($a+16) * load($b+16)
 *       $a += 32; $b += 32; $n -= 8; br_if 0 ($n != 0)
 *     end
 *   end
 *   $s0 += $s1;  return (s0[0] + s0[1]) + (s0[2] + s0[3]))
 * Memory is imported as env.mem.
 */
function dotModuleBytes(): Uint8Array {
  const code = [
    ...[0x01, 0x02, 0x7b], // locals: 2 × v128
    ...[0x02, 0x40, ...GET(2), 0x45, 0x0d, 0x00], // block; if n == 0 skip
    ...[0x03, 0x40], // loop
    ...GET(3),
    ...GET(0),
    ...V128_LOAD(0),
    ...GET(1),
    ...V128_LOAD(0),
    ...F32X4_MUL,
    ...F32X4_ADD,
    ...SET(3),
    ...GET(4),
    ...GET(0),
    ...V128_LOAD(16),
    ...GET(1),
    ...V128_LOAD(16),
    ...F32X4_MUL,
    ...F32X4_ADD,
    ...SET(4),
    ...[...GET(0), 0x41, 32, 0x6a, ...SET(0)], // a += 32
    ...[...GET(1), 0x41, 32, 0x6a, ...SET(1)], // b += 32
    ...[...GET(2), 0x41, 8, 0x6b, 0x22, 2], // n -= 8 (tee)
    ...[0x0d, 0x00, 0x0b, 0x0b], // br_if loop; end loop; end block
    ...[...GET(3), ...GET(4), ...F32X4_ADD, ...SET(3)],
    ...[...GET(3), ...EXTRACT(0), ...GET(3), ...EXTRACT(1), 0x92],
    ...[...GET(3), ...EXTRACT(2), ...GET(3), ...EXTRACT(3), 0x92, 0x92],
    0x0b,
  ];
  const text = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7d]), // type (i32,i32,i32)->f32
    ...section(2, [0x01, ...text("env"), ...text("mem"), 0x02, 0x00, 0x01]), // import memory, min 1 page
    ...section(3, [0x01, 0x00]),
    ...section(7, [0x01, ...text("dot"), 0x00, 0x00]),
    ...section(10, [0x01, ...uleb(code.length), ...code]),
  ]);
}

/** The slice of the WebAssembly JS API used here (lib "dom" is not in this project's tsconfig). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let dotModule: object | null | undefined;

function simdModule(): object | null {
  if (dotModule === undefined) {
    try {
      const bytes = dotModuleBytes();
      dotModule = wasm?.validate(bytes) ? new wasm.Module(bytes) : null;
    } catch {
      dotModule = null; // no WebAssembly, or no SIMD in this engine: use the JS loop
    }
  }
  return dotModule ?? null;
}

/** True when this engine runs the WebAssembly SIMD kernel. */
export function simdAvailable(): boolean {
  return simdModule() !== null;
}

export interface DotWorkspace {
  readonly simd: boolean;
  /** Coefficient region (fixed size). */
  readonly table: Float32Array;
  /** Signal region; re-read after ensureSignalCapacity, which may replace it (contents kept). */
  readonly signal: Float32Array;
  ensureSignalCapacity(n: number): void;
  /** Σ table[t + i] · signal[s + i] for i < n; n must be a multiple of 8. */
  dot(t: number, s: number, n: number): number;
}

const PAGE = 65536;

class WasmDotWorkspace implements DotWorkspace {
  readonly simd = true;
  table: Float32Array;
  signal: Float32Array;
  private readonly memory: WasmMemory;
  private readonly kernel: (a: number, b: number, n: number) => number;
  private readonly tableLength: number;
  private readonly signalByteOffset: number;

  constructor(api: WasmApi, module: object, tableLength: number, signalCapacity: number) {
    this.tableLength = tableLength;
    // Signal starts 16-byte aligned after the table.
    this.signalByteOffset = Math.ceil((tableLength * 4) / 16) * 16;
    const bytes = this.signalByteOffset + signalCapacity * 4;
    this.memory = new api.Memory({ initial: Math.max(1, Math.ceil(bytes / PAGE)) });
    const instance = new api.Instance(module, { env: { mem: this.memory } });
    this.kernel = instance.exports.dot as (a: number, b: number, n: number) => number;
    this.table = new Float32Array(this.memory.buffer, 0, tableLength);
    this.signal = this.signalView();
  }

  private signalView(): Float32Array {
    const buffer = this.memory.buffer;
    return new Float32Array(buffer, this.signalByteOffset, (buffer.byteLength - this.signalByteOffset) / 4);
  }

  ensureSignalCapacity(n: number): void {
    if (n <= this.signal.length) return;
    const needBytes = this.signalByteOffset + n * 4;
    const have = this.memory.buffer.byteLength;
    const pages = Math.ceil(Math.max(needBytes, have * 2) / PAGE) - have / PAGE;
    this.memory.grow(pages);
    this.table = new Float32Array(this.memory.buffer, 0, this.tableLength);
    this.signal = this.signalView();
  }

  dot(t: number, s: number, n: number): number {
    return this.kernel(t * 4, this.signalByteOffset + s * 4, n);
  }
}

class JsDotWorkspace implements DotWorkspace {
  readonly simd = false;
  readonly table: Float32Array;
  signal: Float32Array;

  constructor(tableLength: number, signalCapacity: number) {
    this.table = new Float32Array(tableLength);
    this.signal = new Float32Array(signalCapacity);
  }

  ensureSignalCapacity(n: number): void {
    if (n <= this.signal.length) return;
    const grown = new Float32Array(Math.max(n, this.signal.length * 2));
    grown.set(this.signal);
    this.signal = grown;
  }

  dot(t: number, s: number, n: number): number {
    const a = this.table;
    const b = this.signal;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let i = 0; i < n; i += 4) {
      s0 += a[t + i] * b[s + i];
      s1 += a[t + i + 1] * b[s + i + 1];
      s2 += a[t + i + 2] * b[s + i + 2];
      s3 += a[t + i + 3] * b[s + i + 3];
    }
    return s0 + s1 + (s2 + s3);
  }
}

/** A workspace using WebAssembly SIMD when available (and not disabled), else plain JS. */
export function createDotWorkspace(
  tableLength: number,
  signalCapacity: number,
  useSimd = true,
): DotWorkspace {
  const module = useSimd ? simdModule() : null;
  return module && wasm
    ? new WasmDotWorkspace(wasm, module, tableLength, signalCapacity)
    : new JsDotWorkspace(tableLength, signalCapacity);
}
