// Completeness of site-adapters/ (no DOM needed): every file that defines an adapter is
// registered, every registered adapter has a saved fixture that the browser fixture test runs,
// and every fixture file is described. Behaviour on the fixtures: tests/e2e/adapters-fixtures.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { adapterFixtures } from './fixtures/index';
import { adapterById, adapterFor, allAdapters, genericAdapter, siteAdapters } from './registry';

const dir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(dir, '..');
const fixturesDir = path.join(dir, 'fixtures');

/** site-adapters/*.ts that define an adapter (through defineAdapter or as a SiteAdapter). */
function adapterFiles(): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .filter((f) => {
      const source = fs.readFileSync(path.join(dir, f), 'utf8');
      return /=\s*defineAdapter\(|:\s*SiteAdapter\s*=/.test(source);
    });
}

describe('site adapter registry', () => {
  it('registers every file that defines an adapter', async () => {
    const files = adapterFiles();
    expect(files).toContain('thelounge.ts');
    expect(files).toContain('generic.ts');
    for (const file of files) {
      const mod = (await import(/* @vite-ignore */ path.join(dir, file))) as Record<
        string,
        unknown
      >;
      const defined = Object.values(mod).filter((v) => allAdapters.includes(v as never));
      expect(defined, `${file} exports an adapter listed in registry.ts`).not.toHaveLength(0);
    }
    expect(allAdapters).toHaveLength(files.length);
  });

  it('has unique ids, sane limits, and the generic adapter last', () => {
    const ids = allAdapters.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const a of allAdapters) {
      expect(a.id).toMatch(/^[a-z0-9-]+$/);
      // armor needs at least 32 characters per chunk
      expect(a.maxMessageLength).toBeGreaterThanOrEqual(32);
      expect(a.sendIntervalMs).toBeGreaterThanOrEqual(0);
      expect(adapterById(a.id)).toBe(a);
    }
    expect(allAdapters.at(-1)).toBe(genericAdapter);
    expect(siteAdapters).not.toContain(genericAdapter);
  });

  it('gives every adapter a saved fixture that exists', () => {
    for (const adapter of allAdapters) {
      const fixtures = adapterFixtures.filter((f) => f.adapter === adapter.id);
      expect(fixtures.length, `fixture for ${adapter.id}`).toBeGreaterThan(0);
      for (const f of fixtures) expect(fs.existsSync(path.join(fixturesDir, f.file))).toBe(true);
    }
  });

  it('describes every fixture file, each once', () => {
    const files = fs.readdirSync(fixturesDir).filter((f) => f.endsWith('.html'));
    expect(adapterFixtures.map((f) => f.file).sort()).toEqual(files.sort());
    for (const f of adapterFixtures) {
      expect(adapterById(f.adapter), `${f.file} names a registered adapter`).toBeDefined();
      expect(f.own).toHaveLength(f.authors.length);
      expect(fs.readFileSync(path.join(fixturesDir, f.file), 'utf8')).not.toMatch(/<script\b/i);
    }
  });

  it('runs the fixtures in the browser fixture test', () => {
    const test = fs.readFileSync(
      path.join(repoRoot, 'tests/e2e/adapters-fixtures.test.ts'),
      'utf8',
    );
    expect(test).toMatch(/describe\.each\(adapterFixtures\)/);
  });

  it('matches site adapters by their marker, not by the generic fallback', () => {
    // A stand-in document: enough for `matches`, which only asks for a selector.
    const doc = (present: string[]) =>
      ({
        querySelector: (selector: string) => (present.includes(selector) ? {} : null),
        querySelectorAll: () => [],
        activeElement: null,
      }) as unknown as Document;
    const lounge = doc([
      'meta[name="application-name"][content="The Lounge"]',
      '#form textarea#input',
    ]);
    expect(adapterFor('http://irc.example:9000/#/chan-2', lounge)?.id).toBe('thelounge');
    expect(adapterFor(new URL('https://example.com/'), doc([]))).toBeNull();
    expect(adapterFor('https://example.com/', doc(['[data-veil-messages]']))?.id).toBe('generic');
  });
});
