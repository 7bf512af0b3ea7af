import type { SessionUser, SignedOutReason } from '@latchkey/core';
import type { DpopKey } from './dpop.js';

/** An access token as the client holds it; times are on the local clock (ms). */
export interface AccessToken {
  value: string;
  /** The scheme it is sent with, as the BFF named it: `Bearer`, or `DPoP` for a token bound to this browser's key. */
  type: string;
  receivedAt: number;
  expiresAt: number;
  scope: string;
}

/**
 * What tabs of one app tell each other. Tabs share one machine clock, so absolute local
 * times travel as they are.
 * - `token`: this tab got a new token from the BFF; others adopt it instead of refreshing;
 * - `end`: the session ended here (sign-out or a terminal answer); every tab leaves;
 * - `input`: a person used this tab at `at` (sent at most every 10 s), for the idle timeout;
 * - `key?`, `key`: with `dpop()`, a tab asks for the DPoP key the tabs share, and one that has it
 *   offers it (and the token endpoint it learned); the private key stays non-extractable.
 */
export type TabMessage =
  | { t: 'token'; token: AccessToken; user: SessionUser }
  | { t: 'end'; reason: SignedOutReason }
  | { t: 'input'; at: number }
  | { t: 'key?' }
  | { t: 'key'; key: DpopKey; htu: string | undefined };

/** The part of `BroadcastChannel` the client uses. */
export interface TabChannel {
  postMessage(message: TabMessage): void;
  onmessage: ((event: { data: TabMessage }) => void) | null;
  close(): void;
}

/** The part of the Web Locks API the client uses (`navigator.locks`). */
export interface TabLocks {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** Browser defaults: `navigator.locks`, and a `BroadcastChannel` when the browser has one. */
export const browserLocks = (): TabLocks | undefined => globalThis.navigator?.locks as TabLocks | undefined;

export const browserChannel = (name: string): TabChannel | undefined =>
  typeof BroadcastChannel === 'function' ? (new BroadcastChannel(name) as unknown as TabChannel) : undefined;
