export { authHeaders, dpop, type DpopOptions } from '@latchkey/client/dpop';
