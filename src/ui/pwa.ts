// The offline app on the page side: registers the service worker (production builds only — the dev server has
// none) and, when a new build has installed in the background, shows a "new version" banner. Its button tells
// the waiting worker to take over, then reloads the page once it controls it. Pages call `installPwa()` once.

const BANNER_CSS = `
.tar-pwa-banner { position: fixed; inset: auto 1rem 1rem auto; z-index: 1000; box-sizing: border-box;
  max-width: calc(100vw - 2rem); display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 0.75rem;
  padding: 0.75rem 1rem; border-radius: 0.5rem; font: 0.95rem/1.4 system-ui, sans-serif; background: #1c2333;
  color: #f4f6fb; box-shadow: 0 4px 16px rgb(0 0 0 / 0.3); }
.tar-pwa-banner button { font: inherit; padding: 0.35rem 0.9rem; border-radius: 0.35rem; cursor: pointer;
  border: 1px solid #8fb4ff; background: #2f5fd0; color: #fff; }
.tar-pwa-banner button.tar-pwa-later { background: transparent; color: inherit; }
.tar-pwa-banner button:focus-visible { outline: 3px solid #ffd866; outline-offset: 2px; }
@media (prefers-color-scheme: light) {
  .tar-pwa-banner { background: #fff; color: #111827; border: 1px solid #c7cfdd; }
  .tar-pwa-banner button.tar-pwa-later { border-color: #2f5fd0; color: #1d4ed8; }
}`;

let banner: HTMLElement | null = null;

function showBanner(message: string, onReload: () => void): void {
  if (!document.querySelector('style[data-tar-pwa]')) {
    const style = document.createElement('style');
    style.dataset.tarPwa = '';
    style.textContent = BANNER_CSS;
    document.head.append(style);
  }
  banner?.remove();
  const root = document.createElement('div');
  root.className = 'tar-pwa-banner';
  root.setAttribute('role', 'status');
  root.setAttribute('aria-live', 'polite');
  const text = document.createElement('span');
  text.textContent = message;
  const reload = document.createElement('button');
  reload.type = 'button';
  reload.textContent = 'Reload';
  reload.addEventListener('click', () => {
    reload.disabled = true;
    reload.textContent = 'Updating…';
    onReload();
  });
  const later = document.createElement('button');
  later.type = 'button';
  later.className = 'tar-pwa-later';
  later.textContent = 'Later';
  later.addEventListener('click', () => root.remove());
  root.append(text, reload, later);
  document.body.append(root);
  banner = root;
}

async function register(): Promise<void> {
  const container = navigator.serviceWorker;
  const base = import.meta.env.BASE_URL;
  const hadController = container.controller !== null;
  let reloading = false;

  container.addEventListener('controllerchange', () => {
    if (reloading) location.reload();
    // Another tab switched to the new build: this page still runs the old one.
    else if (hadController) showBanner('This app was updated in another tab.', () => location.reload());
  });

  const offer = (worker: ServiceWorker) => {
    // The first install has nothing to replace; later ones wait for the user.
    if (!container.controller) return;
    showBanner('A new version of this app is ready.', () => {
      reloading = true;
      worker.postMessage({ type: 'skip-waiting' });
    });
  };
  const watch = (worker: ServiceWorker) => {
    worker.addEventListener('statechange', () => {
      if (worker.state === 'installed') offer(worker);
    });
  };

  const registration = await container.register(`${base}sw.js`, { scope: base });
  if (registration.waiting) offer(registration.waiting);
  if (registration.installing) watch(registration.installing);
  registration.addEventListener('updatefound', () => {
    if (registration.installing) watch(registration.installing);
  });
  // A tab left open for days still learns about new builds.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void registration.update().catch(() => undefined);
  });
}

/** Makes the page work offline after its first visit and announces new builds. No-op on the dev server. */
export function installPwa(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  const start = () =>
    register().catch((error: unknown) => {
      // Offline use is an extra: the page works without it, so a failed registration only leaves a note.
      console.warn('Offline mode is unavailable:', error);
    });
  // Precaching fetches the whole runtime (~27 MB of wasm): let the page's own first load go first.
  if (document.readyState === 'complete') void start();
  else window.addEventListener('load', () => void start(), { once: true });
}
