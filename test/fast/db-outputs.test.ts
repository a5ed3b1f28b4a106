/**
 * Outputs in a database (`shadow.outputs.NAME.v1`, `v2`): the plan names the workers' database and `schema.table`
 * (never a URL), for one side or both; the policy says which databases and schemas a plan may read,
 * and the plan check refuses any other by path. The workers' URLs come from CUTOVER_DATABASE_<NAME>.
 */
import { planSchema } from '../../plan/schema';
import { databasesFrom, ConfigError } from '../../worker/config';
import { check, planInput, writePolicy } from '../helpers/policy-fixture';

const inDatabase = (v1: unknown, v2: unknown) => ({
  shadow: {
    ...planInput().shadow,
    outputs: { kpis: { key: ['loan_id'], v1, v2 } },
  } as ReturnType<typeof planInput>['shadow'],
});
const legacy = { database: 'warehouse', table: 'legacy.loan_kpis' };
const next = { database: 'warehouse', table: 'v2.loan_kpis' };

test('a plan names a database and schema.table for a side; a side in a file still needs its {output:NAME}', () => {
  const problems = (v1: unknown, v2: unknown, input = planInput()) =>
    planSchema
      .safeParse({ ...input, ...inDatabase(v1, v2) })
      .error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // Both in one database (pushed down), in two (checksummed across), or V1 in one and V2 in a file.
  expect(problems(legacy, next)).toBeUndefined();
  expect(problems(legacy, { ...next, database: 'lake' })).toBeUndefined();
  const writesFile = planInput({ candidate: { run: ['node', 'step.js', 'v2', '{output:kpis}'] } });
  expect(problems(legacy, undefined, writesFile)).toBeUndefined();
  // V2 in a file whose run never writes it.
  expect(problems(legacy, undefined)).toEqual([
    'shadow.outputs.kpis: the candidate never writes it (no {output:kpis} in its run or env)',
  ]);
  expect(problems({ database: 'postgres://u:p@h/db', table: 'loan_kpis' }, next)).toEqual([
    'shadow.outputs.kpis.v1.database: expected a database name such as warehouse (the workers name its URL)',
    'shadow.outputs.kpis.v1.table: expected schema.table, such as legacy.loan_kpis',
  ]);
});

test('the policy names the databases and schemas a plan may read; any other is refused by path', () => {
  const policy = writePolicy({ databases: { warehouse: { schemas: ['legacy', 'v2'] } } });
  expect(check(inDatabase(legacy, next), policy).problems).toEqual([]);
  expect(check(inDatabase(legacy, { ...next, table: 'finance.payroll' }), policy).problems).toEqual([
    {
      path: 'shadow.outputs.kpis.v2.table',
      message: 'finance.payroll: schema finance of warehouse is not one the policy lets a plan read (legacy, v2)',
    },
  ]);
  const other = { database: 'hr', table: 'legacy.people' };
  expect(check(inDatabase(other, { ...other, table: 'v2.people' }), policy).problems.map((p) => p.path)).toEqual([
    'shadow.outputs.kpis.v1.database',
    'shadow.outputs.kpis.v2.database',
  ]);
  // A policy without databases lets a plan read none.
  expect(check(inDatabase(legacy, next), writePolicy()).problems[0]).toEqual({
    path: 'shadow.outputs.kpis.v1.database',
    message: 'warehouse is not a database the policy lets a plan read (it names none)',
  });
});

test('the workers hold the URLs: CUTOVER_DATABASE_<NAME>, a postgres URL each', () => {
  expect(
    databasesFrom({ CUTOVER_DATABASE_WAREHOUSE: 'postgres://cutover:pw@127.0.0.1:5432/postgres', OTHER: 'x' }),
  ).toEqual({ warehouse: 'postgres://cutover:pw@127.0.0.1:5432/postgres' });
  expect(() => databasesFrom({ CUTOVER_DATABASE_LAKE: 'mysql://h/db' })).toThrow(
    new ConfigError('CUTOVER_DATABASE_LAKE: expected a postgres:// URL, not mysql://'),
  );
  expect(() => databasesFrom({ CUTOVER_DATABASE_LAKE: 'not a url' })).toThrow(
    'CUTOVER_DATABASE_LAKE: expected a PostgreSQL URL such as postgres://user:password@host:5432/db',
  );
});
