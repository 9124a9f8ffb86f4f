import { createHash } from 'node:crypto';

/**
 * A small seeded PRNG (sfc32, seeded through splitmix32). Every malformed request is built from its own generator,
 * seeded by (campaign seed, surface, index), so a failure names three numbers and the request can be built again
 * without replaying the millions of draws before it.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** For the request `index` of `surface` in the campaign seeded `seed`. */
  static forRequest(seed: number, surface: string, index: number): Rng {
    const digest = createHash('sha256').update(`${seed}/${surface}/${index}`).digest();
    return new Rng(digest.readUInt32LE(0));
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** [0, 1) */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Short random text from a mixed alphabet (ASCII, separators, a few non-ASCII code points). */
  text(maxLength: number): string {
    const alphabet = 'abcXYZ019-_./%?#&= :\'"\\{}[]\u00e9\u4e2d\u{1f600}\u200b\u202e';
    const chars = [...alphabet];
    let out = '';
    const length = this.int(maxLength + 1);
    for (let i = 0; i < length; i++) out += this.pick(chars);
    return out;
  }
}

/** A short fingerprint of a request's bytes, printed with a failure so it can be matched when rebuilt. */
export function inputHash(...parts: Array<string | Buffer | undefined>): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part ?? '').update('\0');
  return hash.digest('hex').slice(0, 16);
}
