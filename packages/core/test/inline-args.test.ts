import { describe, expect, it } from 'vitest';
import { splitInlineArgs } from '@slotrelay/core/internal';
import { BLANK_LINES, INLINE_CASES } from './fixtures/inline-args-cases.js';

const split = (line: string) => splitInlineArgs(Buffer.from(line, 'latin1')).map((b) => b.toString('latin1'));

describe('splitInlineArgs splits an inline line as Redis does (cases checked against redis-server)', () => {
  for (const c of INLINE_CASES) {
    it(c.name, () => {
      const line = `EVAL "return ARGV" 0 ${c.tail}\r\n`;
      if (c.args === 'unbalanced') expect(() => split(line)).toThrow('unbalanced quotes in request');
      else expect(split(line)).toEqual(['EVAL', 'return ARGV', '0', ...c.args]);
    });
  }
  for (const line of BLANK_LINES) {
    it(`a blank line ${JSON.stringify(line)} has no arguments`, () => expect(split(`${line}\r\n`)).toEqual([]));
  }
  it('the line ends at \\n and a \\r before it, also inside quotes', () => {
    expect(() => split('"a\r\n')).toThrow('unbalanced quotes in request');
    expect(split('a\n')).toEqual(['a']);
  });
  it('a NUL byte ends the line, as C strings do', () => expect(split('a b\x00c d\r\n')).toEqual(['a', 'b']));
  it('reads only buf[start, end)', () => {
    const buf = Buffer.from('xxGET "k 1"\r\nyy', 'latin1');
    expect(splitInlineArgs(buf, 2, 13).map(String)).toEqual(['GET', 'k 1']);
  });
});
