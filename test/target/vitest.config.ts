import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * `npm run test:systemd` and `npm run test:arm64`: voiceid on its real target, a systemd machine
 * (systemd-nspawn, root needed) and arm64 (qemu user-mode emulation). Not in `npm test`.
 */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/target/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    // Emulated arm64 runs a command tens of times slower than natively.
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    reporters: ["default"],
  },
});
