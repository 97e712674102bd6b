import { Container } from 'inversify';
import { describe, expect, it } from 'vitest';
import {
  FleetControl,
  Logger,
  Middleware,
  SlotrelayConfig,
  TopologyServiceToken,
  silentLogger,
} from '@slotrelay/core/internal';
import { sessionHarness } from '@slotrelay/testkit';
import adminModule, { AdminMiddleware } from '@slotrelay/middleware-admin';
import { cmd, stubControl, stubTopology } from './support/fixtures.js';

function container(withControl: boolean): Container {
  const c = new Container();
  c.bind(TopologyServiceToken).toConstantValue(stubTopology());
  c.bind(SlotrelayConfig).toConstantValue({ connections: [] });
  c.bind(Logger).toConstantValue(silentLogger);
  if (withControl) c.bind(FleetControl).toConstantValue(stubControl());
  return c;
}

describe('the default export', () => {
  it('binds AdminMiddleware under the Middleware token, as a singleton, FleetControl optional', async () => {
    for (const withControl of [false, true]) {
      const c = container(withControl);
      await c.load(adminModule);
      const all = c.getAll<Middleware>(Middleware);
      expect(all).toHaveLength(1);
      expect(all[0]).toBeInstanceOf(AdminMiddleware);
      expect(c.getAll<Middleware>(Middleware)[0]).toBe(all[0]);
      const h = await sessionHarness({ middleware: all });
      h.clientSends(cmd('GALLIUMDATA', 'CONFIG', 'GET'));
      if (withControl) expect(h.toClient()).toMatch(/^\$\d+\r\n\{/);
      else expect(h.toClient()).toBe('-ERR CONFIG is not available in this process\r\n');
    }
  });
});
