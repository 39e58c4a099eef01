import { describe, expect, it } from 'vitest';
import { AccessClaimError, accessFromClaims, claimAt, claimContains, combine } from '../../src/auth/providers/claims-access.js';

describe('claimAt', () => {
  const claims = {
    sub: 'alice',
    resource_access: { qdrant: { roles: ['team-a'] } },
    'https://example.com/roles': ['admin'],
    realm: { 'a.b': { c: 1 }, a: { b: { d: 2 } } },
    list: [{ x: 1 }],
  };

  it('follows dotted paths, taking keys that contain dots where present', () => {
    expect(claimAt(claims, 'sub')).toBe('alice');
    expect(claimAt(claims, 'resource_access.qdrant.roles')).toEqual(['team-a']);
    expect(claimAt(claims, 'https://example.com/roles')).toEqual(['admin']);
    expect(claimAt(claims, 'realm.a.b.c')).toBe(1);
  });

  it('the longest key wins and the path goes on from it alone (no second reading)', () => {
    expect(claimAt(claims, 'realm.a.b.d')).toBeUndefined();
    expect(claimAt({ 'a.b': {}, a: { b: { c: ['x'] } } }, 'a.b.c')).toBeUndefined();
    expect(claimAt({ a: { b: { c: ['x'] } } }, 'a.b.c')).toEqual(['x']);
  });

  it('is undefined where the path leads nowhere (no indexing into lists or strings)', () => {
    expect(claimAt(claims, 'missing')).toBeUndefined();
    expect(claimAt(claims, 'sub.length')).toBeUndefined();
    expect(claimAt(claims, 'list.0.x')).toBeUndefined();
    expect(claimAt(claims, 'resource_access.qdrant.roles.x')).toBeUndefined();
    expect(claimAt(claims, '__proto__')).toBeUndefined();
    expect(claimAt(claims, 'constructor')).toBeUndefined();
  });
});

describe('claimContains', () => {
  it('matches a string, a word of a space-separated scope (scope, scp), or an item of a list', () => {
    expect(claimContains('qdrant-admins', 'qdrant-admins')).toBe(true);
    expect(claimContains('openid qdrant:read email', 'qdrant:read', 'scope')).toBe(true);
    expect(claimContains('openid qdrant:read email', 'qdrant:read', 'token.scp')).toBe(true);
    expect(claimContains('openid qdrant:read:all', 'qdrant:read', 'scope')).toBe(false);
    // Any other string is compared whole: a free-text claim does not grant by holding a word.
    expect(claimContains('evil reporter@p.iam.gserviceaccount.com', 'reporter@p.iam.gserviceaccount.com', 'email')).toBe(false);
    expect(claimContains('Alice qdrant-admins', 'qdrant-admins', 'name')).toBe(false);
    expect(claimContains(['a', 'team-a'], 'team-a')).toBe(true);
    expect(claimContains(['team-ab'], 'team-a')).toBe(false);
    expect(claimContains([['team-a']], 'team-a')).toBe(false);
    expect(claimContains(1, '1')).toBe(false);
    expect(claimContains(undefined, 'x')).toBe(false);
    expect(claimContains({ 'team-a': true }, 'team-a')).toBe(false);
  });
});

