/**
 * The plan's JSON Schema (for editors) against the zod schema it is generated from: it accepts every plan zod
 * accepts (both example plans, the init plan, the suite's plan builders) and refuses the structurally malformed
 * plans of the chaos corpus; the committed file is the generated one; `cutover plan init` validates.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { planJsonSchema } from '../../plan/json-schema';
import { planSchema } from '../../plan/schema';
import { structuralMalformations, type Json } from '../helpers/malformed-plans';
import { examplePlan, planVariety } from '../helpers/plans';

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLES = path.join(ROOT, 'examples', 'portfolio-kpi');
// Formats (uri, date-time) are zod's to check: the schema is for editors.
const validate = new Ajv2020({ strict: false, allErrors: true, validateFormats: false, logger: false }).compile(
  planJsonSchema(),
);

const example = (file: string) => examplePlan(file) as Json;

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
  const plans = planVariety();
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
