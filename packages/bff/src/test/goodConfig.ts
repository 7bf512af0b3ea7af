/** A valid configuration for tests that need no provider: nothing is contacted until a request. */
export const good = Object.freeze({
  issuer: 'https://idp.example/',
  clientId: 'c',
  clientSecret: 's',
  appOrigin: 'https://app.example',
  cookieSecret: 'a-perfectly-random-secret-of-more-than-32-chars',
});
