'use server';

import { getAuth } from '../../lib/auth';
import { demoConfig } from '../../lib/config';

export interface ActionResult {
  status: number;
  owner?: string;
  error?: string;
}

/** Calls the notes API with the signed-in user's token, from a server action. */
export async function loadNotesOnServer(): Promise<ActionResult> {
  let accessToken: string;
  try {
    ({ accessToken } = await getAuth().getAccessToken());
  } catch (error) {
    return { status: 401, error: (error as { code?: string }).code ?? String(error) };
  }
  const response = await fetch(`${demoConfig.appOrigin}/api/notes`, { headers: { authorization: `Bearer ${accessToken}` }, cache: 'no-store' });
  const body = (await response.json()) as { owner?: string; error?: string };
  return { status: response.status, ...(body.owner && { owner: body.owner }), ...(body.error && { error: body.error }) };
}
