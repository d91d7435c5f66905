// The page the GPU tests drive: it exposes every kernel probe on `window.harness`, and tells the test
// side it is ready. Probes live in tests/gpu/probes/, one file per kernel family.
import { describeErrorForTest } from './describe-error.ts';
import { attentionProbes } from './probes/attention.ts';
import { avgPoolProbe, avgPoolWrongSizeProbe } from './probes/avg-pool.ts';
import { deviceProbe } from './probes/device.ts';
import { kernelErrorProbe } from './probes/kernel-errors.ts';
import { logProbMeanProbe, logProbMeanWrongSizeProbe } from './probes/log-prob-mean.ts';
import { ortSharedProbe } from './probes/ort-shared.ts';
import { sampleProbes } from './probes/sample.ts';
import { vqNearestProbes } from './probes/vq-nearest.ts';
import { vqDecoderProbes } from './probes/vqdecoder.ts';

export const harness = {
  describeErrorForTest,
  device: deviceProbe,
  kernelError: kernelErrorProbe,
  ortShared: ortSharedProbe,
  avgPool: avgPoolProbe,
  avgPoolWrongSize: avgPoolWrongSizeProbe,
  logProbMean: logProbMeanProbe,
  logProbMeanWrongSize: logProbMeanWrongSizeProbe,
  ...attentionProbes,
  ...vqNearestProbes,
  ...sampleProbes,
  ...vqDecoderProbes,
  decoders: () => import('./probes/decoders.ts').then((m) => m.decoderProbes),
  tatok: () => import('./probes/tatok.ts').then((m) => m.tatokProbes),
  tokenizer: () => import('./probes/tokenizer.ts').then((m) => m.tokenizerProbe),
  repetitionPenalty: () => import('./probes/repetition-penalty.ts').then((m) => m.penaltyProbes),
  pipeline: () => import('./probes/pipeline.ts').then((m) => m.pipelineProbes),
  parity: (component: 'tatok' | 'llm' | 'ardtok' | 'vq') => import('./probes/parity.ts').then((m) => m.parityProbe(component)),
};

export type Harness = typeof harness;

declare global {
  interface Window {
    harness: Harness;
  }
}

window.harness = harness;
document.body.dataset.ready = 'true';
