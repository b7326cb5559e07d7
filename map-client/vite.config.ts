import { defineConfig } from 'vite';

// The Rust server (`wangge serve`) serves dist/ at `/`, next to `/api/v1/...`,
// `/tiles/...` and `/healthz`. During `npm run dev` those paths are proxied to a locally
// running server (override with WANGGE_URL).
const backend = process.env.WANGGE_URL ?? 'http://127.0.0.1:18080';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // maplibre-gl alone is ~1 MB minified; one chunk is fine for this app.
    chunkSizeWarningLimit: 1600,
    rollupOptions: {
      output: {
        // The MapLibre worker ships as .mjs; emit it as .js so that any static
        // file server sends it with a JavaScript MIME type (module workers
        // refuse anything else).
        assetFileNames: (asset) =>
          asset.names.some((n) => n.endsWith('.mjs')) ? 'assets/[name]-[hash].js' : 'assets/[name]-[hash][extname]',
      },
    },
  },
  server: {
    proxy: {
      // `ws: true` for the live feed (GET /api/v1/live, a WebSocket)
      '/api': { target: backend, ws: true },
      '/tiles': backend,
      '/style.json': backend,
      '/healthz': backend,
    },
  },
});
