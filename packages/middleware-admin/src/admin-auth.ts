import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminAccess, AdminAlias } from './parse-admin-command.js';

/** SHA-256 of a password: fixed length, so comparing digests leaks neither content nor length. */
export function passwordDigest(password: Buffer | string): Buffer {
  return createHash('sha256').update(password).digest();
}

/**
 * Constant-time check of a password a client sent against the configured `adminPassword`. Both are
 * hashed first because `timingSafeEqual` needs equal lengths and would otherwise leak the length.
 */
export function checkAdminPassword(given: Buffer | string, expected: string): boolean {
  return timingSafeEqual(passwordDigest(given), passwordDigest(expected));
}

/** What `adminAccessError` needs to know about the process config and the session. */
export interface AdminAccessInput {
  readonly access: AdminAccess;
  readonly alias: AdminAlias;
  /** `adminPassword` is set (non-empty). */
  readonly passwordSet: boolean;
  /** This session sent a correct `AUTH` for the current password. */
  readonly authenticated: boolean;
  /** `adminReadsRequireAuth` is true. */
  readonly readsRequireAuth: boolean;
}

/**
 * Whether a subcommand may run: undefined when it may, else the error reply text (without `-`).
 * Writes need `adminPassword` in the config and a successful AUTH on this connection; actions
 * (SCANCLUSTER) too once `adminPassword` is set, else they are reads; reads are open unless
 * `adminReadsRequireAuth`. AUTH itself is always allowed.
 */
export function adminAccessError(a: AdminAccessInput): string | undefined {
  if (a.access === 'auth') return undefined;
  if (a.access === 'write' || (a.access === 'action' && a.passwordSet)) {
    if (!a.passwordSet) return 'ERR admin writes are disabled: set adminPassword in the config';
    if (!a.authenticated) return `ERR admin writes need ${a.alias} AUTH first`;
    return undefined;
  }
  if (!a.readsRequireAuth) return undefined;
  if (!a.passwordSet) return 'ERR admin reads are disabled: adminReadsRequireAuth is set but adminPassword is not';
  if (!a.authenticated) return `ERR admin reads need ${a.alias} AUTH first`;
  return undefined;
}
