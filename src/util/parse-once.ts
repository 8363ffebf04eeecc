/**
 * Options for a zod parse that runs once per process (configuration, manifest, registry file, caches):
 * zod would otherwise compile a fast path for each object schema on first use, which costs more than
 * one parse saves (about 13 ms of a command's start-up). Parses repeated at run time keep the fast path.
 */
export const PARSE_ONCE = { jitless: true } as const;
