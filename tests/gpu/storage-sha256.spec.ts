// The incremental SHA-256 of src/storage/sha256.ts against FIPS 180-4 vectors and WebCrypto (Node's), with
// random lengths, random split points, and a state saved and restored at 64-byte boundaries. Runs in Node.
import { expect, test } from '@playwright/test';
import { Sha256, sha256Hex } from '../../src/storage/sha256.ts';

const hexOf = async (bytes: Uint8Array) =>
  Buffer.from(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)).toString('hex');

test('known vectors', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  expect(sha256Hex(enc(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  expect(sha256Hex(enc('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  expect(sha256Hex(enc('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  );
  const million = new Sha256();
  for (let i = 0; i < 1000; i++) million.update(enc('a'.repeat(1000)));
  expect(million.digestHex()).toBe('cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
});

test('matches WebCrypto on random inputs fed in random pieces, and across a saved state', async () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let trial = 0; trial < 60; trial++) {
    const length = trial < 20 ? trial * 7 : rand(300_000);
    const data = new Uint8Array(length);
    for (let i = 0; i < length; i++) data[i] = rand(256);
    const hasher = new Sha256();
    let at = 0;
    while (at < length) {
      const n = Math.min(length - at, 1 + rand(70_000));
      hasher.update(data.subarray(at, at + n));
      at += n;
    }
    const expected = await hexOf(data);
    expect(hasher.digestHex(), `length ${length}`).toBe(expected);

    const cut = Math.floor(rand(length + 1) / 64) * 64;
    const first = new Sha256().update(data.subarray(0, cut));
    const resumed = new Sha256(JSON.parse(JSON.stringify(first.save())));
    expect(resumed.update(data.subarray(cut)).digestHex(), `resumed at ${cut} of ${length}`).toBe(expected);
  }
});

test('refuses a state off a 64-byte boundary and use after digest', () => {
  const hasher = new Sha256().update(new Uint8Array(10));
  expect(() => hasher.save()).toThrow(/64-byte boundary/);
  expect(() => new Sha256({ h: [0, 0, 0, 0, 0, 0, 0, 0], length: 10 })).toThrow(RangeError);
  hasher.digest();
  expect(() => hasher.update(new Uint8Array(1))).toThrow(/after digest/);
});
