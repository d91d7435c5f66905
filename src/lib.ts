// The library entry (`npm run build:lib` → dist/lib/tar-webgpu.js): importing it registers
// <tar-text-to-image> and <tar-image-chat>, and exposes the engine API for pages that draw their own UI.
import { defineTarElements } from './ui/components/define.ts';

defineTarElements();

export { defineTarElements };
export { TarTextToImage } from './ui/components/text-to-image.ts';
export { TarImageChat, type TarChatMessage } from './ui/components/image-chat.ts';
export type * from './ui/components/events.ts';
export { createWorkerEngine, type WorkerEngineOptions } from './worker/client.ts';
export { sharedEngine, type EngineHostListeners } from './ui/engine-host.ts';
export type { ModelLocation } from './worker/protocol.ts';
export type { TarEngine, EngineInfo } from './pipeline/engine.ts';
export type * from './pipeline/events.ts';
export type { ImagineOptions, ChatOptions, ChatMessage, VaryOptions, SamplingOverrides } from './pipeline/options.ts';
export type { StorageEvent } from './storage/events.ts';
export type { ImageInput } from './models/image.ts';
export {
  TarError,
  WebGPUUnavailableError,
  GpuLimitError,
  DeviceLostError,
  EngineWorkerError,
  InvalidInputError,
  InvalidArgumentError,
  ManifestError,
} from './errors.ts';
export { ModelSourceError } from './model/source.ts';
export { StorageQuotaError, DownloadError, IntegrityError } from './storage/errors.ts';
export { TokenizerError } from './tokenizer/tokenizer-json.ts';
