import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // This file lives in test/; paths are the repository's.
    root: fileURLToPath(new URL("..", import.meta.url)),
    include: ["test/**/*.test.ts"],
    // The command line and daemon run as processes from the bundle users run: built first.
    globalSetup: ["test/helpers/global-setup.ts"],
    // Opt-in: a real Home Assistant (npm run test:ha); the real target (npm run test:systemd, test:arm64).
    exclude: [...configDefaults.exclude, "test/ha/**", "test/target/**"],
    // Real models and a real broker: give slow machines (and CI) room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: run test files two at a time so benchmarks-like tests do not starve each other.
    maxWorkers: 2,
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
  },
});
