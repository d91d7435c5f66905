// The shadow-DOM style sheet shared by the Tar elements: readable at 360 px, visible focus, 44 px touch
// targets. Pages theme it with the custom properties below or with ::part(name).
export const BASE_CSS = `
:host {
  --tar-accent: #2f5fd0;
  --tar-border: #8a8f98;
  --tar-error: #a4161a;
  --tar-radius: 6px;
  display: block;
  box-sizing: border-box;
  max-width: 100%;
  font: inherit;
  color: inherit;
}
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: flex-end; }
label { display: flex; flex-direction: column; gap: 0.25rem; flex: 1 1 12rem; min-width: 0; }
input, textarea, button { font: inherit; min-height: 44px; border-radius: var(--tar-radius); }
input[type=text], textarea { border: 1px solid var(--tar-border); padding: 0.5rem; width: 100%; }
textarea { resize: vertical; }
button { border: 1px solid var(--tar-accent); background: var(--tar-accent); color: #fff; padding: 0 1rem; cursor: pointer; }
button.secondary { background: transparent; color: var(--tar-accent); }
button:disabled { opacity: 0.5; cursor: default; }
:focus-visible { outline: 3px solid var(--tar-accent); outline-offset: 2px; }
.status { min-height: 1.5em; margin: 0.5rem 0 0.25rem; }
progress { width: 100%; height: 0.5rem; }
progress[hidden] { display: none; }
.error { color: var(--tar-error); border-left: 4px solid var(--tar-error); padding: 0.25rem 0.5rem; margin: 0.5rem 0; }
.error p { margin: 0.25rem 0; }
.error .detail { font-size: 0.85em; overflow-wrap: anywhere; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;
