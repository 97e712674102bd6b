import { describe, expect, it } from 'vitest';
import { scenarios } from '@slotrelay/chaos';

// Every chaos scenario in its quick mode, one test each (so the time of each is printed): the same
// assertions as `npm run chaos`, on smaller counts. A scenario that cannot run here says why and passes.
describe('chaos scenarios, quick', () => {
  for (const s of scenarios) {
    it(s.title, async () => {
      const outcome = await s.run({ quick: true, log: (line) => process.stderr.write(`[chaos ${s.name}] ${line}\n`) });
      if (outcome.skipped !== undefined) {
        console.log(`chaos ${s.name} skipped: ${outcome.skipped}`);
        return;
      }
      const failed = outcome.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.detail}`);
      expect(failed, JSON.stringify(outcome.figures, null, 2)).toEqual([]);
      expect(outcome.checks.length).toBeGreaterThan(0);
    });
  }
});
