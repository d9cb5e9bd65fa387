/**
 * `ipVersion` stands in for `net.isIP` so that the settings rules need no Node built-in: it must answer as Node does,
 * for the addresses administrators type and for random text.
 */
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ipVersion, isHostOrIp } from '../src/address.js';

const TYPED = [
  '10.0.0.1',
  '255.255.255.255',
  '256.1.1.1',
  '01.2.3.4',
  '1.2.3',
  '::1',
  '::',
  'fe80::1%eth0',
  'fe80::1%',
  '2001:db8::1',
  '2001:db8:::1',
  '::ffff:10.0.0.1',
  '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9',
  '[::1]',
  '::1/64',
  'smtp.district.k12.us',
  '',
];

/** A small seeded generator, so that a failure can be run again. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('ipVersion', () => {
  it.each(TYPED)('answers %j as net.isIP does', (text) => {
    expect(ipVersion(text)).toBe(isIP(text));
  });

  it('answers 100,000 random strings of address characters as net.isIP does', () => {
    const next = random(20261129);
    const alphabet = '0123456789abcdefABF:.%[]/ @_-xg';
    const differ: string[] = [];
    for (let i = 0; i < 100_000; i += 1) {
      const length = 1 + Math.floor(next() * 20);
      let text = '';
      for (let j = 0; j < length; j += 1) text += alphabet[Math.floor(next() * alphabet.length)];
      if (ipVersion(text) !== isIP(text)) differ.push(text);
    }
    expect(differ).toEqual([]);
  });

  it('lets isHostOrIp take an IPv6 SMTP Host', () => {
    expect(isHostOrIp('2001:db8::25')).toBe(true);
    expect(isHostOrIp('2001:db8:::25')).toBe(false);
  });
});
