/// <reference types="vitest/config" />
// The console's single-page app, built into web/console/dist/ (gitignored): index.html
// plus hashed files under assets/ (immutable). The local gateway serves that folder at
// /console/ (local/linecrm_local/console_static.py); on AWS a BucketDeployment copies it
// to the console bucket behind CloudFront (infra/linecrm_infra/constructs/console.py).
import { resolve } from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: resolve(__dirname, "dist"),
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2020",
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        // ECharts and Mantine apart from the app: they change less often than the pages.
        manualChunks: { echarts: ["echarts"], mantine: ["@mantine/core", "@mantine/hooks"] },
      },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
