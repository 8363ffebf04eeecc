import { PickleError } from "../errors.js";

/** A reference to a Python global (module.name) as written by GLOBAL / STACK_GLOBAL. Never executed. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** The result of "calling" a global we do not model: class, arguments and BUILD state, kept as data. */
export class PyObject {
  state: unknown = undefined;
  constructor(
    readonly cls: PyGlobal,
    readonly args: readonly unknown[],
  ) {}
}

export interface PickleHooks {
  /** Resolves BINPERSID / PERSID ids (torch uses them for storages). */
  persistentLoad?(pid: unknown): unknown;
  /**
   * Handles REDUCE / NEWOBJ of a global. Return `undefined` to fall back to the defaults:
   * collections.OrderedDict -> Map, builtins.set -> Set, _codecs.encode(s, "latin1") -> Buffer,
   * anything else -> PyObject.
   */
  call?(fn: PyGlobal, args: readonly unknown[]): unknown;
}

export interface PickleResult {
  value: unknown;
  /** Offset just past the STOP opcode: where the next pickle (if any) starts. */
  end: number;
}

/**
 * A small pickle VM (protocols 0-5 opcodes that data pickles use, nothing that runs code).
 * Python values map to: None -> null, bool, int -> number (bigint beyond 2^53), float -> number,
 * str -> string, bytes -> Buffer, list/tuple -> array, dict -> Map, set -> Set, other objects -> PyObject.
 */
