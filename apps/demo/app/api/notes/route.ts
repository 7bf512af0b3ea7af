import { listNotes } from '../../../lib/notesApi';

export const dynamic = 'force-dynamic';

/** The notes API's first address, kept for server code and other clients; the page uses /api/notes/items. */
export const GET = listNotes;
