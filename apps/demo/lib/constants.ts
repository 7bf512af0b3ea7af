/** The dev provider's audience for the demo API (apps/idp). */
export const DEMO_API_AUDIENCE_DEFAULT = 'urn:latchkey:demo-api';
