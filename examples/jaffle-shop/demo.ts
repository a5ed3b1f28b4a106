/**
 * The dbt cutover `npm start -- --dbt` shows: dbt Labs' jaffle shop (vendored in ./project, Apache-2.0) cut over from
 * V1 to a V2 that refactors `customers`, on the dev stack's PostgreSQL. The stack makes, once, a git repository of
 * the project under the data folder with a tag per version (V2's edit committed as `v2`), a database `jaffle` with
 * dbt's own login (it builds, publishes and drops schemas) and the workers' read-only one (the model diffs), and the
 * plan `cutover plan init --dbt` writes for it, with the example's approvers. The example policy's `jaffle-shop-*`
 * rules bound it: `cutover dbt` commands only, the repository's folder, the jaffle database's build schemas.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { parse, stringify } from 'yaml';
import { EXAMPLE_APPROVERS } from '../portfolio-kpi/approvers';
import { loginUrl } from '../portfolio-kpi/warehouse';

/** The demo's database, as the dev PostgreSQL knows it and as the workers name it (CUTOVER_DATABASE_JAFFLE). */
export const JAFFLE_DATABASE = 'jaffle';

/** Where the stack keeps the demo's repository: under the data folder the example policy's folders name. */
export const jaffleRepo = (root: string): string => path.join(root, '.data', 'dbt', 'jaffle-shop');

/** V2's edit: `customers` refactored (its CTE renamed, its count written otherwise), the same rows. */
const V2_EDITS: { from: RegExp | string; to: string }[] = [
  { from: /customer_payments/g, to: 'payments_per_customer' },
  { from: 'count(order_id) as number_of_orders', to: 'count(*) as number_of_orders' },
];

const git = (repo: string, ...args: string[]) =>
  execFileSync('git', ['-C', repo, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** The repository with tags v1 (the project as vendored) and v2 (its refactor), made the first time only. */
export function jaffleRepository(root: string): string {
  const repo = jaffleRepo(root);
  if (existsSync(path.join(repo, '.git')) && git(repo, 'tag', '--list', 'v2').trim() === 'v2') return repo;
  mkdirSync(repo, { recursive: true });
  cpSync(path.join(root, 'examples', 'jaffle-shop', 'project'), repo, { recursive: true });
  git(repo, 'init', '-q');
  const commit = (tag: string) => {
    git(repo, 'add', '-A');
    git(repo, '-c', 'user.email=demo@cutover.local', '-c', 'user.name=cutover demo', 'commit', '-q', '-m', tag);
    git(repo, 'tag', '-f', tag);
  };
  commit('v1');
  const file = path.join(repo, 'models', 'customers.sql');
  let sql = readFileSync(file, 'utf8');
  for (const edit of V2_EDITS) sql = sql.replace(edit.from, edit.to);
  writeFileSync(file, sql);
  commit('v2');
  return repo;
}

export interface JaffleLogins {
  /** dbt's login: owns the database's build and published schemas (CUTOVER_DBT_WAREHOUSE, the actions'). */
  dbt: string;
  /** The workers' login: reads every schema dbt makes, and only reads (CUTOVER_DATABASE_JAFFLE). */
  reader: string;
}

/** The database and its two logins (new passwords each start) on the server whose superuser URL is `adminUrl`. */
export async function setUpJaffleDatabase(adminUrl: string): Promise<JaffleLogins> {
  const passwords = { jaffle_dbt: randomBytes(18).toString('hex'), jaffle_reader: randomBytes(18).toString('hex') };
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [JAFFLE_DATABASE]);
    for (const [role, password] of Object.entries(passwords)) {
      const known = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      // The passwords are hex: nothing to quote.
      await admin.query(`${known.rowCount === 0 ? 'CREATE' : 'ALTER'} ROLE ${role} LOGIN PASSWORD '${password}'`);
    }
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${JAFFLE_DATABASE} OWNER jaffle_dbt`);
    await admin.query('ALTER ROLE jaffle_reader SET default_transaction_read_only = on');
  } finally {
    await admin.end();
  }
  const url = (role: keyof typeof passwords) =>
    loginUrl(adminUrl, { role, password: passwords[role], database: JAFFLE_DATABASE });
  const owner = new Client({ connectionString: url('jaffle_dbt') });
  await owner.connect();
  try {
    // Every schema and table dbt makes is readable by the workers' login, and by nobody else.
    await owner.query(`
      REVOKE ALL ON DATABASE ${JAFFLE_DATABASE} FROM PUBLIC;
      GRANT CONNECT ON DATABASE ${JAFFLE_DATABASE} TO jaffle_reader;
      ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO jaffle_reader;
      ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO jaffle_reader;`);
  } finally {
    await owner.end();
  }
  return { dbt: url('jaffle_dbt'), reader: url('jaffle_reader') };
}

/**
 * The demo's plan: what `cutover plan init --dbt REPO --v1 v1 --v2 v2` writes (run by `cli`, the built CLI), for the
 * jaffle database, with the example's approvers; kept beside the repository. Returns its path.
 */
export function jafflePlan(root: string, cli: string): string {
  const repo = jaffleRepository(root);
  const file = path.join(path.dirname(repo), 'plan.yaml');
  // Written the first time only, as the repository is: a restart of the stack does not parse both versions again.
  if (existsSync(file)) return file;
  const args = ['--v1', 'v1', '--v2', 'v2', '--schema', 'jaffle', '--database', JAFFLE_DATABASE];
  execFileSync(
    process.execPath,
    [cli, 'plan', 'init', '--dbt', repo, ...args, '--release', 'jaffle-shop-v2', '--out', file, '--force'],
    { cwd: path.dirname(repo), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  withExampleApprovers(file);
  return file;
}

/** The written plan with the example's approvers in place of plan init's placeholders. */
function withExampleApprovers(file: string): void {
  const text = readFileSync(file, 'utf8');
  const header = text.split('\n').filter((line) => line.startsWith('#'));
  const plan = parse(text) as { signoff: { roles: Record<string, string[]> } };
  plan.signoff.roles = Object.fromEntries(EXAMPLE_APPROVERS.map(([role, name]) => [role, [name]]));
  writeFileSync(file, `${header.join('\n')}\n${stringify(plan, { lineWidth: 0 })}`);
}
