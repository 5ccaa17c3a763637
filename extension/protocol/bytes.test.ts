// utf8ToBytes against the platform's TextEncoder (the reference it replaces), lone surrogates too.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { utf8ToBytes } from './bytes';

const encoder = new TextEncoder();

describe('utf8ToBytes', () => {
  it('matches TextEncoder on fixed cases', () => {
    for (const s of [
      '',
      'plain ascii',
      'é',
      '€ and 𝄞',
      '\ud800',
      '\udc00x',
      'a\ud83d',
      '\ud83d\ude00\ud83d',
      '\u0000\u007f\u0080\u07ff\u0800\uffff',
    ])
      expect(utf8ToBytes(s)).toEqual(encoder.encode(s));
  });

  it('matches TextEncoder on random strings, including lone surrogates', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(utf8ToBytes(s)).toEqual(encoder.encode(s));
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffff })).map((u) => String.fromCharCode(...u)),
        (s) => {
          expect(utf8ToBytes(s)).toEqual(encoder.encode(s));
        },
      ),
    );
  });

  it('refuses non-strings', () => {
    expect(() => utf8ToBytes(1 as unknown as string)).toThrow(TypeError);
  });
});