describe('combine', () => {
  it('manage wins over everything', () => {
    expect(combine(['r', 'm', [{ collection: 'c', access: 'r' }]])).toEqual({ access: 'manage' });
  });

  it('global read keeps the write grants of collections', () => {
    expect(
      combine([
        'r',
        [
          { collection: 'a', access: 'rw' },
          { collection: 'b', access: 'r' },
        ],
        [{ collection: 'c', access: 'prw' }],
      ]),
    ).toEqual({
      access: 'read',
      writes: new Map([
        ['a', 'rw'],
        ['c', 'prw'],
      ]),
    });
  });

  it('collections take their highest mode (r < prw < rw)', () => {
    const combined = combine([
      [{ collection: 'a', access: 'r' }],
      [
        { collection: 'a', access: 'prw' },
        { collection: 'b', access: 'rw' },
      ],
      [{ collection: 'b', access: 'prw' }],
    ]);
    expect(combined).toEqual({
      access: 'collections',
      collections: new Map([
        ['a', 'prw'],
        ['b', 'rw'],
      ]),
      tenants: new Map(),
    });
  });

  it('tenants: a collection stays tenant-bound only while every grant of it names the same tenant', () => {
    const acme = [{ key: 'tenant', value: 'acme' }];
    const globex = [{ key: 'tenant', value: 'globex' }];
    const bound = combine([[{ collection: 'docs', access: 'r', payload: acme }], [{ collection: 'docs', access: 'rw', payload: acme }]]);
    expect(bound).toEqual({ access: 'collections', collections: new Map([['docs', 'rw']]), tenants: new Map([['docs', acme]]) });
    const widened = combine([[{ collection: 'docs', access: 'r', payload: acme }], [{ collection: 'docs', access: 'r' }]]);
    expect(widened).toEqual({ access: 'collections', collections: new Map([['docs', 'r']]), tenants: new Map() });
    expect(() => combine([[{ collection: 'docs', access: 'r', payload: acme }], [{ collection: 'docs', access: 'r', payload: globex }]])).toThrow(
      AccessClaimError,
    );
    expect(() => combine(['r', [{ collection: 'docs', access: 'rw', payload: acme }]])).toThrow(
      'a global read grant cannot be combined with tenant-bound grants',
    );
  });

  it('no grant, or only empty lists, is no access at all (never manage)', () => {
    expect(combine([])).toBeNull();
    expect(combine([[], []])).toBeNull();
  });
});

describe('accessFromClaims', () => {
  const rules = [
    { claim: 'groups', contains: 'qdrant-admins', access: 'm' as const },
    { claim: 'scope', contains: 'qdrant:read', access: 'r' as const },
    { claim: 'resource_access.qdrant.roles', contains: 'team-a', access: [{ collection: 'team-a-docs', access: 'rw' as const }] },
  ];

  it('unites the access claim and every matching rule', () => {
    expect(accessFromClaims({ groups: ['qdrant-admins'] }, { accessClaim: null, rules })).toEqual({ access: 'manage' });
    expect(accessFromClaims({ scope: 'openid qdrant:read', resource_access: { qdrant: { roles: ['team-a'] } } }, { accessClaim: null, rules })).toEqual({
      access: 'read',
      writes: new Map([['team-a-docs', 'rw']]),
    });
    expect(
      accessFromClaims(
        { qdrant: { access: [{ collection: 'x', access: 'r' }] }, resource_access: { qdrant: { roles: ['team-a'] } } },
        { accessClaim: 'qdrant.access', rules },
      ),
    ).toEqual({
      access: 'collections',
      collections: new Map([
        ['x', 'r'],
        ['team-a-docs', 'rw'],
      ]),
      tenants: new Map(),
    });
  });

  it('nothing matching is null', () => {
    expect(accessFromClaims({ groups: ['users'], scope: 'openid' }, { accessClaim: 'access', rules })).toBeNull();
  });

  it("an access claim not shaped like Qdrant's is an error, not a silent nothing", () => {
    for (const bad of [
      'rw',
      'manage',
      1,
      { collection: 'a', access: 'r' },
      [{ collection: 'a', access: 'w' }],
      [{ collection: 'a' }],
      [{ collection: 'a', access: 'r', payload: {} }],
      [
        { collection: 'a', access: 'r' },
        { collection: 'a', access: 'rw' },
      ],
    ])
      expect(() => accessFromClaims({ access: bad }, { accessClaim: 'access', rules: [] }), JSON.stringify(bad)).toThrow(AccessClaimError);
  });
});
