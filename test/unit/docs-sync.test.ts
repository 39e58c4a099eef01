// Keeps the README's access table and config/example.yaml true to the code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TENANT_TABLE } from '../../src/access/tenant-table.js';
import { parseConfig } from '../../src/config/load.js';
import { EXPECTATIONS, type Identity } from '../helpers/access-expectations.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const example = readFileSync(new URL('../../config/example.yaml', import.meta.url), 'utf8');
const SYMBOL = { allow: '✅', deny: '❌', filter: '🟡' } as const;
const COLUMNS: Identity[] = ['manage', 'read_only', 'coll_rw', 'coll_prw', 'coll_r', 'other_coll'];

describe('README', () => {
  it('has a row of the access table for every method, matching Qdrant 1.19', () => {
    for (const [path, m] of Object.entries(EXPECTATIONS.methods)) {
      const row =
        m.manage === 'no_auth'
          ? `| \`${path.slice(1)}\` | no credential needed |`
          : `| \`${path.slice(1)}\` | ${COLUMNS.map((c) => SYMBOL[m[c] as keyof typeof SYMBOL]).join(' | ')} |`;
      expect(readme).toContain(row);
    }
  });
});

describe('README "Tenant isolation"', () => {
  it('has a row for every method of the tenant table, with its treatment', () => {
    const label: Record<string, string> = {
      filter: 'filter merged',
      selector: 'selector confined',
      upsert: 'upsert checked',
      filter_write: 'update_filter merged',
      get: 'ids looked up',
      allow: 'allowed',
      refuse: 'refused',
    };
    for (const [path, t] of Object.entries(TENANT_TABLE)) expect(readme).toContain(`| \`${path.slice(1)}\` | ${label[t.kind]} |`);
  });
});

describe('config/example.yaml', () => {
  it('is valid, and shows every key with its default value', () => {
    const shown = parse(example) as Record<string, Record<string, unknown>>;
    const defaults = parseConfig({}) as unknown as Record<string, unknown>;
    expect(parseConfig(shown)).toEqual(defaults);
    for (const [section, value] of Object.entries(defaults)) {
      if (typeof value === 'object' && value !== null) expect(Object.keys(shown[section] ?? {}).sort()).toEqual(Object.keys(value).sort());
    }
  });
});

describe('config/example.yaml identity provider', () => {
  it('is a valid provider, and shows every provider key (with its default where it has one)', () => {
    const lines = example.split('\n');
    const start = lines.indexOf('  # jwt_providers:');
    const end = lines.findIndex((line, i) => i > start && !line.startsWith('  #'));
    const block = lines
      .slice(start, end)
      .map((line) => line.slice(4))
      .join('\n');
    const shown = parse(block) as { jwt_providers: Record<string, unknown>[] };
    const provider = shown.jwt_providers[0]!;
    const parsed = parseConfig({ auth: { jwt_providers: [provider] } }).auth.jwt_providers[0]!;
    const defaults = parseConfig({
      auth: {
        jwt_providers: [{ name: 'n', issuer: 'https://i', audiences: ['a'], discovery: true, access_rules: [{ claim: 'c', contains: 'v', access: 'r' }] }],
      },
    }).auth.jwt_providers[0]!;
    expect(Object.keys(provider).sort()).toEqual(Object.keys(parsed).sort());
    expect(provider.jwks).toEqual(defaults.jwks);
    for (const key of [
      'jwks_uri',
      'jwks_file',
      'algorithms',
      'leeway_seconds',
      'require_exp',
      'require_iat',
      'max_token_age_seconds',
      'subject_claim',
      'access_claim',
    ] as const)
      expect(provider[key], key).toEqual(defaults[key]);
  });
});

describe('README "Connecting clients"', () => {
  // Each snippet is the connecting code of the interop program that runs it (test/interop/).
  const programs = ['go/main.go', 'python/interop.py', 'rust/src/main.rs', 'java/src/main/java/interop/Interop.java', 'js/interop.mjs'];
  const dedent = (text: string) => {
    const lines = text.split('\n');
    const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^[ \t]*/.exec(l)![0].length));
    return lines.map((l) => l.slice(indent)).join('\n');
  };
  for (const program of programs) {
    it(`shows test/interop/${program}'s connecting code as it is`, () => {
      const source = readFileSync(new URL(`../interop/${program}`, import.meta.url), 'utf8');
      const region = /^[ \t]*(?:\/\/|#) README: connecting\n([\s\S]*?)^[ \t]*(?:\/\/|#) README: end/m.exec(source);
      expect(region, 'README markers in the program').not.toBeNull();
      expect(readme).toContain(dedent(region![1]!.replace(/\n$/, '')));
    });
  }
});
