import { readFile } from 'node:fs/promises';

/** The last `lines` lines of a file, or a note that it could not be read. */
export async function tailFile(file: string, lines = 25): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    const all = text.trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  } catch (err) {
    return `(cannot read ${file}: ${(err as Error).message})`;
  }
}
