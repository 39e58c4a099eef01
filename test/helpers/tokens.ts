// Tokens for tests: Qdrant-style HS256 JWTs, signed with jose, or from raw JSON text (so repeated
// keys, odd numbers and odd headers survive exactly as written).
import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';

export function hs256(claims: object, key: string): Promise<string> {
  return new SignJWT(claims as Record<string, unknown>).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(key));
}

export function rawHs256(payload: string | Buffer, key: string, header = '{"alg":"HS256"}'): string {
  const input = `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}
