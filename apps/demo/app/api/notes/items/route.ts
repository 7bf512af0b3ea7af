import { listNotes } from '../../../../lib/notesApi';

export const dynamic = 'force-dynamic';

/** The caller's notes; in proxy mode the page reaches this as /api/auth/proxy/notes/items. */
export const GET = listNotes;
