// Loading a decoder's ONNX graph from a ModelSource into an onnxruntime-web session on the engine's device
// (external data parts passed as bytes, docs/model-format.md), and checking that the graph has the inputs
// and outputs the decoder feeds and reads. It does not run anything.
import { InvalidInputError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import { externalDataPaths } from '../model/manifest.ts';
import type { ModelSource } from '../model/source.ts';
import { createSharedSession, ort, type SessionOptions } from '../ort/session.ts';

/** Creates the session of graph `role` of a component whose files are `files`. */
export async function loadGraph(
  ctx: GpuContext,
  source: ModelSource,
  files: Record<string, string>,
  role: string,
  options: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const path = files[role];
  if (path === undefined) throw new InvalidInputError(`the package names no file for the graph role "${role}"`);
  const model = await source.file(path);
  const externalData = await Promise.all(
    externalDataPaths(files, role).map(async (data) => ({ path: data.slice(data.lastIndexOf('/') + 1), data: await source.file(data) })),
  );
  return createSharedSession(ctx.device, model, externalData.length > 0 ? { ...options, externalData } : options);
}

/** Throws InvalidInputError naming what is missing when the session lacks one of the given inputs or outputs. */
export function expectGraphIo(session: ort.InferenceSession, what: string, inputs: readonly string[], outputs: readonly string[]): void {
  const missingIn = inputs.filter((n) => !session.inputNames.includes(n));
  const missingOut = outputs.filter((n) => !session.outputNames.includes(n));
  if (missingIn.length + missingOut.length > 0) {
    throw new InvalidInputError(
      `${what}: the graph lacks ${[...missingIn.map((n) => `input ${n}`), ...missingOut.map((n) => `output ${n}`)].join(', ')} ` +
        `(has inputs ${session.inputNames.join(', ')}; outputs ${session.outputNames.join(', ')})`,
    );
  }
}
