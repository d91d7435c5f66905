// Probe: the tiny package's ONNX graphs of one component in onnxruntime-web's WebGPU EP, on the engine's
// shared GPUDevice (createSharedSession), fed the golden inputs; every golden output compared with the same
// code as the Node parity test (tests/parity/golden-runner.ts). Vite serves public/ at the root
// (/models/tiny/…) and the repository at /tests/fixtures/goldens/….
import { parseGoldens } from '../../../src/model/goldens.ts';
import { externalDataPaths, parseManifest, type ComponentName } from '../../../src/model/manifest.ts';
import { createSharedSession, ort } from '../../../src/ort/session.ts';
import { onnxRoles, runComponentGoldens, type ComponentReport, type GraphUnderTest, type TensorClass } from '../../parity/golden-runner.ts';
import { gpu } from './context.ts';

const PACKAGE = '/models/tiny/';
const GOLDENS = '/tests/fixtures/goldens/';
const REGENERATE = 'write it with `npm run make-tiny` (the lead commits the tiny package and goldens)';

async function fetchOk(url: string, what: string): Promise<Response> {
  const response = await fetch(url);
  // Vite answers a missing file under the root with its index page, so check the type as well.
  const type = response.headers.get('content-type') ?? '';
  if (!response.ok || type.includes('text/html')) throw new Error(`${what} is missing: GET ${url} → ${response.status} ${type}; ${REGENERATE}`);
  return response;
}

export async function parityProbe(component: ComponentName): Promise<ComponentReport> {
  const manifest = parseManifest(await (await fetchOk(`${PACKAGE}manifest.json`, 'the tiny package manifest')).json());
  const comp = manifest.components[component];
  if (!comp) {
    throw new Error(
      `component ${component} is missing from the tiny package (manifest has ${Object.keys(manifest.components).join(', ') || 'none'}); ${REGENERATE}`,
    );
  }
  const goldensUrl = `${GOLDENS}${component}.safetensors`;
  const goldens = parseGoldens(await (await fetchOk(goldensUrl, `the goldens of component ${component}`)).arrayBuffer(), goldensUrl, component);
  const ctx = await gpu();
  const files = comp.files as Record<string, string>;
  const graphs: GraphUnderTest[] = [];
  try {
    for (const { role, path } of onnxRoles(manifest, component)) {
      const externalData = externalDataPaths(files, role).map((data) => ({
        path: data.slice(data.lastIndexOf('/') + 1),
        data: `${PACKAGE}${data}`,
      }));
      const session = await createSharedSession(ctx.device, `${PACKAGE}${path}`, { externalData });
      graphs.push({ role, path, session });
    }
    return await runComponentGoldens(component, graphs, goldens, ort.Tensor as unknown as TensorClass);
  } finally {
    for (const g of graphs) await (g.session as ort.InferenceSession).release();
  }
}
