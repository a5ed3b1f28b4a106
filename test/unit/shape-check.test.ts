/**
 * The zod-free plan check (plan/shape-check.ts) that replays cutovers started before Patch.PlanCheckedByActivity,
 * held to zod's: on every recorded fixture's plan, the example plans, the structurally malformed plans of the
 * chaos corpus and thousands of seeded mutations of good plans, both accept the same plans with the same result
 * (defaults, `10%` as 0.1, URLs as zod returns them, keys in the same order) and refuse the same plans, naming
 * the same first path. The committed shape is the generated one.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { planShape } from '../../plan/json-schema';
import { checkPlanShape, planOrFailure, SHAPE_KEYWORDS } from '../../plan/shape-check';
import { validatePlan, type CutoverPlanInput } from '../../plan/schema';
import { structuralMalformations, leaves, objects, setAt, type Json, type Segment } from '../helpers/malformed-plans';
import { recordedHistories } from '../helpers/histories';
import { makePlanInput, planVariety } from '../helpers/plans';

const ROOT = path.resolve(__dirname, '..', '..');

/** The plan each recorded cutover was started with (its first event's input). */
function recordedPlans(): [string, Json][] {
  return recordedHistories().map(({ file, history }) => {
    const payload = history.events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    if (!payload) throw new Error(`${file}: no input`);
    return [file, JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) as Json];
  });
}

/** The plans of every kind, and one more with what zod turns into something else: `12.5 %`, a URL to trim. */
function goodPlans(): [string, Json][] {
  const variety = planVariety() as [string, Json][];
  const withOutputs = variety.at(-1)![1] as CutoverPlanInput;
  const rewritten = {
    ...withOutputs,
    stress: { ...withOutputs.stress, compare: { maxSlowdown: '12.5 %', minRuns: 5 } },
    rollback: { http: '  https://ops.example/rollback\n', method: 'POST', target: '2m' },
    signoff: { ...withOutputs.signoff, quorum: { qa: 1 } },
  } satisfies CutoverPlanInput;
  return [...variety, ['a plan with outputs, a comparison, a quorum map and an http rollback', rewritten as Json]];
}

/** What the two checks say about one plan, in a form that compares whole. */
function verdicts(input: Json) {
  const zod = validatePlan(input);
  const twin = checkPlanShape(input);
  return {
    zod: zod.ok ? { ok: true, plan: JSON.stringify(zod.plan) } : { ok: false, first: zod.problems[0]?.path },
    twin: twin.ok ? { ok: true, plan: JSON.stringify(twin.plan) } : { ok: false, first: twin.problems[0]?.path },
  };
}

function expectAgreement(cases: [string, Json][]): void {
  const disagreements = cases
    .map(([name, input]) => ({ name, ...verdicts(input) }))
    .filter((v) => JSON.stringify(v.zod) !== JSON.stringify(v.twin));
  expect(disagreements.slice(0, 5)).toEqual([]);
}

test('the committed plan/plan-shape.json is the generated one (node dist/scripts/plan-shape.js refreshes it)', () => {
  const committed = JSON.parse(readFileSync(path.join(ROOT, 'plan', 'plan-shape.json'), 'utf8')) as unknown;
  expect(committed).toEqual(planShape());
});

test('the shape uses only the keywords the check knows', () => {
  const used = new Set<string>();
  const walk = (node: unknown, names = false): void => {
    if (Array.isArray(node)) return node.forEach((n) => walk(n));
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (!names) used.add(key);
      if (key !== 'default') walk(value, !names && key === 'properties');
    }
  };
  walk(planShape());
  expect([...used].filter((k) => !(SHAPE_KEYWORDS as readonly string[]).includes(k))).toEqual([]);
});

test('every recorded cutover’s plan: the same plan, defaults and all', () => {
  const recorded = recordedPlans();
  expect(recorded.length).toBeGreaterThanOrEqual(26);
  for (const [, plan] of recorded) expect(checkPlanShape(plan).ok).toBe(true);
  expectAgreement(recorded);
});

