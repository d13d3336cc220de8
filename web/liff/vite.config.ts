// The LIFF pages' JS and CSS, bundled into the liff_login function's asset folder
// (gitignored). The function serves /liff/assets/<file> from there; the HTML shell is
// rendered by the function (it carries the channel's page config), which finds the
// hashed file names in .vite/manifest.json.
import { resolve } from "node:path";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/liff/assets/",
  build: {
    outDir: resolve(__dirname, "../../functions/liff_login/liff_assets"),
    emptyOutDir: true,
    assetsDir: "",
    manifest: true,
    sourcemap: false,
    target: "es2020",
    rollupOptions: {
      input: { main: resolve(__dirname, "src/main.ts") },
    },
  },
});
