// Vite configuration: the demo app, the GPU test pages and the benchmark pages share one dev server.
// COOP/COEP make every page cross-origin isolated, which multi-threaded onnxruntime-web wasm requires.
import { defineConfig } from 'vite';
import { serviceWorkerPlugin } from './src/sw/plugin.ts';

const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  build: { target: 'es2022', rollupOptions: { input: { main: 'index.html', chat: 'chat.html' } } },
  plugins: [serviceWorkerPlugin()],
});
