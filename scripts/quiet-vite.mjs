// A Vite dev server for scripted runs (benchmarks, headless commands): a free port, no HMR, no file
// watching, so edits made while a long run is going do not reload its page.
import { createServer } from 'vite';

/** Starts the server on `root` (a folder path); returns it and its base URL. */
export async function startQuietVite(root) {
  const server = await createServer({
    root,
    server: { port: 0, hmr: false, ws: false, watch: { ignored: ['**/*'] } },
    logLevel: 'error',
  });
  await server.listen();
  return { server, url: `http://localhost:${server.httpServer.address().port}` };
}
