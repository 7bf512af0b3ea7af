// @ts-check
/**
 * The walk through the dev provider's login form, in plain JavaScript so that the soak and the
 * benchmark (scripts/, run by Node without a TypeScript loader) use the same one as the tests.
 * Types: loginForm.d.mts.
 */

/** @typedef {import('./loginForm.d.mts').CookieJar} CookieJar */

/**
 * A jar that keeps each cookie's latest value (paths and expiry ignored).
 * @returns {CookieJar}
 */
export function cookieJar() {
  /** @type {Map<string, string>} */
  const cookies = new Map();
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
 * @param {string} authorizationUrl
 * @param {{ until: string, user?: string, jar?: CookieJar }} options
 * @returns {Promise<string>}
 */
export async function throughLoginForm(authorizationUrl, options) {
  const { until, user = 'alice', jar = cookieJar() } = options;
  let url = authorizationUrl;
  for (let hop = 0; hop < 20; hop++) {
    if (url.startsWith(until)) return url;
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(response);
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get('location') ?? '', url).href;
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
    url = new URL(submit.headers.get('location') ?? '', url).href;
  }
  throw new Error(`sign-in did not come back to ${until}`);
}
