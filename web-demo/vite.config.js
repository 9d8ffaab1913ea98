import { defineConfig } from 'vite';

// Relative asset paths, so dist/ can be served from any directory.
export default defineConfig({
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1024 },
  preview: { host: '127.0.0.1', port: 8080, strictPort: false },
});
