import { describe, expect, it } from 'vitest';
import { SHOWN_CHARACTERS, showValue } from '../src/truncate.js';

describe('showValue', () => {
  it('quotes a short, plain value unchanged', () => {
    expect(showValue('smtp.district.k12.us')).toBe('"smtp.district.k12.us"');
    expect(showValue('report.pdf', { quote: false })).toBe('report.pdf');
    expect(showValue('')).toBe('""');
  });

  it(`cuts a value after ${SHOWN_CHARACTERS} characters and gives its full length`, () => {
    const shown = showValue('a'.repeat(5_000_001));
    expect(shown).toBe(`"${'a'.repeat(SHOWN_CHARACTERS)}…" (5,000,001 characters)`);
    expect(showValue('b'.repeat(81), { quote: false })).toBe(`${'b'.repeat(80)}… (81 characters)`);
    expect(showValue('c'.repeat(80))).toBe(`"${'c'.repeat(80)}"`);
    expect(showValue('abcdef', { max: 3 })).toBe('"abc…" (6 characters)');
  });

  it('escapes quotes and backslashes inside quotes, not outside', () => {
    expect(showValue('say "hi" \\ bye')).toBe('"say \\"hi\\" \\\\ bye"');
    expect(showValue('C:\\files\\a.pdf', { quote: false })).toBe('C:\\files\\a.pdf');
  });

  it.each([
    ['a bell', '\u0007', '\\u0007'],
    ['NUL', '\u0000', '\\u0000'],
    ['CR LF', '\r\n', '\\u000d\\u000a'],
    ['a tab', '\t', '\\u0009'],
    ['DEL', '\u007f', '\\u007f'],
    ['a C1 control', '\u0085', '\\u0085'],
    ['a right-to-left override', '\u202e', '\\u202e'],
    ['a line separator', '\u2028', '\\u2028'],
    ['a lone surrogate', '\ud800', '\\ud800'],
    ['a tag character', '\u{e0041}', '\\u{e0041}'],
  ])('shows %s as an escape', (_case, character, escaped) => {
    expect(showValue(`x${character}y`)).toBe(`"x${escaped}y"`);
    expect(showValue(`x${character}y`, { quote: false })).toBe(`x${escaped}y`);
  });

  it('keeps letters of every script and emoji as they are', () => {
    expect(showValue('Zoë Ñandú 学校 👩‍🏫')).toBe('"Zoë Ñandú 学校 👩\\u200d🏫"');
  });

  it('never cuts a surrogate pair in half', () => {
    const shown = showValue(`${'a'.repeat(79)}😀😀`);
    expect(shown).toBe(`"${'a'.repeat(79)}…" (83 characters)`);
  });

  it('keeps a message short whatever the value holds', () => {
    expect(showValue('\u0000'.repeat(1_000_000)).length).toBeLessThan(SHOWN_CHARACTERS * 6 + 40);
  });
});
