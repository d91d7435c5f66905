// Model download and load progress: a total bar in bytes, one bar per file (StorageEvent 'file-start' and
// 'progress'), then the engine's component count while it prepares the model. Milestones go to the page's
// status line (a polite live region); the bars update silently.
import type { StorageEvent } from '../../storage/events.ts';
import { formatBytes } from '../errors-text.ts';
import { byId } from './dom.ts';

interface FileRow {
  bar: HTMLProgressElement;
  amount: HTMLSpanElement;
}

export class DownloadView {
  private readonly box = byId('download', HTMLDivElement);
  private readonly text = byId('download-text', HTMLLabelElement);
  private readonly total = byId('download-total', HTMLProgressElement);
  private readonly list = byId('download-files', HTMLUListElement);
  private rows = new Map<string, FileRow>();

  constructor(private readonly announce: (message: string) => void) {}

  /** A new load begins: clears the previous one's rows. */
  reset(): void {
    this.rows = new Map();
    this.list.replaceChildren();
    this.total.value = 0;
    this.total.max = 1;
    this.text.textContent = 'Looking for the model…';
    this.box.hidden = false;
  }

  hide(): void {
    this.box.hidden = true;
  }

  onStorage(event: StorageEvent): void {
    switch (event.type) {
      case 'manifest': {
        this.total.max = Math.max(event.totalBytes, 1);
        this.total.value = event.cachedBytes;
        const cached = event.cachedBytes >= event.totalBytes;
        const message = cached
          ? `${event.modelId}: found in this browser’s storage (${formatBytes(event.totalBytes)}).`
          : `${event.modelId}: ${formatBytes(event.totalBytes)} in ${event.files} files` +
            (event.cachedBytes > 0 ? `, ${formatBytes(event.cachedBytes)} already stored — resuming.` : ' to download.');
        this.text.textContent = message;
        this.announce(message);
        break;
      }
      case 'file-start':
        this.row(event.path, event.bytes);
        break;
      case 'progress': {
        const row = this.row(event.path, event.fileBytes);
        row.bar.value = event.fileLoaded;
        row.amount.textContent = `${formatBytes(event.fileLoaded)} of ${formatBytes(event.fileBytes)}`;
        this.total.max = Math.max(event.total, 1);
        this.total.value = event.loaded;
        this.text.textContent = `Downloading the model: ${formatBytes(event.loaded)} of ${formatBytes(event.total)}`;
        break;
      }
      case 'retry':
        this.text.textContent = `The connection dropped while fetching ${event.path}; trying again (attempt ${event.attempt})…`;
        break;
      case 'restart':
        this.text.textContent = `${event.path} came back damaged or unresumable; fetching it again from the start…`;
        break;
      case 'file-verified': {
        const row = this.row(event.path, event.bytes);
        row.bar.value = event.bytes;
        row.amount.textContent = `${formatBytes(event.bytes)} ✓`;
        break;
      }
      case 'complete': {
        this.total.value = this.total.max;
        const message = `Model stored in this browser (${formatBytes(event.totalBytes)}; ${formatBytes(event.fetchedBytes)} downloaded now).`;
        this.text.textContent = message;
        this.announce(message);
        break;
      }
      case 'persist':
        break;
    }
  }

  /** The engine has prepared `loaded` of `total` components. */
  onComponent(component: string, loaded: number, total: number): void {
    this.text.textContent = `Preparing the model on the GPU: ${loaded} of ${total} parts ready (${component}).`;
    this.total.max = total;
    this.total.value = loaded;
  }

  private row(path: string, bytes: number): FileRow {
    const existing = this.rows.get(path);
    if (existing) return existing;
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = path;
    const amount = document.createElement('span');
    amount.textContent = `0 B of ${formatBytes(bytes)}`;
    const bar = document.createElement('progress');
    bar.max = Math.max(bytes, 1);
    bar.value = 0;
    bar.setAttribute('aria-label', path);
    item.append(name, amount, bar);
    this.list.append(item);
    const row = { bar, amount };
    this.rows.set(path, row);
    return row;
  }
}
