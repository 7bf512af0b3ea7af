/** What anyone but an admin sees at /admin (status 403). */
export default function Forbidden() {
  return (
    <main>
      <h1 data-testid="forbidden">403: administrators only</h1>
      <p>
        The operations dashboard is for users whose ID token carries the admin role. <a href="/">Back to the SPA page</a>
      </p>
    </main>
  );
}
