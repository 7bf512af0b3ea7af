export { LatchkeyDevtools, type DevtoolsEntry, type LatchkeyDevtoolsProps } from './LatchkeyDevtools.js';
