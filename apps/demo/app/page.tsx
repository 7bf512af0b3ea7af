import { NotesPage } from './NotesPage';

export default function Home() {
  return <NotesPage />;
}
