/** One asserted pass criterion of a scenario: what was demanded, whether it held, and the figures behind it. */
export interface Check {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

/** What a scenario reports: its figures (bounded, named with their unit) and its checks. */
export interface Outcome {
  /** Figures for the table, e.g. `{ 'fleet.lostWrites': 0, 'direct.lostWrites': 0, 'fleet.errors': 12 }`. */
  readonly figures: Record<string, number | string | boolean | null>;
  readonly checks: Check[];
  /** Set when the scenario could not run here (e.g. no network namespaces): said, not failed. */
  readonly skipped?: string;
}

export interface ScenarioContext {
  /** The short, scaled version (CI): same assertions, smaller counts and durations. */
  readonly quick: boolean;
  /** Progress lines (stderr). */
  log(line: string): void;
}

export interface Scenario {
  /** Short id, used by `--only`. */
  readonly name: string;
  /** One line for the table. */
  readonly title: string;
  run(ctx: ScenarioContext): Promise<Outcome>;
}

export interface ScenarioResult extends Outcome {
  readonly name: string;
  readonly title: string;
  readonly seconds: number;
  readonly pass: boolean;
  readonly error?: string;
}

/** A check helper: `check('lost writes through the fleet ≤ direct', fleet <= direct, `${fleet} vs ${direct}`)`. */
export function check(name: string, pass: boolean, detail: string): Check {
  return { name, pass, detail };
}
