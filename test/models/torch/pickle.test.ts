import { describe, expect, it } from "vitest";
import { PickleError } from "../../../src/models/errors.js";
import { PyGlobal, PyObject, unpickle } from "../../../src/models/torch/pickle.js";

// Produced by CPython 3.11 pickle.dumps of
//   {'int': 1, 'neg': -5, 'big': 2**70, 'negbig': -(2**40), 'float': 1.5, 'str': 'héllo', 'bytes': b'\x00\x01',
//    'none': None, 't': True, 'f': False, 'list': [1, 2, 3], 'tuple': (1, 'a'), 'nested': {3: [(), (4,)]},
//    'od': OrderedDict([('x', 1)])}
const proto2 =
  "80027d7100285803000000696e7471014b0158030000006e656771024afbffffff580300000062696771038a0900000000000000004058060000006e656762696771048a060000000000ff5805000000666c6f61747105473ff800000000000058030000007374727106580600000068c3a96c6c6f7107580500000062797465737108635f636f646563730a656e636f64650a710958020000000001710a58060000006c6174696e31710b86710c52710d58040000006e6f6e65710e4e580100000074710f8858010000006671108958040000006c69737471115d7112284b014b024b036558050000007475706c6571134b01580100000061711486711558060000006e657374656471167d71174b035d711828294b04857119657358020000006f64711a63636f6c6c656374696f6e730a4f726465726564446963740a711b2952711c580100000078711d4b0173752e";
const proto4 =
  "800495de000000000000007d94288c03696e74944b018c036e6567944afbffffff8c03626967948a090000000000000000408c066e6567626967948a060000000000ff8c05666c6f617494473ff80000000000008c03737472948c0668c3a96c6c6f948c0562797465739443020001948c046e6f6e65944e8c017494888c016694898c046c697374945d94284b014b024b03658c057475706c65944b018c01619486948c066e6573746564947d944b035d9428294b04859465738c026f64948c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952948c0178944b0173752e";

describe("unpickle", () => {
  it.each([
    ["protocol 2", proto2],
    ["protocol 4", proto4],
  ])("decodes Python values from %s", (_label, hex) => {
    const data = Buffer.from(hex, "hex");
    const { value, end } = unpickle(data);
    expect(end).toBe(data.length);
    expect(value).toBeInstanceOf(Map);
    const m = value as Map<string, unknown>;
    expect(m.get("int")).toBe(1);
    expect(m.get("neg")).toBe(-5);
    expect(m.get("big")).toBe(2n ** 70n);
    expect(m.get("negbig")).toBe(-(2 ** 40));
    expect(m.get("float")).toBe(1.5);
    expect(m.get("str")).toBe("héllo");
    expect(Buffer.from(m.get("bytes") as Uint8Array).equals(Buffer.from([0, 1]))).toBe(true);
    expect(m.get("none")).toBeNull();
    expect(m.get("t")).toBe(true);
    expect(m.get("f")).toBe(false);
    expect(m.get("list")).toEqual([1, 2, 3]);
    expect(m.get("tuple")).toEqual([1, "a"]);
    expect((m.get("nested") as Map<number, unknown>).get(3)).toEqual([[], [4]]);
    expect([...(m.get("od") as Map<string, number>)]).toEqual([["x", 1]]);
  });

  it("keeps unknown globals as inert data instead of running anything", () => {
    // pickle.dumps(os.system, 2) style: GLOBAL 'os system' + REDUCE(('echo hi',))
    const data = Buffer.concat([
      Buffer.from([0x80, 0x02]),
      Buffer.from("cos\nsystem\n", "latin1"),
      Buffer.from([0x58, 7, 0, 0, 0]),
      Buffer.from("echo hi"),
      Buffer.from([0x85, 0x52, 0x2e]),
    ]);
    const { value } = unpickle(data);
    expect(value).toBeInstanceOf(PyObject);
    expect((value as PyObject).cls).toEqual(new PyGlobal("os", "system"));
    expect((value as PyObject).args).toEqual(["echo hi"]);
  });

  it("fails clearly on truncated data and unknown opcodes", () => {
    const data = Buffer.from(proto2, "hex");
    expect(() => unpickle(data.subarray(0, 50), 0, {}, "cut.pkl")).toThrow(PickleError);
    expect(() => unpickle(data.subarray(0, 50), 0, {}, "cut.pkl")).toThrow(/cut.pkl: unexpected end of data/);
    expect(() => unpickle(Buffer.from([0x80, 0x02, 0xff]), 0, {}, "x")).toThrow(
      /x: unsupported or invalid opcode 0xff \(at byte 2\)/,
    );
    expect(() => unpickle(Buffer.from([0x80, 0x02, 0x51]), 0, {}, "x")).toThrow(/stack underflow|persistent/);
  });
});
