// The service worker: keeps the app shell and runtime (HTML, JS with the bundled WGSL, CSS, onnxruntime's
// wasm, manifest, icons) of ONE build in a versioned Cache Storage entry, so the app starts with the network
// off. Model weights are never touched here: they live in IndexedDB (src/storage/), and requests under the
// package folders go to the network as usual. Built by src/sw/plugin.ts, which fills in the build id and the
// precache list. A new build waits until the page asks it to take over (the "reload" banner of src/ui/pwa.ts).
export {};

declare const self: ServiceWorkerGlobalScope;
/** Changes whenever any precached file changes (plus an optional TAR_BUILD_ID given at build time). */
declare const __PWA_BUILD_ID__: string;
/** Paths relative to the service worker's scope, e.g. "index.html", "assets/index-abc.js". */
declare const __PWA_PRECACHE__: string[];

const CACHE_PREFIX = 'tar-app-';
const CACHE_NAME = `${CACHE_PREFIX}${__PWA_BUILD_ID__}`;
const scope = self.registration.scope;
const precached = new Set(__PWA_PRECACHE__.map((path) => new URL(path, scope).href));

/** Pages served from this cache must stay cross-origin isolated (threaded wasm needs SharedArrayBuffer). */
const ISOLATION_HEADERS: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function withIsolation(response: Response): Response {
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** The precached URL a request stands for: "/" → "/index.html", "/chat" → "/chat.html"; null: not ours. */
function precachedUrl(request: Request): string | null {
  const url = new URL(request.url);
  url.search = '';
  url.hash = '';
  if (precached.has(url.href)) return url.href;
  if (request.mode !== 'navigate') return null;
  const candidates = url.pathname.endsWith('/') ? [`${url.href}index.html`] : [`${url.href}.html`, `${url.href}/index.html`];
  return candidates.find((candidate) => precached.has(candidate)) ?? null;
}

async function precache(): Promise<void> {
  const cache = await caches.open(CACHE_NAME);
  // Revalidate with the server: an HTML file keeps its name across builds and may sit in the HTTP cache.
  await cache.addAll([...precached].map((url) => new Request(url, { cache: 'no-cache' })));
}

async function dropOldCaches(): Promise<void> {
  const names = await caches.keys();
  await Promise.all(names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME).map((name) => caches.delete(name)));
}

async function serve(url: string, request: Request): Promise<Response> {
  const cached = await caches.match(url, { cacheName: CACHE_NAME });
  return cached ? withIsolation(cached) : fetch(request);
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache());
});

self.addEventListener('activate', (event) => {
  event.waitUntil(dropOldCaches());
});

self.addEventListener('message', (event) => {
  if ((event.data as { type?: unknown } | null)?.type === 'skip-waiting') void self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || request.headers.has('range')) return;
  const url = precachedUrl(request);
  if (url) event.respondWith(serve(url, request));
});
