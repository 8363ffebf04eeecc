import type { z } from "zod";

/**
 * Just enough schema introspection for the loader: find the schema at a key path (to type environment
 * strings and to suggest the intended key for a typo). Reads zod v4's public `_zod.def`.
 */

type Node = z.core.$ZodTypes;

/** Strip optional/default/prefault/readonly/nullable wrappers, and a transform (its input is what is written). */
function unwrap(schema: z.core.$ZodType): Node {
  let node = schema as Node;
  for (;;) {
    const def = node._zod.def;
    switch (def.type) {
      case "optional":
      case "default":
      case "prefault":
      case "readonly":
      case "nullable":
      case "nonoptional":
        node = def.innerType as Node;
        break;
      case "pipe":
        node = def.in as Node;
        break;
      default:
        return node;
    }
  }
}

/** Keys of the object schema at `path`, or undefined when it is not an object. */
export function objectKeys(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] | undefined {
  const node = schemaAt(schema, path);
  return node && node._zod.def.type === "object" ? Object.keys(node._zod.def.shape) : undefined;
}

export function schemaAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): Node | undefined {
  let node = unwrap(schema);
  for (const key of path) {
    const def = node._zod.def;
    if (def.type === "array" && typeof key === "number") node = unwrap(def.element);
    else if (def.type !== "object" || typeof key !== "string" || !Object.hasOwn(def.shape, key))
      return undefined;
    else node = unwrap(def.shape[key]);
  }
  return node;
}

export type LeafKind = "string" | "number" | "boolean" | "object" | "other";

export function leafKind(node: Node | undefined): LeafKind {
  switch (node?._zod.def.type) {
    case "string":
    case "enum":
      return "string";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "object":
      return "object";
    default:
      return "other";
  }
}

/** Edit distance, for "did you mean" on unknown keys. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The known key closest to `key`, if it is close enough to be a plausible typo. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}
