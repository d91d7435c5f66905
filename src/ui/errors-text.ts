// Engine errors in plain words for people: what went wrong and what to do about it. Shared by the demo
// pages and the web components. Works on errors that crossed the worker boundary too (they keep `name` and
// their own fields), so it tests names and fields rather than classes. Returns plain strings: callers set them
// with textContent.

export interface ErrorText {
  /** One sentence: what happened. */
  title: string;
  /** What the person can do about it. */
  action: string;
  /** The engine's own message, for a "details" line (may be empty). */
  detail: string;
}

interface ErrorLike {
  name?: string;
  message?: string;
  needed?: number;
  free?: number;
  status?: number;
  path?: string;
}

/** Bytes as people read them: 1.5 MB, 2.31 GB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '? B';
  if (bytes < 1e3) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1e3;
  let unit = 0;
  while (value >= 1e3 && unit < units.length - 1) {
    value /= 1e3;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** True for a cancelled job (an AbortError from the signal). */
export function isAbort(error: unknown): boolean {
  return (error as ErrorLike | null)?.name === 'AbortError';
}

const NOT_A_PACKAGE: Omit<ErrorText, 'detail'> = {
  title: 'This is not a Tar model package.',
  action: 'Choose the folder (or the URL of the folder) that holds the package’s manifest.json and the files it lists.',
};

export function explainError(error: unknown): ErrorText {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as ErrorLike;
  const detail = e.message ?? '';
  switch (e.name) {
    case 'AbortError':
      return { title: 'Cancelled.', action: 'Press Generate to start again.', detail: '' };
    case 'WebGPUUnavailableError':
      return {
        title: 'This browser has no WebGPU, which the model needs to run on your graphics card.',
        action: 'Open this page in a recent Chrome or Edge on a desktop, or in Safari 26 or later. On Linux, Chrome may need chrome://flags/#enable-unsafe-webgpu turned on.',
        detail,
      };
    case 'GpuLimitError':
      return {
        title: 'Your graphics card is too small for this model.',
        action: 'Try a smaller model, or another device with a bigger GPU.',
        detail,
      };
    case 'GpuKernelError':
      return {
        title: 'This graphics card or browser cannot run one of the engine’s GPU programs.',
        action: 'Update the browser (or its graphics driver), or try another browser or device.',
        detail,
      };
    case 'DeviceLostError':
      return {
        title: 'The graphics card stopped responding (the browser or driver reset it).',
        action: 'Reload the page. If it keeps happening, close other tabs that use the GPU and try a smaller scale.',
        detail,
      };
    case 'StorageQuotaError': {
      const numbers = e.needed !== undefined && e.free !== undefined ? ` It needs ${formatBytes(e.needed)}; ${formatBytes(e.free)} is free.` : '';
      return {
        title: `There is not enough storage space to keep the model.${numbers}`,
        action: 'Free some disk space, delete models you no longer use, or leave private browsing (it allows very little storage), then load the model again. What was already downloaded is kept.',
        detail,
      };
    }
    case 'ManifestError':
    case 'ModelSourceError':
    case 'TokenizerError':
      return { ...NOT_A_PACKAGE, detail };
    case 'DownloadError':
      if (e.path === 'manifest.json') {
        const why = e.status === 404 ? ' (nothing found there: HTTP 404)' : e.status ? ` (HTTP ${e.status})` : '';
        return { ...NOT_A_PACKAGE, title: `No Tar model package was found at that address${why}.`, detail };
      }
      return {
        title: `A model file could not be downloaded${e.status ? ` (HTTP ${e.status})` : ''}.`,
        action: 'Check your connection and load the model again; what was already downloaded is kept.',
        detail,
      };
    case 'IntegrityError':
      return {
        title: 'A downloaded model file is damaged (its checksum does not match the package).',
        action: 'Load the model again. If it happens every time, the package on the server is broken.',
        detail,
      };
    case 'EngineWorkerError':
      return {
        title: 'The engine could not start in the background.',
        action:
          'Reload the page (a newer version of this app may have been installed). ' +
          'If it keeps happening, report the details below.',
        detail,
      };
    case 'InvalidArgumentError':
      return { title: 'One of the settings is not allowed for this model.', action: 'Change the setting named below and try again.', detail };
    case 'InvalidInputError':
      return { title: 'The input could not be used.', action: 'Check the input named below and try again.', detail };
    case 'TypeError':
      if (/fetch|network/i.test(detail)) {
        return {
          title: 'That address could not be reached.',
          action: 'Check the URL and your connection. A model on another site must allow cross-origin requests (CORS).',
          detail,
        };
      }
      break;
  }
  return {
    title: 'Something went wrong.',
    action: 'Reload the page and try again. If it keeps happening, report the details below.',
    detail,
  };
}
