// Builds the app into crates/edge/webapp with fixed file names (index.html, assets/app.js,
// assets/app.css) so the edge can embed it and CI can compare a rebuild byte for byte.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const sdk = fileURLToPath(new URL("../sdk/ts/src/index.ts", import.meta.url));

export default defineConfig({
  resolve: {
    alias: { "@votemesh/sdk": sdk },
    // The SDK's sources import these; resolve them all from web/node_modules, whether or not
    // sdk/ts/node_modules exists, so the bundle holds one copy and is the same everywhere.
    dedupe: ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web"],
  },
  build: {
    outDir: "../crates/edge/webapp",
    emptyOutDir: true,
    target: "es2022",
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    rollupOptions: {
      output: {
        inlineDynamicImports: true,
        entryFileNames: "assets/app.js",
        assetFileNames: (asset) =>
          asset.names.some((n) => n.endsWith(".css")) ? "assets/app.css" : "assets/[name][extname]",
      },
    },
  },
  server: {
    fs: { allow: [".", "../sdk/ts"] },
    // In development the edge runs apart: forward grpc-web calls (/votemesh.<pkg>.<Service>/…).
    proxy: { "/votemesh.": { target: process.env.VOTEMESH_URL ?? "http://127.0.0.1:8080" } },
  },
});
