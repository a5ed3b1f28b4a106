/**
 * The example's own plans under the example's policy (with the built CLI the policy names), as the workers check
 * them: both pass; the attacks the example was tried with are refused by path.
 */
import path from 'node:path';
import { loadPlan } from '../../../plan/load';
import { checkPlanAgainstPolicy } from '../../../policy/check';
import { fileSystemResolver, loadPolicy } from '../../../policy/load';
import type { CutoverPlan } from '../../../plan/schema';
import { withFileOutputs } from '../../../examples/portfolio-kpi/file-outputs';
import { tempDir } from '../../helpers/harness';

const EXAMPLE = path.resolve(__dirname, '..', '..', '..', 'examples', 'portfolio-kpi');
const policy = loadPolicy(path.join(EXAMPLE, 'policy.yaml'));
const DATA = tempDir('example-policy-');
const reach = { workdir: path.join(DATA, 'work', 'cutover-portfolio-kpi-evil-a'), workRoot: path.join(DATA, 'work') };
const problemsOf = (plan: CutoverPlan) => checkPlanAgainstPolicy(plan, policy, fileSystemResolver, { reach }).problems;

test.each(['plan.yaml', 'plan.production.yaml'])('the example %s passes the example policy', async (file) => {
  expect(problemsOf(await loadPlan(path.join(EXAMPLE, file)))).toEqual([]);
});

test("a plan whose staging deploy targets the example cutover's production is refused, however it is spelled", async () => {
  const plan = await loadPlan(path.join(EXAMPLE, 'plan.yaml'));
  const victim = path.join(DATA, 'work', 'cutover-portfolio-kpi-v2', 'production');
  for (const target of [victim, '{workdir}/../cutover-portfolio-kpi-v2/production']) {
    const deploy = plan.staging.deploy[0] as { run: string[] };
    const run = deploy.run.map((arg) => (arg === '{workdir}/staging' ? target : arg));
    const evil = {
      ...plan,
      release: 'portfolio-kpi-evil-a',
      staging: { ...plan.staging, deploy: [{ ...deploy, run }] },
    };
    expect(problemsOf(evil as CutoverPlan)).toEqual([
      { path: 'staging.deploy[0].run[4]', message: expect.stringContaining("another cutover's work folder") },
    ]);
  }
});

test("production's worker runs no pipeline: a probe that generates a tape is refused by argv", async () => {
  const plan = await loadPlan(path.join(EXAMPLE, 'plan.yaml'));
  const probe = { run: ['node', '../../dist/examples/portfolio-kpi/cli.js', 'generate', '--rows', '10'] };
  const evil = { ...plan, production: { ...plan.production, monitor: { ...plan.production.monitor, probe } } };
  expect(problemsOf(evil)).toEqual([
    { path: 'production.monitor.probe.run', message: expect.stringContaining('is not a command the policy allows') },
  ]);
});

test("a probe that says deploy (or undo) is refused by argv: the probe's own list holds only `probe`", async () => {
  const plan = await loadPlan(path.join(EXAMPLE, 'plan.yaml'));
  const cli = '../../dist/examples/portfolio-kpi/cli.js';
  for (const verb of ['deploy', 'undo', 'decommission']) {
    const probe = { run: ['node', cli, verb, '--target', '{workdir}/production', '--version', 'v2'] };
    const evil = { ...plan, production: { ...plan.production, monitor: { ...plan.production.monitor, probe } } };
    expect(problemsOf(evil)).toEqual([
      { path: 'production.monitor.probe.run', message: expect.stringContaining('is not a command the policy allows') },
    ]);
  }
  // The deploy itself is production's, and stays allowed there.
  expect(problemsOf(plan).filter((p) => p.path.startsWith('production.deploy'))).toEqual([]);
});

test("an output that reads another database, or another schema of the warehouse, is refused by path: the policy's databases", async () => {
  const plan = await loadPlan(path.join(EXAMPLE, 'plan.yaml'));
  const loans = plan.shadow.outputs.loans as CutoverPlan['shadow']['outputs'][string];
  const reading = (v1: { database: string; table: string }) => ({
    ...plan,
    shadow: { ...plan.shadow, outputs: { ...plan.shadow.outputs, loans: { ...loans, v1 } } },
  });
  expect(problemsOf(reading({ database: 'warehouse', table: 'pg_catalog.pg_authid' }))).toEqual([
    {
      path: 'shadow.outputs.loans.v1.table',
      message: expect.stringContaining(
        'schema pg_catalog of warehouse is not one the policy lets a plan read (legacy)',
      ),
    },
  ]);
  expect(problemsOf(reading({ database: 'payroll', table: 'legacy.loan_kpis' }))).toEqual([
    {
      path: 'shadow.outputs.loans.v1.database',
      message: expect.stringContaining('payroll is not a database the policy lets a plan read (warehouse)'),
    },
  ]);
});

test("the example with V1's tables in files (the chaos test's and the benches'): no database left, and the policy passes it", async () => {
  const plan = withFileOutputs(await loadPlan(path.join(EXAMPLE, 'plan.yaml')));
  expect(plan.baseline.run.filter((arg) => arg.startsWith('postgres:'))).toEqual([]);
  expect(plan.baseline.run).toEqual(expect.arrayContaining(['{output:loans}', '{output:segments}']));
  expect(Object.values(plan.shadow.outputs).map((o) => o.v1)).toEqual([undefined, undefined]);
  expect(problemsOf(plan)).toEqual([]);
});
