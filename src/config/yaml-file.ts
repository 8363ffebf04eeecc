import { parseDocument } from "yaml";
import type { ConfigProblem } from "./errors.js";

/**
 * The configuration file's text as a JS value, or its syntax errors. A module of its own so that
 * load.ts imports it (and the yaml package) only when there is a file: a static import here lets the
 * bundler wrap yaml, which is CommonJS, for ES modules; `import("yaml")` in a bundle with chunks
 * would yield only a default export.
 */
export function parseYaml(text: string): { value: unknown } | { problems: ConfigProblem[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length === 0) {
    try {
      return { value: doc.toJS() };
    } catch (err) {
      // Building the value refuses what parsed but cannot be trusted (aliases expanding to billions of nodes).
      return { problems: [{ path: "", message: `YAML: ${(err as Error).message}` }] };
    }
  }
  return {
    problems: doc.errors.map((e) => {
      // prettyErrors appends " at line L, column C:" and a code frame; keep one line.
      const pos = e.linePos?.[0];
      const at = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
      const message = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
      return { path: "", message: `YAML syntax: ${at}${message}` };
    }),
  };
}
