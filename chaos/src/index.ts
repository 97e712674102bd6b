/**
 * @slotrelay/chaos — the fault scenarios of `npm run chaos`, for other runners (the CI test that
 * runs each scenario's quick mode).
 * @packageDocumentation
 */
export { scenarios } from './scenarios/index.js';
export { runScenarios } from './runner.js';
export type { Check, Outcome, Scenario, ScenarioContext, ScenarioResult } from './types.js';
