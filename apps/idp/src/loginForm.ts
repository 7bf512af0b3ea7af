/** Where a walk keeps the provider's cookies between requests, as one browser does. */
export interface CookieJar {
  /** Takes the cookies a response sets (and drops those it clears). */
  store(response: Response): void;
  /** The `Cookie` header to send. */
  header(): string;
}

/** A jar that keeps each cookie's latest value (paths and expiry ignored). */
export function cookieJar(): CookieJar {
  const cookies = new Map<string, string>();
  return {
    store(response) {
      for (const line of response.headers.getSetCookie()) {
        const [pair = ''] = line.split(';');
        const eq = pair.indexOf('=');
        if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) cookies.delete(pair.slice(0, eq));
        else cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
    },
    header: () => [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
  };
}

/**
 * Walks the dev provider from an authorization URL as a browser would — its redirects and its
 * login form, signing in as `user` (password = user name) — until it sends the browser to a URL
 * starting with `until` (the client's redirect URI); answers that URL, not followed. For tests
 * and the benchmark, which sign in through the real form.
 */
export async function throughLoginForm(authorizationUrl: string, options: { until: string; user?: string; jar?: CookieJar }): Promise<string> {
  const { until, user = 'alice', jar = cookieJar() } = options;
  let url = authorizationUrl;
  for (let hop = 0; hop < 20; hop++) {
    if (url.startsWith(until)) return url;
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(response);
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get('location')!, url).href;
      continue;
    }
    const html = await response.text();
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`unexpected provider page (${response.status}): ${html.slice(0, 300)}`);
    const submit = await fetch(new URL(action, url), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: user, password: user }),
    });
    jar.store(submit);
    url = new URL(submit.headers.get('location')!, url).href;
  }
  throw new Error(`sign-in did not come back to ${until}`);
}
