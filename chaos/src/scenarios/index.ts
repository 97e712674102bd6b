import type { Scenario } from '../types.js';
import { badClients } from './bad-clients.js';
import { failover } from './failover.js';
import { hugeArgument } from './huge-argument.js';
import { malformedInput } from './malformed-input.js';
import { manyConnections } from './many-connections.js';
import { nodeDown } from './node-down.js';
import { partition } from './partition.js';
import { proxyKill } from './proxy-kill.js';
import { reshard } from './reshard.js';
import { slowClients } from './slow-clients.js';

/** Every scenario, in the order `npm run chaos` runs them. Each lives in its own file. */
export const scenarios: Scenario[] = [
  failover,
  reshard,
  proxyKill,
  nodeDown,
  partition,
  slowClients,
  badClients,
  malformedInput,
  hugeArgument,
  manyConnections,
];
