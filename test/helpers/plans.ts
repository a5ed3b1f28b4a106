/**
 * Plan builders for tests: a small valid plan whose actions are real, quick processes, with overrides.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { initPlan } from '../../plan/init-plan';
import type { CutoverPlan, CutoverPlanInput } from '../../plan/schema';
import { planSchema } from '../../plan/schema';

/** `node -e SCRIPT` as an action argv. */
export function nodeRun(script: string): string[] {
  return [process.execPath, '-e', script];
}

/** An action that succeeds and prints `out`. */
export const ok = (name: string, out = '{}') => ({
  name,
  run: nodeRun(`process.stdout.write(${JSON.stringify(out)})`),
});

const METRICS = { TotalReceivable: 1000, PAR30: 0.1 };

/** A plan whose every step is a tiny real process. `overrides` replace whole sections. */
export function makePlanInput(overrides: Partial<CutoverPlanInput> = {}): CutoverPlanInput {
  const metricsOut = JSON.stringify({ metrics: METRICS, rows: 10 });
  return {
    release: 'test-release',
    initiator: 'rm',
    baseDir: path.resolve(__dirname, '..', '..'),
    generator: { run: [...nodeRun("require('fs').writeFileSync(process.argv[1], 'x')"), '{dataset}'], name: 'gen' },
    baseline: { run: nodeRun(`process.stdout.write(${JSON.stringify(metricsOut)})`) },
    candidate: { run: nodeRun(`process.stdout.write(${JSON.stringify(metricsOut)})`) },
    staging: { deploy: [ok('switch-staging')], tests: ok('tests'), healthChecks: [ok('health')] },
    shadow: {
      datasets: [{ generate: { rows: 10, seed: 1 } }],
      noiseRuns: 1,
      tolerances: { PAR30: { relative: 0.05 } },
    },
    stress: { sizes: [10, 20], iterations: 2, warmup: 0 },
    rollback: { ...ok('rollback'), target: '300s' },
    signoff: {
      roles: { engineering: ['ana'], qa: ['bo'], architecture: ['cy'], operations: ['di'], business: ['ed'] },
      deadline: '72h',
      escalationWindow: '24h',
    },
    production: {
      deploy: ok('deploy'),
      undo: ok('undo'),
      monitor: {
        window: '10m',
        interval: '1m',
        probe: ok('probe', JSON.stringify({ metrics: METRICS, errorRate: 0 })),
        triggers: { errorRate: 0.01, kpiDrift: 0.05, failedProbes: 3 },
      },
      reconcile: { every: '24h', days: 2 },
      decommission: { ...ok('decommission'), afterCleanDays: 2 },
    },
    ...overrides,
  };
}

export function makePlan(overrides: Partial<CutoverPlanInput> = {}): CutoverPlan {
  return planSchema.parse(makePlanInput(overrides));
}

/** `node step.js NAME`: one action of a plan that an organisation policy allows with a single script. */
export function scriptStep(name: string) {
  return { name, run: ['node', 'step.js', name] };
}

/**
 * The test plan with every action a `node step.js <prefix><name>` run in `baseDir` (where step.js lies): the
 * shape a policy allows with one command prefix. `overrides` replace whole sections.
 */
export function scriptPlanInput(
  baseDir: string,
  prefix = '',
  overrides: Partial<CutoverPlanInput> = {},
): CutoverPlanInput {
  const step = (name: string) => scriptStep(`${prefix}${name}`);
  const base = makePlanInput();
  return {
    ...base,
    baseDir,
    generator: { name: 'gen', run: [...step('gen').run, '{dataset}'] },
    baseline: step('v1'),
    candidate: step('v2'),
    staging: { deploy: [step('switch')], tests: step('tests'), healthChecks: [step('health')] },
    rollback: { ...step('rollback'), target: '300s' },
    production: {
      ...base.production,
      deploy: step('deploy'),
      undo: step('undo'),
      monitor: { ...base.production.monitor, probe: step('probe') },
      decommission: { ...step('decommission'), afterCleanDays: 2 },
    },
    ...overrides,
  };
}

const EXAMPLES = path.resolve(__dirname, '..', '..', 'examples', 'portfolio-kpi');

/** A plan file of the example, as written (defaults not applied). */
export const examplePlan = (file: string): unknown => parse(readFileSync(path.join(EXAMPLES, file), 'utf8'));

/**
 * Valid plans of every kind the project writes, by name: both example plans, the init plan, the suite's
 * builders, and one with output tables and a V1/V2 comparison. What checks of the plan's shape run against.
 */
export function planVariety(): [string, unknown][] {
  const input = makePlanInput();
  return [
    ['examples/portfolio-kpi/plan.yaml', examplePlan('plan.yaml')],
    ['examples/portfolio-kpi/plan.production.yaml', examplePlan('plan.production.yaml')],
    ['the init plan', parse(initPlan('orders-v2'))],
    ['the suite’s plan builder', input],
    ['a plan of scripts (the policy tests’)', scriptPlanInput('/srv/app', '')],
    [
      'a plan with outputs and a comparison',
      {
        ...input,
        baseline: { run: ['v1', '{output:t}'] },
        candidate: { run: ['v2', '{output:t}'] },
        shadow: {
          ...input.shadow,
          outputs: { t: { key: ['id'], format: 'parquet', tolerances: { x: { absolute: 1 } } } },
        },
        stress: { ...input.stress, compare: { maxSlowdown: '10%', minRuns: 5 } },
      } satisfies CutoverPlanInput,
    ],
    [
      'a plan with notifications and environments',
      {
        ...input,
        notify: [
          {
            name: 'chat',
            http: 'https://hooks.example/x',
            body: '{"text": "{text}"}',
            events: ['gate-open', 'failed'],
          },
          { run: ['notify.sh', '{event}'], events: ['rollback'] },
        ],
        environments: {
          staging: { taskQueue: 'cutover-staging' },
          production: { taskQueue: 'cutover-production', noWorkerAlert: '15m' },
        },
      } satisfies CutoverPlanInput,
    ],
  ];
}

/** The test plan with every optional action filled: the datasets' generator, an escalation, a notification. */
export function planWithEveryAction(): CutoverPlan {
  const input = makePlanInput();
  return planSchema.parse({
    ...input,
    signoff: { ...input.signoff, escalate: { run: ['notify.sh', 'overdue'] } },
    shadow: { ...input.shadow, noiseRun: { run: ['v1.sh', 'again'] } },
    notify: [{ run: ['notify.sh', '{event}'], events: ['rollback'] }],
  });
}
