/**
 * Shannon entropy of a string, in bits per character: how unpredictable its characters are given their own
 * frequencies. Random keys score high (a random base64 string approaches 6), words and repeated characters low.
 *
 * @example shannonEntropy('aaaa') // 0
 * @example shannonEntropy('abcd') // 2
 */
export function shannonEntropy(value: string): number {
  if (value.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const char of value) counts.set(char, (counts.get(char) ?? 0) + 1);
  const length = [...value].length;
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / length;
    bits -= p * Math.log2(p);
  }
  return bits;
}
