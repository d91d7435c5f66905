// Synthetic model packages for weights-delivery tests: a valid manifest (one `vq` component whose graph has
// external data parts) and random files with their true sha256. The files are not a runnable model.
import { createHash, randomBytes } from 'node:crypto';

export interface SyntheticPackage {
  modelId: string;
  manifest: Record<string, unknown>;
  /** Every file including manifest.json, by package path. */
  files: Map<string, Uint8Array>;
  /** Total bytes of the listed files (manifest excluded). */
  totalBytes: number;
}

/** `dataSizes`: byte sizes of the graph's external data parts; the graph itself is `graphBytes` long. */
export function syntheticPackage(modelId: string, graphBytes: number, dataSizes: number[], revision = 1): SyntheticPackage {
  const files = new Map<string, Uint8Array>();
  const roles: Record<string, string> = { decoder: 'vq/decoder.onnx' };
  files.set('vq/decoder.onnx', randomBytes(graphBytes));
  dataSizes.forEach((size, part) => {
    const path = `vq/decoder.onnx.data${part || ''}`;
    roles[`decoderData${part || ''}`] = path;
    files.set(path, randomBytes(size));
  });
  const entries = [...files].map(([path, bytes]) => ({ path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }));
  const manifest = {
    format: 'tar-webgpu-package',
    formatVersion: 1,
    modelId,
    revision,
    storage: 'float32',
    files: entries,
    components: { vq: { config: { codebookSize: 64, codeDim: 8, downsample: 16, zChannels: 32 }, files: roles } },
    sampling: {
      textToImage: { temperature: 1, topP: 0.95, topK: 1200 },
      detokenizer: { cfgScale: 4, temperature: 1, topK: 0, topP: 1 },
      chat: { temperature: 0.7, topP: 0.8, topK: 20, maxNewTokens: 512, repetitionPenalty: 1.05 },
    },
  };
  files.set('manifest.json', new TextEncoder().encode(JSON.stringify(manifest)));
  return { modelId, manifest, files, totalBytes: entries.reduce((s, e) => s + e.bytes, 0) };
}
