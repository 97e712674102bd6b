import type { Scenario } from '../types.js';
import { badClients } from './bad-clients.js';
import { hugeArgument } from './huge-argument.js';
import { malformedInput } from './malformed-input.js';
import { slowClients } from './slow-clients.js';

/** Every scenario, in the order `npm run chaos` runs them. Each lives in its own file. */
export const scenarios: Scenario[] = [
  slowClients,
  badClients,
  malformedInput,
  hugeArgument,
];