export function unpickle(
  data: Uint8Array,
  offset = 0,
  hooks: PickleHooks = {},
  label = "pickle",
): PickleResult {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let p = offset;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const fail = (msg: string): never => {
    throw new PickleError(`${label}: ${msg} (at byte ${p})`);
  };
  const need = (n: number): void => {
    if (p + n > buf.length) fail(`unexpected end of data (needed ${n} more bytes)`);
  };
  const u8 = (): number => {
    need(1);
    return buf[p++];
  };
  const u16 = (): number => {
    need(2);
    const v = buf.readUInt16LE(p);
    p += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = buf.readUInt32LE(p);
    p += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = buf.readInt32LE(p);
    p += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = buf.readBigUInt64LE(p);
    p += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is too large`);
    return Number(v);
  };
  const bytes = (n: number): Buffer => {
    need(n);
    const v = buf.subarray(p, p + n);
    p += n;
    return v;
  };
  const line = (): string => {
    const nl = buf.indexOf(0x0a, p);
    if (nl < 0) fail("unterminated text argument");
    const s = buf.toString("latin1", p, nl);
    p = nl + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]))
      fail("stack underflow");
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail("stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail("no MARK on the stack");
    return stack.splice(m as number);
  };
  const asMap = (v: unknown, op: string): Map<unknown, unknown> => {
    if (!(v instanceof Map)) fail(`${op} target is not a dict`);
    return v as Map<unknown, unknown>;
  };
  const asList = (v: unknown, op: string): unknown[] => {
    if (!Array.isArray(v)) fail(`${op} target is not a list`);
    return v as unknown[];
  };
  const callGlobal = (fn: unknown, args: unknown, op: string): unknown => {
    if (!(fn instanceof PyGlobal)) return fail(`${op} of something that is not a global`);
    if (!Array.isArray(args)) return fail(`${op} arguments are not a tuple`);
    const custom = hooks.call?.(fn, args);
    if (custom !== undefined) return custom;
    const q = fn.qualifiedName;
    if (q === "collections.OrderedDict" || q === "builtins.dict" || q === "__builtin__.dict") {
      const m = new Map<unknown, unknown>();
      // OrderedDict(items) / dict(items): items as a list of pairs. Usually args are empty and SETITEMS follow.
      if (Array.isArray(args[0])) for (const kv of args[0]) if (Array.isArray(kv)) m.set(kv[0], kv[1]);
      return m;
    }
    if (q === "builtins.set" || q === "__builtin__.set")
      return new Set(Array.isArray(args[0]) ? args[0] : []);
    // Protocol-2 pickles spell bytes as _codecs.encode(str, "latin1").
    if (
      q === "_codecs.encode" &&
      typeof args[0] === "string" &&
      (args[1] === "latin1" || args[1] === "latin-1")
    )
      return Buffer.from(args[0], "latin1");
    return new PyObject(fn, args);
  };
  const signedLE = (b: Buffer): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const opAt = p;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail("unsupported pickle protocol");
        break;
      case 0x95: // FRAME: framing is only a read-ahead hint
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) fail(`STOP with ${stack.length} values on the stack`);
        return { value: stack[0], end: p };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(signedLE(bytes(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(signedLE(bytes(u32())));
        break;
      case 0x49: {
        // INT (protocol 0): "I01\n" / "I00\n" are booleans
        const s = line();
        if (s === "01" || s === "00") stack.push(s === "01");
        else {
          const n = Number.parseInt(s, 10);
          if (!Number.isFinite(n)) fail(`bad INT "${s}"`);
          stack.push(n);
        }
        break;
      }
      case 0x4c: {
        // LONG (protocol 0)
        const s = line().replace(/L$/, "");
        if (!/^-?\d+$/.test(s)) fail(`bad LONG "${s}"`);
        const v = BigInt(s);
        stack.push(
          v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v,
        );
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(buf.readDoubleBE(p));
        p += 8;
        break;
      case 0x46: // FLOAT (protocol 0)
        stack.push(Number.parseFloat(line()));
        break;
      case 0x58: // BINUNICODE
        stack.push(bytes(u32()).toString("utf8"));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(bytes(u8()).toString("utf8"));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(bytes(u64()).toString("utf8"));
        break;
      case 0x54: // BINSTRING (py2 str)
        stack.push(bytes(i32()).toString("latin1"));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(bytes(u8()).toString("latin1"));
        break;
      case 0x42: // BINBYTES
        stack.push(Buffer.from(bytes(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(Buffer.from(bytes(u8())));
        break;
      case 0x8e: // BINBYTES8
        stack.push(Buffer.from(bytes(u64())));
        break;
      case 0x96: // BYTEARRAY8
        stack.push(Buffer.from(bytes(u64())));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        asList(top(), "APPEND").push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        asList(top(), "APPENDS").push(...items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const m = new Map<unknown, unknown>();
        for (let i = 0; i + 1 < items.length; i += 2) m.set(items[i], items[i + 1]);
        stack.push(m);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        asMap(top(), "SETITEM").set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) fail("SETITEMS with an odd number of values");
        const m = asMap(top(), "SETITEMS");
        for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail("ADDITEMS target is not a set");
        for (const it of items) (s as Set<unknown>).add(it);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(new PyGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(new PyGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(callGlobal(fn, args, "REDUCE"));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(callGlobal(cls, args, "NEWOBJ"));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        // Other targets (e.g. OrderedDict carrying torch's `_metadata`) keep only their items: the
        // attributes are bookkeeping we do not need.
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (hooks.persistentLoad === undefined) fail("persistent id found but no persistent_load given");
        stack.push(hooks.persistentLoad!(pid));
        break;
      }
      case 0x50: {
        // PERSID (text)
        const pid = line();
        if (hooks.persistentLoad === undefined) fail("persistent id found but no persistent_load given");
        stack.push(hooks.persistentLoad!(pid));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT (text)
        memo.set(Number.parseInt(line(), 10), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: {
        // GET (text)
        const idx = op === 0x68 ? u8() : op === 0x6a ? u32() : Number.parseInt(line(), 10);
        if (!memo.has(idx)) fail(`memo key ${idx} is not defined`);
        stack.push(memo.get(idx));
        break;
      }
      default:
        p = opAt;
        fail(`unsupported or invalid opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}
