// Formatting and input checks used by the options page and popup.
import { describe, expect, it } from 'vitest';
import {
  digitGroups,
  identityQrPayload,
  isUsableDirectoryUrl,
  isValidHandle,
  normalizeSiteHost,
} from './format';
import { t } from './i18n';
import english from '../public/_locales/en/messages.json';

describe('handles', () => {
  it('accepts what the directory accepts', () => {
    for (const ok of ['alice', 'a', 'bob.smith', 'x_1-2', '0day', 'a'.repeat(64)])
      expect(isValidHandle(ok)).toBe(true);
    for (const bad of ['', 'Alice', '.alice', '-a', 'a b', 'a'.repeat(65), 'ünï', 'a/b'])
      expect(isValidHandle(bad)).toBe(false);
  });
});

describe('digit groups', () => {
  it('splits a 60-digit safety number into 12 groups of 5', () => {
    const digits = '0123456789'.repeat(6);
    const groups = digitGroups(digits);
    expect(groups).toHaveLength(12);
    expect(groups.every((g) => g.length === 5)).toBe(true);
    expect(groups.join('')).toBe(digits);
  });

  it('splits a 30-digit half into 6 groups', () => {
    expect(digitGroups('123451234512345123451234512345')).toHaveLength(6);
  });
});

describe('directory URLs', () => {
  it('takes https anywhere and http only on this machine', () => {
    expect(isUsableDirectoryUrl('https://keys.example.org')).toBe(true);
    expect(isUsableDirectoryUrl('http://127.0.0.1:8787')).toBe(true);
    expect(isUsableDirectoryUrl('http://localhost:8787/')).toBe(true);
    expect(isUsableDirectoryUrl('http://keys.example.org')).toBe(false);
    expect(isUsableDirectoryUrl('ftp://keys.example.org')).toBe(false);
    expect(isUsableDirectoryUrl('keys.example.org')).toBe(false);
  });
});

describe('site hosts', () => {
  it('reduces what people paste to a host name', () => {
    expect(normalizeSiteHost('Chat.Example.com')).toBe('chat.example.com');
    expect(normalizeSiteHost('https://chat.example.com/room/1')).toBe('chat.example.com');
    expect(normalizeSiteHost('localhost:9000')).toBe('localhost:9000');
    expect(normalizeSiteHost('')).toBeNull();
    expect(normalizeSiteHost('not a host')).toBeNull();
  });
});

describe('identity QR payload', () => {
  it('matches the key directory page', () => {
    expect(identityQrPayload('alice', 'AAAA')).toBe('veil:identity:v1:alice:AAAA');
  });
});

describe('i18n fallback (no extension runtime)', () => {
  it('substitutes named placeholders like browser.i18n', () => {
    expect(t('verify_title', 'bob')).toBe('Verify bob');
    expect(t('popup_contacts_summary', ['3', '1'])).toBe('3 contacts, 1 verified');
  });

  it('has a message for every key and only browser-legal names', () => {
    for (const [key, entry] of Object.entries(english)) {
      expect(key).toMatch(/^[A-Za-z0-9_@]+$/);
      expect(entry.message.length).toBeGreaterThan(0);
    }
  });
});
