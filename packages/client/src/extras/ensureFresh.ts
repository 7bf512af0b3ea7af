import type { AuthClient } from '../AuthClient.js';
import { AuthClientError } from '../errors.js';

/**
 * For long work (uploads, exports): an access token valid for at least `minValiditySeconds`,
 * refreshed first (asking the BFF for that validity) when the one in memory has less left.
 * Rejects as `getAccessToken()` does, and with `insufficient_lifetime` when the provider's
 * tokens do not live that long.
 * @example
 * const token = await ensureFresh(auth, 600); // valid ≥ 10 min
 */
export async function ensureFresh(client: AuthClient, minValiditySeconds: number): Promise<string> {
  let token = await client.getAccessToken();
  if (client.remainingSeconds() < minValiditySeconds) {
    await client.refresh('ensureFresh', Math.ceil(minValiditySeconds));
    token = await client.getAccessToken();
  }
  if (client.remainingSeconds() < minValiditySeconds) {
    const held = client.getSnapshot().token!;
    throw new AuthClientError(
      'insufficient_lifetime',
      `Asked for ${minValiditySeconds} s; tokens live ${Math.round((held.expiresAt - held.receivedAt) / 1000)} s.`,
    );
  }
  return token;
}
