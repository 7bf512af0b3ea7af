import { streamNotes } from '../../../../lib/notesApi';

export const dynamic = 'force-dynamic';

/** The caller's notes as server-sent events; in proxy mode, /api/auth/proxy/notes/events. */
export const GET = streamNotes;
