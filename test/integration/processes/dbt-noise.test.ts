/**
 * A dbt shadow tells noise from change (real dbt on DuckDB): jaffle shop whose `customers` stamps each build with
 * current_timestamp is built twice as V1 (an A/A build), and what V1 differs from itself in is that model's noise.
 * A refactor passes and names the noisy model and its column, V1 against V1 beside V1 against V2; the same noisy
 * project with a real change to customer_lifetime_value fails naming that column, never the noisy one; a project
 * that pins its clock to the plan's moment has no noise; and without the A/A build the refactor fails on the noise.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { diffModelsInDuckdb } from '../../../activities/dbt-models';
import { modelLine } from '../../../workflows/output-lines';
import { tempDir } from '../../helpers/harness';
import {
  buildDuckdb,
  CHANGED_CLV,
  dbtPython,
  JAFFLE_SHOP,
  NOISY,
  PINNED,
  projectVariant,
  REFACTOR,
  type DuckdbBuild,
  type Edit,
} from '../../helpers/dbt';

jest.setTimeout(300_000);

const work = tempDir('cutover-dbt-noise-');
/** `project` built into `<name>.duckdb` of the work folder. */
const build = (project: string, name: string, vars?: Record<string, unknown>) => buildDuckdb(work, project, name, vars);

type Built = DuckdbBuild;

const builds = {} as Record<'v1' | 'aa' | 'refactor' | 'changed', Built>;

