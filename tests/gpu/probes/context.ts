// One GpuContext per page, shared by every probe (pipeline compiles are the slow part on SwiftShader).
import { GpuContext } from '../../../src/gpu/context.ts';

let shared: Promise<GpuContext> | null = null;

export function gpu(): Promise<GpuContext> {
  shared ??= GpuContext.create();
  return shared;
}
