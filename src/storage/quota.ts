// Storage quota: what navigator.storage.estimate() says is free, the check made before a download, and the
// request to make the origin's storage persistent. Estimates are the browser's guess (and can be overridden
// in tests by an init script); a write refused midway is handled where chunks are written (download.ts).
import { StorageQuotaError } from './errors.ts';

/** Free bytes for this origin (quota − usage), or null when the browser gives no estimate. */
export async function freeBytes(): Promise<number | null> {
  if (typeof navigator === 'undefined' || !navigator.storage?.estimate) return null;
  const { quota, usage } = await navigator.storage.estimate();
  if (quota === undefined || usage === undefined) return null;
  return Math.max(0, quota - usage);
}

/** Throws StorageQuotaError when `needed` bytes would not fit. */
export async function checkQuota(needed: number): Promise<void> {
  if (needed <= 0) return;
  const free = await freeBytes();
  if (free !== null && needed > free) throw new StorageQuotaError(needed, free);
}

/** Asks for persistent storage (so the browser does not evict the weights under pressure); true if granted. */
export async function requestPersistence(): Promise<boolean> {
  if (typeof navigator === 'undefined' || !navigator.storage?.persist) return false;
  try {
    return (await navigator.storage.persisted()) || (await navigator.storage.persist());
  } catch {
    return false;
  }
}
