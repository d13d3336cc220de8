// The dashboard's JS and CSS, bundled into the admin function's asset folder
// (gitignored). The function serves /admin/dashboard/assets/<file> from there; the
// HTML shell is rendered by the function, which finds the hashed file names in
// .vite/manifest.json (as the LIFF pages do).
import { resolve } from "node:path";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/admin/dashboard/assets/",
  build: {
    outDir: resolve(__dirname, "../../functions/admin/dashboard_assets"),
    emptyOutDir: true,
    assetsDir: "",
    manifest: true,
    sourcemap: false,
    target: "es2020",
    // One chunk: ECharts (tree-shaken to the charts we draw) is most of it.
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      input: { main: resolve(__dirname, "src/main.ts") },
    },
  },
});
