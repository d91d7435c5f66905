// Uniform packing by reflection: the layout of a kernel's `struct Params` is read from its WGSL source,
// so TypeScript and WGSL cannot drift. Only 4-byte scalars (u32, i32, f32) are allowed in Params; each
// takes one 4-byte slot in declaration order and the buffer is padded to 16 bytes (WGSL uniform layout:
// https://www.w3.org/TR/WGSL/#alignment-and-size).

export type UniformScalar = 'u32' | 'i32' | 'f32';

export interface UniformField {
  name: string;
  type: UniformScalar;
  offset: number;
}

export interface UniformLayout {
  fields: UniformField[];
  byteLength: number;
}

const SCALARS = new Set<string>(['u32', 'i32', 'f32']);

/** Reads `struct <structName> { ... }` from WGSL; throws if a field is not a 4-byte scalar. */
export function reflectUniformLayout(wgsl: string, structName = 'Params'): UniformLayout | null {
  const match = new RegExp(`struct\\s+${structName}\\s*\\{([^}]*)\\}`).exec(wgsl);
  if (!match) return null;
  const body = (match[1] ?? '').replace(/\/\/[^\n]*/g, '');
  const fields: UniformField[] = [];
  for (const part of body.split(',')) {
    const text = part.trim();
    if (!text) continue;
    const field = /^(\w+)\s*:\s*(\w+)$/.exec(text);
    if (!field || !SCALARS.has(field[2] ?? '')) {
      throw new Error(`uniform struct ${structName}: unsupported field "${text}" (only u32, i32, f32)`);
    }
    fields.push({ name: field[1] as string, type: field[2] as UniformScalar, offset: fields.length * 4 });
  }
  const byteLength = Math.max(16, Math.ceil((fields.length * 4) / 16) * 16);
  return { fields, byteLength };
}

/** Packs named values into the layout; every field must be given and no other name. */
export function packUniforms(layout: UniformLayout, values: Record<string, number>): ArrayBuffer {
  const buffer = new ArrayBuffer(layout.byteLength);
  const view = new DataView(buffer);
  const known = new Set(layout.fields.map((f) => f.name));
  for (const name of Object.keys(values)) {
    if (!known.has(name)) throw new Error(`uniform "${name}" is not a field of the kernel's Params`);
  }
  for (const field of layout.fields) {
    const value = values[field.name];
    if (value === undefined) throw new Error(`uniform "${field.name}" is missing`);
    if (field.type === 'f32') view.setFloat32(field.offset, value, true);
    else if (field.type === 'i32') view.setInt32(field.offset, value, true);
    else {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
        throw new Error(`uniform "${field.name}" = ${value} is not a u32`);
      }
      view.setUint32(field.offset, value, true);
    }
  }
  return buffer;
}
