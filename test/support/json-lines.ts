import { readFileSync } from 'node:fs';

/**
 * Parses the complete lines of a JSON-lines file that a running server may be appending to. A reader can land
 * between the bytes of one append, so anything after the last newline is a line still being written, not a record.
 */
export function readJsonLines<T = unknown>(file: string): T[] {
  const text = readFileSync(file, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}
