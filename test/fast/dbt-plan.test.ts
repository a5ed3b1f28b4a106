/**
 * A dbt plan's `dbt` section (plan init --dbt writes it): validated by path like the rest, with its defaults; and
 * bounded by the workers' policy, which says where a project may be and which warehouse and build schemas its model
 * diffs may read. Each refusal names the field.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dbtModels } from '../../activities/dbt-models';
import { planSchema } from '../../plan/schema';
import { APP, check, OUTSIDE, planInput, writePolicy } from '../helpers/policy-fixture';

mkdirSync(path.join(APP, 'jaffle'), { recursive: true });
const section = {
  project: 'jaffle',
  v1: { ref: 'v1' },
  v2: { project: 'jaffle-next' },
  database: 'warehouse',
  schema: 'jaffle',
};
const withDbt = (dbt: unknown) => ({ dbt }) as Parameters<typeof planInput>[0];

test('the dbt section takes the project, two versions, the warehouse and the schema, with its defaults', () => {
  const parsed = planSchema.parse(planInput(withDbt(section)));
  expect(parsed.dbt).toEqual({ ...section, target: 'postgres', select: 'modified', tolerances: {}, connections: 2 });
});

test('a bad dbt section is refused by path, each field named', () => {
  const problems = (dbt: unknown) =>
    planSchema.safeParse(planInput(withDbt(dbt))).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  expect(
    problems({ ...section, schema: 'Jaffle Shop', database: 'postgres://u:p@h/db', select: 'some', target: 'sqlite' }),
  ).toEqual([
    'dbt.target: expected postgres or duckdb',
    'dbt.database: expected a database name such as warehouse (the workers name its URL)',
    'dbt.schema: expected a lower-case schema name such as analytics (at most 56)',
    'dbt.select: expected modified or all',
  ]);
  expect(problems({ ...section, v1: { ref: 'v1', project: 'x' } })?.[0]).toMatch(/^dbt\.v1: /);
  expect(problems({ ...section, tolerances: { customers: { maxDifferingRows: -1 } } })).toEqual([
    'dbt.tolerances.customers.maxDifferingRows: Too small: expected number to be >=0',
  ]);
});

test("the policy bounds a dbt plan: the project in its folders, the warehouse and both builds' schemas readable", () => {
  const policy = writePolicy({ databases: { warehouse: { schemas: ['jaffle_v1', 'jaffle_v2'] } } });
  expect(check(withDbt(section), policy).problems).toEqual([]);
  expect(check(withDbt({ ...section, schema: 'finance' }), policy).problems).toEqual([
    {
      path: 'dbt.schema',
      message:
        'finance: the builds finance_v1 and finance_v2 of warehouse are not schemas the policy lets a plan read (jaffle_v1, jaffle_v2)',
    },
  ]);
  expect(check(withDbt({ ...section, database: 'hr' }), policy).problems).toEqual([
    { path: 'dbt.database', message: 'hr is not a database the policy lets a plan read (warehouse)' },
  ]);
  expect(check(withDbt({ ...section, project: OUTSIDE }), policy).problems).toEqual([
    { path: 'dbt.project', message: `${OUTSIDE} is outside the folders the policy allows` },
  ]);
});

describe("the shadow reads a build's manifest only where the cutover works", () => {
  const workdir = mkdtempSync(path.join(tmpdir(), 'dbt-manifest-'));
  const plan = planSchema.parse(planInput(withDbt(section)));
  const models = (v1: string | undefined) =>
    dbtModels(
      plan,
      { v1: v1 === undefined ? {} : { manifest: v1 }, v2: { manifest: 'dbt/v2/manifest.json' } },
      {
        workdir,
        databases: {},
      },
    );

  test('a build that printed no manifest is named, with how to make it print one', async () => {
    await expect(models(undefined)).rejects.toThrow(
      'dbt models: the baseline printed no "manifest": build it with `cutover dbt build --artifacts {workdir}/…`',
    );
  });

  test('a manifest outside the work folder is refused, through a link too; one that is not there is named', async () => {
    await expect(models(path.join(OUTSIDE, 'manifest.json'))).rejects.toThrow(/not there/);
    writeFileSync(path.join(OUTSIDE, 'manifest.json'), '{}');
    await expect(models(path.join(OUTSIDE, 'manifest.json'))).rejects.toThrow(
      "dbt models: the baseline printed a manifest outside the cutover's work folder",
    );
    symlinkSync(OUTSIDE, path.join(workdir, 'elsewhere'));
    await expect(models('elsewhere/manifest.json')).rejects.toThrow(/outside the cutover's work folder/);
    writeFileSync(path.join(workdir, 'manifest.json'), '{"nodes": 3}');
    await expect(models('manifest.json')).rejects.toThrow(
      /^dbt models: the baseline printed a manifest that is not dbt's/,
    );
  });
});
