'use client';

import { useState, useTransition } from 'react';
import { loadNotesOnServer, type ActionResult } from './actions';

/** A button that runs a server action calling the API with the user's token. */
export function ActionPanel() {
  const [result, setResult] = useState<ActionResult | undefined>();
  const [runs, setRuns] = useState(0);
  const [pending, start] = useTransition();
  return (
    <section>
      <button
        data-testid="run-action"
        disabled={pending}
        onClick={() =>
          start(async () => {
            setResult(await loadNotesOnServer());
            setRuns((n) => n + 1);
          })
        }
      >
        Load the notes in a server action
      </button>
      {result && (
        <p>
          Action run <span data-testid="action-runs">{runs}</span>: the API answered <span data-testid="action-status">{result.status}</span>
          {result.owner ? <> for <span data-testid="action-owner">{result.owner}</span></> : <> ({result.error})</>}.
        </p>
      )}
    </section>
  );
}
