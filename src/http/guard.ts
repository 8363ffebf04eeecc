import { isIP } from "node:net";
import { hostname } from "node:os";
import type { MiddlewareHandler } from "hono";
import { quoteInput } from "../util/quote.js";
import { ApiError } from "./errors.js";

const UNSAFE_METHOD = /^(POST|PUT|PATCH|DELETE)$/;
/** What a browser sends for a request its own page (or the user, typing a URL) made. */
const SAME_ORIGIN_FETCH_SITES = new Set(["same-origin", "none"]);

/** The host part of a Host header ("[::1]:8787" -> "::1", "Pi.local:80" -> "pi.local"). */
export function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") === -1 ? undefined : h.indexOf("]"));
  const colon = h.lastIndexOf(":");
  return (colon === -1 ? h : h.slice(0, colon)).replace(/\.$/, "");
}

/**
 * Names that reach this daemon: IP literals (DNS rebinding needs a name), localhost, this machine's host
 * name (and its mDNS .local form), the bound host and the configured extra names.
 */
export function allowedHostNames(options: {
  boundHost?: string;
  allowedHosts?: readonly string[];
}): Set<string> {
  const own = hostname().toLowerCase();
  const names = new Set(["localhost", own, `${own}.local`]);
  for (const name of [options.boundHost ?? "", ...(options.allowedHosts ?? [])]) {
    if (name.trim() !== "") names.add(hostOf(name));
  }
  return names;
}

/**
 * Refuses requests whose Host names someone else: a page on evil.example that re-points its name at
 * 127.0.0.1 (DNS rebinding) reaches the socket, but with `Host: evil.example`.
 */
export function hostGuard(allowed: ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    // The server builds the URL from the Host header (and refuses a request without one).
    const header = new URL(c.req.url).host;
    const host = hostOf(header);
    if (!(isIP(host) !== 0 || allowed.has(host) || host.endsWith(".localhost"))) {
      throw new ApiError(
        403,
        "host_not_allowed",
        `Host ${quoteInput(header)} does not name this daemon; add it to http.allowedHosts to reach it by that name`,
      );
    }
    await next();
  };
}

/**
 * Refuses state-changing requests that a browser made for another site's page: a cross-site form or fetch
 * carries Sec-Fetch-Site: cross-site (or same-site, for another port) and an Origin that is not ours.
 * Clients that are not browsers (curl, Home Assistant) send neither and pass; the token, when set, still
 * applies to them.
 */
export function sameOriginGuard(): MiddlewareHandler {
  return async (c, next) => {
    if (UNSAFE_METHOD.test(c.req.method)) {
      const site = c.req.header("sec-fetch-site");
      const origin = c.req.header("origin");
      const host = new URL(c.req.url).host;
      if (site !== undefined && !SAME_ORIGIN_FETCH_SITES.has(site.toLowerCase())) {
        throw crossSite(`Sec-Fetch-Site: ${quoteInput(site)}`);
      }
      if (origin !== undefined && !sameHost(origin, host)) throw crossSite(`Origin: ${quoteInput(origin)}`);
    }
    await next();
  };
}

function sameHost(origin: string, host: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === "http:" || url.protocol === "https:") && url.host === host;
  } catch {
    // "null" (sandboxed frames, file: pages) and anything unparsable is not us.
    return false;
  }
}

function crossSite(what: string): ApiError {
  return new ApiError(
    403,
    "cross_site_request",
    `refused a state-changing request from another site's page (${what}); use this daemon's own page or a non-browser client`,
  );
}
