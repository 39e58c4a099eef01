// Who a call is, once authenticated. Read-only; later stages require it.

export type CollectionMode = 'r' | 'rw' | 'prw';

export interface ValueExistsClaim {
  readonly collection: string;
  readonly matches: readonly { readonly key: string; readonly value: string | number | boolean }[];
}

/** Qdrant's audit auth types, plus `Certificate` for `auth.client_cert_identities`. */
export type AuthType = 'ApiKey' | 'Jwt' | 'None' | 'Certificate';

export type Principal =
  | { readonly access: 'manage' | 'read'; readonly authType: AuthType; readonly subject?: string; readonly valueExists?: ValueExistsClaim }
  | {
      readonly access: 'collections';
      readonly authType: 'Jwt' | 'Certificate';
      readonly collections: ReadonlyMap<string, CollectionMode>;
      readonly subject?: string;
      readonly valueExists?: ValueExistsClaim;
    };

/** The identity of every call when no key is configured: Qdrant then has no auth layer at all. */
export const NO_AUTH_PRINCIPAL: Principal = Object.freeze({ access: 'manage', authType: 'None' });