beforeAll(async () => {
  dbtPython();
  const noisy = projectVariant(JAFFLE_SHOP, path.join(work, 'noisy'), NOISY);
  builds.v1 = await build(noisy, 'v1');
  builds.aa = await build(noisy, 'v1_aa');
  builds.refactor = await build(projectVariant(noisy, path.join(work, 'refactor'), REFACTOR), 'v2_refactor');
  builds.changed = await build(projectVariant(noisy, path.join(work, 'changed'), CHANGED_CLV), 'v2_changed');
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const engine = () => ({ tempDirectory: path.join(work, `spill-${Math.random().toString(36).slice(2)}`) });

/** V1 against `v2`, with V1's second build as its noise unless `aa` is false. */
const shadowOf = (v2: Built, aa = true) =>
  diffModelsInDuckdb(
    {
      v1: builds.v1.manifest,
      v2: v2.manifest,
      v1File: builds.v1.file,
      v2File: v2.file,
      ...(aa ? { aa: builds.aa.manifest, aaFile: builds.aa.file } : {}),
    },
    engine(),
  );

test('without the A/A build, a refactor of a noisy project fails on the noise: what the approvers used to see', async () => {
  const shadow = await shadowOf(builds.refactor, false);
  const customers = shadow.models.find((m) => m.model === 'customers');
  expect(customers?.verdict).toBe('fail');
  expect(customers?.failures.join('\n')).toMatch(/columns loaded_at/);
  // The code says so even without a second build: the model reads the clock.
  expect(customers?.clock).toEqual(['itself']);
});

test('with it, the refactor passes and the noisy model is named: its column, V1 against V1 beside V1 against V2', async () => {
  const shadow = await shadowOf(builds.refactor);
  expect(shadow.verdict).toBe('pass');
  const customers = shadow.models.find((m) => m.model === 'customers');
  expect(customers?.failures).toEqual([]);
  expect(customers?.noise).toEqual({
    columns: [{ column: 'loaded_at', aa: 100, v2: 100 }],
    rows: { aa: 0, v2: 0 },
    mayHide: [],
  });
  // The diff's figures stay as measured: every row's loaded_at differs, and nothing else.
  const differing = customers?.diff?.columns.filter((c) => c.differing > 0).map((c) => c.column);
  expect(differing).toEqual(['loaded_at']);
  expect(modelLine(customers as NonNullable<typeof customers>)).toContain(
    'noisy: loaded_at V1↔V1 100, V1↔V2 100; reads the clock · pass',
  );
});

test('a real change in another column of the noisy model fails, naming that column and not the noisy one', async () => {
  const shadow = await shadowOf(builds.changed);
  expect(shadow.verdict).toBe('fail');
  const customers = shadow.models.find((m) => m.model === 'customers');
  expect(customers?.noise?.columns.map((c) => c.column)).toEqual(['loaded_at']);
  expect(customers?.failures).toHaveLength(1);
  expect(customers?.failures[0]).toMatch(/\(columns customer_lifetime_value\)$/);
  expect(customers?.failures[0]).toMatch(/by column: customer_lifetime_value \d+\)/);
  expect(customers?.failures[0]).not.toMatch(/loaded_at/);
});

test("a project that pins its clock to the plan's moment agrees with itself: no noise, nothing read from the clock", async () => {
  const pinned = projectVariant(JAFFLE_SHOP, path.join(work, 'pinned'), PINNED);
  const now = { cutover_now: '2026-12-08T03:00:00.000Z' };
  const [v1, aa] = [await build(pinned, 'pinned_v1', now), await build(pinned, 'pinned_aa', now)];
  // Two files of one name are one database to DuckDB (dbt names a file's models by it): refused, both named.
  const twin = path.join(work, 'twin', 'pinned_v1.duckdb');
  mkdirSync(path.dirname(twin), { recursive: true });
  copyFileSync(aa.file, twin);
  const shadow = await diffModelsInDuckdb(
    { v1: v1.manifest, v2: v1.manifest, aa: aa.manifest, v1File: v1.file, v2File: twin, aaFile: aa.file },
    engine(),
  ).catch((e: unknown) => e);
  expect((shadow as Error).message).toBe(
    `the builds' DuckDB files ${v1.file} and ${twin} are both named pinned_v1: build them into files of different names`,
  );
  const again = await build(pinned, 'pinned_v2', now);
  const judged = await diffModelsInDuckdb(
    { v1: v1.manifest, v2: again.manifest, aa: aa.manifest, v1File: v1.file, v2File: again.file, aaFile: aa.file },
    { ...engine() },
  );
  // Nothing V2 changes is diffed (the same project): every model, then, with --all.
  expect(judged.models).toEqual([]);
  const all = await diffModelsInDuckdb(
    {
      v1: v1.manifest,
      v2: again.manifest,
      aa: aa.manifest,
      v1File: v1.file,
      v2File: again.file,
      aaFile: aa.file,
      select: 'all',
    },
    engine(),
  );
  const customers = all.models.find((m) => m.model === 'customers');
  expect(customers?.noise).toBeUndefined();
  expect(customers?.clock).toBeUndefined();
  expect(customers?.diff?.columns.find((c) => c.column === 'loaded_at')?.equal).toBe(100);
  expect(all.verdict).toBe('pass');
});

test('noise that may hide a change is named for the approvers: V2 differs more than V1 from itself, side by side', async () => {
  // V1 stamps only its first ten customers; V2 stamps every one: a change, inside a column that is noise.
  const stamp = (when: string): Edit[] => [
    {
      file: 'models/customers.sql',
      from: '        customers.last_name,\n',
      to: `        customers.last_name,\n        case when ${when} then current_timestamp end as loaded_at,\n`,
    },
  ];
  const some = projectVariant(JAFFLE_SHOP, path.join(work, 'some'), stamp('customers.customer_id <= 10'));
  const every = projectVariant(JAFFLE_SHOP, path.join(work, 'every'), stamp('true'));
  const [v1, aa, v2] = [await build(some, 'some_v1'), await build(some, 'some_aa'), await build(every, 'every_v2')];
  const shadow = await diffModelsInDuckdb(
    { v1: v1.manifest, v2: v2.manifest, aa: aa.manifest, v1File: v1.file, v2File: v2.file, aaFile: aa.file },
    engine(),
  );
  const customers = shadow.models.find((m) => m.model === 'customers');
  expect(customers?.noise).toEqual({
    columns: [{ column: 'loaded_at', aa: 10, v2: 100 }],
    rows: { aa: 0, v2: 0 },
    mayHide: ['loaded_at'],
  });
  // Never silently passed: the line the approvers read says so, and the verdict is theirs.
  expect(modelLine(customers as NonNullable<typeof customers>)).toContain(
    'noisy: loaded_at V1↔V1 10, V1↔V2 100; noise may hide a change in loaded_at: the approvers decide',
  );
});
