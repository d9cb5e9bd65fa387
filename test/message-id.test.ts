import { describe, expect, it } from 'vitest';
import {
  generateMessageId,
  MAX_MESSAGE_ID_LENGTH,
  normalizeMessageId,
  wireMessageId,
} from '../src/message-id.js';
import { controlled, controlledSettings, ok, until } from './support/controlled-transport.js';

describe('normalizeMessageId', () => {
  it('adds the angle brackets a caller left out, and keeps the ones given', () => {
    expect(normalizeMessageId('a@x.org')).toBe('<a@x.org>');
    expect(normalizeMessageId('<a@x.org>')).toBe('<a@x.org>');
    expect(normalizeMessageId('\t <a@x.org> ')).toBe('<a@x.org>');
  });

  it(`accepts an id of exactly ${MAX_MESSAGE_ID_LENGTH} characters, brackets included, and not one more`, () => {
    const left = (length: number) => 'm'.repeat(length - '<@x.org>'.length);
    expect(normalizeMessageId(`${left(MAX_MESSAGE_ID_LENGTH)}@x.org`)).toHaveLength(MAX_MESSAGE_ID_LENGTH);
    expect(normalizeMessageId(`${left(MAX_MESSAGE_ID_LENGTH + 1)}@x.org`)).toBeUndefined();
    expect(MAX_MESSAGE_ID_LENGTH + 'Message-ID: '.length).toBe(998);
  });

  it.each(['', '<>', 'a@x.org.', '<a@x..org>', 'a@x.org (comment)', '"a"@x.org', 'a@x.org\r\n'])(
    'refuses %j',
    (value) => {
      expect(normalizeMessageId(value)).toBeUndefined();
    },
  );
});

describe('generateMessageId', () => {
  it('writes <unique@domain>, a valid id in wire form', () => {
    const id = generateMessageId('0a1b2c3d4e5f-1.lq2x', 'district.k12.us');
    expect(id).toBe('<0a1b2c3d4e5f-1.lq2x@district.k12.us>');
    expect(normalizeMessageId(id)).toBe(id);
  });

  it('drops the trailing dot of a fully qualified domain, which a msg-id cannot end in', () => {
    const id = generateMessageId('0a1b2c3d4e5f-1.lq2x', 'district.k12.us.');
    expect(id).toBe('<0a1b2c3d4e5f-1.lq2x@district.k12.us>');
    expect(normalizeMessageId(id)).toBe(id);
  });
});

describe('wireMessageId', () => {
  it('gives the wire form of a valid id', () => {
    expect(wireMessageId(' a@x.org ')).toBe('<a@x.org>');
  });

  it('gives an invalid id as nodemailer writes it, so that what is reported is what was written', () => {
    expect(wireMessageId(' ')).toBe('< >');
    expect(wireMessageId('a b')).toBe('<a b>');
    expect(wireMessageId('<a\u0000b')).toBe('<ab>');
    expect(wireMessageId('')).toBe('');
  });
});

describe('Mailer Message-ID with a fully qualified sender domain', () => {
  it('generates a valid id, the one reported, for a sender whose domain ends in a dot', async () => {
    const { mailer, transports } = controlled({
      settings: { ...controlledSettings, defaultSenderAddress: 'messenger@district.k12.us.' },
    });
    const sending = mailer.send({ to: 'parent@example.org', subject: 'Hi', text: 'x' });
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    const call = transports[0]?.calls[0];
    call?.resolve(ok(call.mail));
    const report = await sending;
    expect(normalizeMessageId(report.messageId)).toBe(report.messageId);
    expect(report.messageId).toMatch(/@district\.k12\.us>$/);
    await mailer.close();
  });
});
