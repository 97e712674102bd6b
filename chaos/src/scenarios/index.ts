import type { Scenario } from '../types.js';
import { badClients } from './bad-clients.js';

/** Every scenario, in the order `npm run chaos` runs them. Each lives in its own file. */
export const scenarios: Scenario[] = [
  badClients,
];
