// onnxruntime-web sessions on the engine's own GPUDevice. Sharing one device between ORT and our WGSL
// kernels works only with the `onnxruntime-web/webgpu` build and only when the device is given both to
// `ort.env.webgpu.device` and to the execution provider options (ENVIRONMENT.md). ORT takes the device of the
// first session for the page's lifetime, so every session must be created on that same device.
import * as ort from 'onnxruntime-web/webgpu';
import { InvalidArgumentError } from '../errors.ts';

let boundDevice: GPUDevice | null = null;

export type SessionOptions = Omit<ort.InferenceSession.SessionOptions, 'executionProviders'>;

/** Creates an ORT WebGPU session running on `device` (the same device our kernels use). */
export async function createSharedSession(
  device: GPUDevice,
  model: Uint8Array | string,
  options: SessionOptions = {},
): Promise<ort.InferenceSession> {
  if (boundDevice && boundDevice !== device) {
    throw new InvalidArgumentError('onnxruntime-web is already bound to another GPUDevice in this page');
  }
  if (!boundDevice) {
    ort.env.webgpu.device = device;
    boundDevice = device;
  }
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    // Errors only: ORT's warnings (e.g. shape ops placed on the CPU) are console.error lines in every page.
    logSeverityLevel: 3,
    ...options,
    executionProviders: [{ name: 'webgpu', device }],
  };
  return typeof model === 'string'
    ? ort.InferenceSession.create(model, sessionOptions)
    : ort.InferenceSession.create(model, sessionOptions);
}

let runQueue: Promise<unknown> = Promise.resolve();

/** Runs `session` after every run started before it has finished: onnxruntime-web must not run two graphs at
 *  once on one device, while jobs (an LLM and a de-tokenizer of two images) interleave their steps. */
export function runSession(
  session: ort.InferenceSession,
  feeds: ort.InferenceSession.FeedsType,
  fetches?: ort.InferenceSession.FetchesType,
): Promise<ort.InferenceSession.ReturnType> {
  const run = runQueue.then(() => (fetches ? session.run(feeds, fetches) : session.run(feeds)));
  runQueue = run.catch(() => undefined);
  return run;
}

export { ort };
