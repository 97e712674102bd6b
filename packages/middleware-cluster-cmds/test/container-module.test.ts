import { Container } from 'inversify';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ListenerInfoToken, Middleware, TopologyServiceToken } from '@slotrelay/core';
import clusterCmdsModule, {
  ClusterCmdsMiddleware,
  type NodeResolver,
  type Rewritten,
} from '@slotrelay/middleware-cluster-cmds';
import { listenerInfo, stubTopology } from './support/fixtures.js';

describe('the package as a host loads it', () => {
  it('its default export binds the middleware under the core Middleware token, with the listener and topology injected', () => {
    const c = new Container();
    const stub = stubTopology(null);
    c.bind(TopologyServiceToken).toConstantValue(stub);
    c.bind(ListenerInfoToken).toConstantValue(listenerInfo(true));
    c.load(clusterCmdsModule);
    const all = c.getAll<Middleware>(Middleware);
    expect(all.length).toBe(1);
    const m = all[0]!;
    expect(m).toBeInstanceOf(ClusterCmdsMiddleware);
    expect(m.name).toBe('@slotrelay/middleware-cluster-cmds');
    expect(m.commands).toEqual(
      expect.arrayContaining([
        'CLUSTER',
        'MULTI',
        'EXEC',
        'DISCARD',
        'MIGRATE',
        'REPLICAOF',
        'SLAVEOF',
        'INFO',
        'ROLE',
      ]),
    );
    expect(c.getAll<Middleware>(Middleware)[0]).toBe(m); // one instance per listener container
  });

  it('rewrite functions have plain, testable signatures', () => {
    expectTypeOf<NodeResolver>().parameters.toEqualTypeOf<[string | null, string, number]>();
    expectTypeOf<Rewritten<string>['unknown']>().items.toHaveProperty('port');
  });
});
