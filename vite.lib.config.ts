// The library build (`npm run build:lib`): dist/lib/tar-webgpu.js is ONE ES module a page embeds with a single
// <script type="module">; it starts the engine worker from dist/lib/assets/ (emitted next to it, with the
// onnxruntime-web wasm as a file beside the worker), so dist/lib/ can be served from any folder. Declarations
// (tsc, declaration-only) go to dist/lib/types/, with dist/lib/tar-webgpu.d.ts pointing at them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { defineConfig, type Plugin } from 'vite';

const outDir = resolve(import.meta.dirname, 'dist/lib');

/** Vite inlines every asset in library mode; the 27 MB ORT wasm must stay a file (`?no-inline`). */
const ortWasmAsFile: Plugin = {
  name: 'tar-ort-wasm-as-file',
  enforce: 'pre',
  transform(code, id) {
    if (!/onnxruntime-web[\\/]dist[\\/].*\.mjs$/.test(id)) return null;
    return code.replace(/(["'`])(ort-wasm-[\w.-]+\.wasm)\1(\s*,\s*import\.meta\.url)/g, '$1$2?no-inline$1$3');
  },
};

/** Declaration files for src/lib.ts and what it exports, with `.ts` import paths written as `.js`. */
const declarations: Plugin = {
  name: 'tar-declarations',
  apply: 'build',
  closeBundle() {
    const root = import.meta.dirname;
    const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile).config;
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
    const typesDir = join(outDir, 'types');
    const program = ts.createProgram([join(root, 'src/lib.ts')], {
      ...options,
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      rootDir: join(root, 'src'),
      outDir: typesDir,
    });
    const result = program.emit(undefined, (file, text) => {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text.replace(/(from\s+|import\(|declare module\s+)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2'));
    });
    const errors = ts.getPreEmitDiagnostics(program).concat(result.diagnostics);
    if (errors.length) throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }));
    const entry = `/// <reference types="@webgpu/types" />\nexport * from './${relative(outDir, typesDir)}/lib.js';\n`;
    writeFileSync(join(outDir, 'tar-webgpu.d.ts'), entry);
  },
};

export default defineConfig({
  base: './',
  publicDir: false,
  plugins: [ortWasmAsFile, declarations],
  worker: { format: 'es', plugins: () => [ortWasmAsFile] },
  build: {
    target: 'es2022',
    outDir,
    emptyOutDir: true,
    lib: { entry: resolve(import.meta.dirname, 'src/lib.ts'), formats: ['es'], fileName: () => 'tar-webgpu.js' },
  },
});
