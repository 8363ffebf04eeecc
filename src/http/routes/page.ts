import { readFileSync } from "node:fs";
import path from "node:path";
import { Hono } from "hono";
import { repoRoot } from "../../models/paths.js";

/** The page's files (web/), served as they are: no build step, nothing fetched from elsewhere. */
const ASSETS: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "wav.js": "text/javascript; charset=utf-8",
  "voices.js": "text/javascript; charset=utf-8",
  "timeline.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
};

/**
 * Everything the page may load comes from this daemon; scripts only from its own files (no inline code,
 * so injected markup could not run), and no other site may frame it.
 */
const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "media-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-cache",
};

/**
 * GET / and /assets/*: the web page. It holds no data (everything comes from /api, with the token when
 * one is set), so it is served like /health: the page asks for the token itself.
 */
export function pageRoutes(webDir = path.join(repoRoot(), "web")): Hono {
  const files = new Map(
    Object.entries(ASSETS).map(([name, type]) => [
      name,
      { body: readFileSync(path.join(webDir, name)), type },
    ]),
  );
  const serve = (name: string) => {
    const file = files.get(name);
    if (file === undefined) return undefined;
    return new Response(file.body, { headers: { "Content-Type": file.type, ...SECURITY_HEADERS } });
  };
  const app = new Hono();
  app.get("/", () => serve("index.html")!);
  app.get("/assets/:name", (c) => serve(c.req.param("name")) ?? c.notFound());
  return app;
}
