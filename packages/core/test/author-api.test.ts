import { describe, expect, expectTypeOf, it } from 'vitest';
import { ContainerModule } from 'inversify';
import * as core from '@slotrelay/core';
import {
  type AuthorContext,
  type Frame,
  type SessionContext,
  defineMiddleware,
  isMiddlewareModule,
} from '@slotrelay/core';

describe('the author API (core main entry)', () => {
  it('exports at most 35 runtime names, none of the internals', () => {
    const names = Object.keys(core);
    expect(names.length).toBeLessThanOrEqual(35);
    for (const internal of [
      'Session',
      'Pipeline',
      'CommandTable',
      'firstWord',
      'CORE_COMMANDS',
      'settleOnConnect',
      'ReplyScanner',
      'RequestScanner',
    ]) {
      expect(names).not.toContain(internal);
    }
  });

  it('a module from defineMiddleware is a ContainerModule that builds its middleware', () => {
    const mod = defineMiddleware({ name: 'x', commands: ['get'], onRequest: () => undefined });
    expect(mod).toBeInstanceOf(ContainerModule);
    expect(mod.create()).toMatchObject({ name: 'x', commands: ['GET'] });
    expect(mod.create().replies).toBeUndefined();
  });

  it('isMiddlewareModule goes by shape, so a module of another copy of inversify or core passes', () => {
    expect(isMiddlewareModule(new ContainerModule(() => {}))).toBe(true);
    expect(isMiddlewareModule({ id: 7, load() {} })).toBe(true);
    expect(isMiddlewareModule({ [Symbol.for('@slotrelay/core:MiddlewareModule')]: true })).toBe(true);
    expect(isMiddlewareModule(() => {})).toBe(false);
    expect(isMiddlewareModule({ load() {} })).toBe(false);
    expect(isMiddlewareModule(undefined)).toBe(false);
  });
});

describe('the author types', () => {
  it('hooks get the read-side Frame and a context with typed state and options', () => {
    defineMiddleware<{ n: number }, { limit: number }>({
      name: 't',
      commands: ['GET'],
      options: () => ({ limit: 1 }),
      state: () => ({ n: 0 }),
      onRequest(frame, s) {
        expectTypeOf(frame).toEqualTypeOf<Frame>();
        expectTypeOf(s).toEqualTypeOf<AuthorContext<{ n: number }, { limit: number }>>();
        expectTypeOf(s.state.n).toBeNumber();
        expectTypeOf(s).toMatchTypeOf<SessionContext>();
        return undefined;
      },
    });
  });

  it('the Frame authors see has no pool internals', () => {
    expectTypeOf<Frame>().not.toHaveProperty('entry');
    expectTypeOf<Frame>().not.toHaveProperty('set');
    expectTypeOf<Frame>().toHaveProperty('txIndex').toBeNumber();
  });
});
