/**
 * The plan's JSON Schema (for editors) against the zod schema it is generated from: it accepts every plan zod
 * accepts (both example plans, the init plan, the suite's plan builders) and refuses the structurally malformed
 * plans of the chaos corpus; the committed file is the generated one; `cutover plan init` validates.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';
import { initPlan } from '../../plan/init-plan';
import { planJsonSchema } from '../../plan/json-schema';
import { planSchema, type CutoverPlanInput } from '../../plan/schema';
import { structuralMalformations, type Json } from '../helpers/malformed-plans';
import { makePlanInput, scriptPlanInput } from '../helpers/plans';

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLES = path.join(ROOT, 'examples', 'portfolio-kpi');
// Formats (uri, date-time) are zod's to check: the schema is for editors.
const validate = new Ajv2020({ strict: false, allErrors: true, validateFormats: false, logger: false }).compile(
  planJsonSchema(),
);

const example = (file: string) => parse(readFileSync(path.join(EXAMPLES, file), 'utf8')) as Json;

test('the committed cutover-plan.schema.json is the generated one (cutover plan schema --out refreshes it)', () => {
  const committed = JSON.parse(readFileSync(path.join(ROOT, 'cutover-plan.schema.json'), 'utf8')) as unknown;
  expect(committed).toEqual(planJsonSchema());
});

test('the example plans name it for their editors', () => {
  for (const file of ['plan.yaml', 'plan.production.yaml']) {
    expect(readFileSync(path.join(EXAMPLES, file), 'utf8')).toMatch(
      /^# yaml-language-server: \$schema=\.\.\/\.\.\/cutover-plan\.schema\.json$/m,
    );
  }
});

describe('accepts every plan zod accepts', () => {
  const plans: [string, unknown][] = [
    ['examples/portfolio-kpi/plan.yaml', example('plan.yaml')],
    ['examples/portfolio-kpi/plan.production.yaml', example('plan.production.yaml')],
    ['the init plan', parse(initPlan('orders-v2'))],
    ['the suite’s plan builder', makePlanInput()],
    ['a plan of scripts (the policy tests’)', scriptPlanInput('/srv/app', '')],
    [
      'a plan with outputs and a comparison',
      (() => {
        const input = makePlanInput();
        return {
          ...input,
          baseline: { run: ['v1', '{output:t}'] },
          candidate: { run: ['v2', '{output:t}'] },
          shadow: {
            ...input.shadow,
            outputs: { t: { key: ['id'], format: 'parquet', tolerances: { x: { absolute: 1 } } } },
          },
          stress: { ...input.stress, compare: { maxSlowdown: '10%', minRuns: 5 } },
        } satisfies CutoverPlanInput;
      })(),
    ],
  ];
  test.each(plans)('%s', (_name, plan) => {
    expect(planSchema.safeParse(plan).success).toBe(true);
    const ok = validate(plan);
    expect(ok ? [] : validate.errors).toEqual([]);
  });
});

test('refuses the chaos corpus’s structurally malformed plans, each of which zod refuses too', () => {
  const corpus = structuralMalformations(example('plan.yaml'));
  expect(corpus.length).toBeGreaterThan(100);
  const accepted = corpus.filter((m) => validate(m.value)).map((m) => m.name);
  expect(accepted).toEqual([]);
  const zodAccepted = corpus.filter((m) => planSchema.safeParse(m.value).success).map((m) => m.name);
  expect(zodAccepted).toEqual([]);
});