test('good plans: the same plan, defaults and all', () => {
  expectAgreement(goodPlans());
  // What zod turns into something else, the twin does too.
  const twin = checkPlanShape(goodPlans().at(-1)![1]);
  expect(twin.ok && twin.plan.stress.compare?.maxSlowdown).toBe(0.125);
  expect(twin.ok && 'http' in twin.plan.rollback && twin.plan.rollback.http).toBe('https://ops.example/rollback');
});

test('structurally malformed plans: refused alike, naming the same first path', () => {
  const cases = goodPlans().flatMap(([name, plan]) =>
    structuralMalformations(plan).map((m): [string, Json] => [`${name}: ${m.name}`, m.value]),
  );
  expect(cases.length).toBeGreaterThan(300);
  for (const [, plan] of cases) expect(checkPlanShape(plan).ok).toBe(false);
  expectAgreement(cases);
});

/** A small seeded generator (mulberry32): the same mutations on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Values that sit on the plan's boundaries: durations at and past their limits, percentages, URLs, keys.
const ODD_VALUES: Json[] = [
  null,
  true,
  false,
  0,
  -1,
  0.5,
  1,
  1.5,
  5,
  100,
  101,
  1e20,
  '',
  'x',
  'A',
  'qa',
  '10%',
  '150%',
  '0s',
  '5m',
  '366d',
  '367d',
  '1.5h',
  'http://example.test/x',
  'https:/example.test',
  'ftp://example.test',
  ' https://example.test/a\tb ',
  'a"b',
  '{output:t}',
  'ee'.repeat(32),
  '2026-12-01T00:00:00Z',
  '2026-02-30T00:00:00Z',
  [],
  ['x'],
  [1, 2],
  {},
  { relative: 0.1 },
  { run: ['true'] },
];

test('seeded mutations of good plans: the same verdicts and the same plans', () => {
  const next = random(20261126);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const cases: [string, Json][] = [];
  for (const [name, base] of goodPlans()) {
    for (let i = 0; i < 700; i++) {
      let plan = base;
      const steps: string[] = [];
      for (let m = 0, n = 1 + Math.floor(next() * 3); m < n; m++) {
        const roll = next();
        if (roll < 0.55) {
          const at = pick(leaves(plan)) as Segment[];
          const value = pick(ODD_VALUES);
          plan = setAt(plan, at, () => structuredClone(value));
          steps.push(`${at.join('.')}=${JSON.stringify(value)}`);
        } else if (roll < 0.8) {
          const at = pick(leaves(plan).filter((p) => p.length > 0)) as Segment[];
          plan = setAt(plan, at, () => undefined);
          steps.push(`-${at.join('.')}`);
        } else {
          const at = pick(objects(plan)) as Segment[];
          const key = pick(['timeout', 'dryRun', 'quorum', 'target', 'keys', 'format', 'seed', 'compare', 'extra']);
          const value = pick(ODD_VALUES);
          plan = setAt(plan, at, (o) => (Array.isArray(o) ? o : { ...(o as object), [key]: structuredClone(value) }));
          steps.push(`${at.join('.')}+${key}=${JSON.stringify(value)}`);
        }
      }
      cases.push([`${name}: ${steps.join(', ')}`, plan]);
    }
  }
  const accepted = cases.filter(([, plan]) => validatePlan(plan).ok).length;
  // Both sides of the check are exercised: many mutations keep a plan valid, most break it.
  expect(accepted).toBeGreaterThan(200);
  expect(cases.length - accepted).toBeGreaterThan(1000);
  expectAgreement(cases);
});

test('a refused plan fails the cutover as InvalidPlan, naming every problem', () => {
  const plan = { ...(makePlanInput() as Record<string, Json>), release: '', surprise: 1 };
  expect(() => planOrFailure(plan)).toThrow(/^invalid plan: release: .*; \(plan\): unknown key "surprise"$/);
});
