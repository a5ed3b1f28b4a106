/**
 * The dbt demo `npm start -- --dbt` starts (examples/jaffle-shop/demo.ts), piece by piece on real parts: the
 * vendored jaffle shop made a git repository with a tag per version, the plan `cutover plan init --dbt` writes for
 * it (the example's approvers in it) accepted by the example policy's `jaffle-shop-*` rules as it stands, and the
 * jaffle database on a private PostgreSQL: dbt's login builds a version there with the built `cutover dbt build`,
 * the workers' login reads what dbt built and may write nothing.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { EXAMPLE_APPROVERS } from '../../examples/portfolio-kpi/approvers';
import { jafflePlan, jaffleRepository, setUpJaffleDatabase } from '../../examples/jaffle-shop/demo';
import { loadPlan } from '../../plan/load';
import { checkPlanAgainstPolicy } from '../../policy/check';
import { fileSystemResolver, loadPolicy } from '../../policy/load';
import { startPostgres, type PostgresServer } from '../../toolchain/postgres';
import { cutoverOnPath, projectRoot } from '../../toolchain/tools';
import { runCli } from '../helpers/cli';
import { dbtPython } from '../helpers/dbt';
import { tempDir } from '../helpers/harness';

jest.setTimeout(300_000);

const ROOT = projectRoot();
const CLI = path.join(ROOT, 'dist', 'client', 'cli.js');
const work = tempDir('dbt-demo-');
let server: PostgresServer;

beforeAll(async () => {
  dbtPython();
  // The plan's actions name `cutover`: on the PATH, as the dev stack's worker has it.
  process.env.PATH = `${cutoverOnPath(path.join(work, 'bin'))}:${process.env.PATH ?? ''}`;
  chmodSync(work, 0o755);
  server = await startPostgres({ dir: path.join(work, 'pg') });
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

test('the repository has a tag per version: V2 refactors customers, nothing else', () => {
  const repo = jaffleRepository(ROOT);
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repo, ...args])
      .toString()
      .trim();
  expect(git('tag', '--list')).toBe('v1\nv2');
  expect(git('diff', '--name-only', 'v1', 'v2')).toBe('models/customers.sql');
});

test("plan init's plan for it carries the example's approvers and the example policy accepts it as it is", async () => {
  const plan = await loadPlan(jafflePlan(ROOT, CLI));
  expect(plan.release).toBe('jaffle-shop-v2');
  expect(plan.dbt).toMatchObject({ database: 'jaffle', schema: 'jaffle', v1: { ref: 'v1' }, v2: { ref: 'v2' } });
  expect(plan.signoff.roles).toEqual(Object.fromEntries(EXAMPLE_APPROVERS.map(([role, name]) => [role, [name]])));
  const policy = loadPolicy(path.join(ROOT, 'examples', 'portfolio-kpi', 'policy.yaml'));
  const checked = checkPlanAgainstPolicy(plan, policy, fileSystemResolver);
  expect(checked.problems).toEqual([]);
  // The policy's rule for a broken contract joins the plan's roles as a condition: architecture signs anyway.
  expect(checked.effective.signoff.requiredWhen).toBeUndefined();
});

test("dbt's login builds a version into the jaffle database; the workers' login reads it and writes nothing", async () => {
  const logins = await setUpJaffleDatabase(server.url);
  const repo = jaffleRepository(ROOT);
  const built = await runCli(
    ['dbt', 'build', '--project', repo, '--ref', 'v1', '--schema', 'jaffle_v1'],
    { ...process.env, CUTOVER_DBT_WAREHOUSE: logins.dbt },
    240_000,
  );
  expect(built.stderr).toBe('');
  expect(JSON.parse(built.stdout)).toMatchObject({ metrics: { models: 5, tests: 20, rows_customers: 100 } });
  const reader = new Client({ connectionString: logins.reader });
  await reader.connect();
  try {
    const { rows } = await reader.query<{ n: string }>('SELECT count(*)::text AS n FROM jaffle_v1.customers');
    expect(rows[0]?.n).toBe('100');
    await expect(reader.query('DELETE FROM jaffle_v1.customers')).rejects.toThrow(/read-only transaction/);
    // Asked for a transaction that may write, its login still may not.
    await reader.query('BEGIN READ WRITE');
    await expect(reader.query('DELETE FROM jaffle_v1.customers')).rejects.toThrow(/permission denied/);
    await reader.query('ROLLBACK');
  } finally {
    await reader.end();
  }
});
