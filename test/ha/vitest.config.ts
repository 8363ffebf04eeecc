import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** `npm run test:ha`: the opt-in tests against a real Home Assistant (not part of CI). */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/ha/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 900_000,
    fileParallelism: false,
    reporters: ["default"],
  },
});
