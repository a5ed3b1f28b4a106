/**
 * The plan `cutover plan init --dbt` writes for a dbt project: every step a `cutover dbt` command, its `dbt` section
 * the project and its two versions (the shadow diffs every model V2 changes, and those downstream, on its key from
 * the manifest, an unkeyed one as a multiset of rows, each beside V1's own noise from a second build of V1), production
 * a publish and its undo the publish back. Nothing
 * in it is for the release manager to write but the approvers' names.
 */
import { stringify } from 'yaml';
import { modelsOf, modifiedModels, type Manifest } from './manifest';

export interface DbtPlanOptions {
  release: string;
  /** The project's folder, as the workers will find it (relative to the plan's folder, or absolute). */
  project: string;
  /** V1's and V2's versions: a git ref of the project's repository each, or a folder. */
  v1: { ref?: string; project?: string };
  v2: { ref?: string; project?: string };
  /** The schema consumers read; the builds are `<schema>_v1`, `_v2`, `_staging`. */
  schema: string;
  /** The database the workers name the warehouse by (CUTOVER_DATABASE_<NAME>). @default warehouse */
  database?: string;
  /** Where the builds are: schemas of a PostgreSQL database, or of one DuckDB file. @default postgres */
  target?: 'postgres' | 'duckdb';
  v1Manifest: Manifest;
  v2Manifest: Manifest;
}

/** The `cutover dbt` commands of a plan for `options`' project: each step of it, built from these. */
function commands(options: DbtPlanOptions) {
  const dbt = (...args: string[]) => ({ run: ['cutover', 'dbt', ...args] });
  const version = (v: DbtPlanOptions['v1']) =>
    v.ref !== undefined ? ['--project', options.project, '--ref', v.ref] : ['--project', v.project ?? options.project];
  // The pipelines get the dataset's scale ({dataset} is theirs alone); staging builds the project as it is.
  // The pipelines keep their manifests in the cutover's work folder, where the shadow reads the models from.
  const build = (v: DbtPlanOptions['v1'], schema: string, artifacts?: string, select?: string[]) =>
    dbt(
      'build',
      ...version(v),
      '--schema',
      schema,
      ...(artifacts ? ['--dataset', '{dataset}', '--artifacts', `{workdir}/dbt/${artifacts}`] : []),
      ...(select ? ['--select', ...select] : []),
    );
  const publish = (published: string, build: string) => dbt('publish', '--published', published, '--build', build);
  return { dbt, version, build, publish };
}

/** Production: V2's build published as the schema consumers read, V1's published back as the undo. */
function productionOf(options: DbtPlanOptions, { dbt, version, publish }: ReturnType<typeof commands>) {
  const s = options.schema;
  return {
    deploy: publish(s, `${s}_v2`),
    undo: publish(s, `${s}_v1`),
    monitor: {
      window: '24h',
      interval: '5m',
      // What consumers read (each published model's rows), and V2's dbt tests on the live build.
      probe: dbt('probe', '--published', s, ...version(options.v2)),
      triggers: { errorRate: 0.01, kpiDrift: 0.05, failedProbes: 3 },
    },
    reconcile: { every: '24h', days: 3 },
    // V1's builds (its A/A build too), and the rebuilds of the live V2 that reconciliation days made beside it.
    decommission: {
      ...dbt('drop', '--published', s, '--build', `${s}_v1`, `${s}_v1_aa`, `${s}_v2_rebuild`),
      afterCleanDays: 3,
    },
  };
}

/** The plan, as YAML with a comment on what to change, and the models left out for want of a key. */
export function dbtPlan(options: DbtPlanOptions): { text: string; unkeyed: string[]; models: string[] } {
  const database = options.database ?? 'warehouse';
  const v2Models = modelsOf(options.v2Manifest);
  const { changed, downstream } = modifiedModels(options.v1Manifest, options.v2Manifest);
  const selected = [...changed, ...downstream].map((id) => v2Models.get(id)).filter((m) => m !== undefined);
  const unkeyed = selected.filter((m) => !m.key).map((m) => m.name);
  const steps = commands(options);
  const { dbt, build, publish } = steps;
  const s = options.schema;
  const plan = {
    release: options.release,
    description: `dbt project ${options.project}: ${options.v1.ref ?? options.v1.project} → ${options.v2.ref ?? options.v2.project}`,
    generator: dbt('dataset', '--rows', '{rows}', '--seed', '{seed}', '--out', '{dataset}'),
    baseline: build(options.v1, `${s}_v1`, 'v1'),
    candidate: build(options.v2, `${s}_v2`, 'v2'),
    dbt: {
      project: options.project,
      v1: options.v1.ref !== undefined ? { ref: options.v1.ref } : { project: options.v1.project ?? options.project },
      v2: options.v2.ref !== undefined ? { ref: options.v2.ref } : { project: options.v2.project ?? options.project },
      ...(options.target === 'duckdb' ? { target: 'duckdb' } : {}),
      database,
      schema: s,
      select: 'modified',
    },
    staging: {
      deploy: [build(options.v2, `${s}_staging`)],
      tests: publish(`${s}_staging_live`, `${s}_staging`),
    },
    shadow: {
      datasets: [{ generate: { rows: 1, seed: 1 } }],
      // V1 built once more (the diffed models and what they read): what it differs from itself in is noise.
      noiseRuns: selected.length > 0 ? 1 : 0,
      ...(selected.length > 0
        ? {
            noiseRun: build(
              options.v1,
              `${s}_v1_aa`,
              'v1-aa',
              selected.map((m) => `+${m.name}`),
            ),
          }
        : {}),
    },
    stress: STRESS,
    rollback: { ...publish(`${s}_staging_live`, `${s}_v1`), target: '60s' },
    signoff: PLACEHOLDER_SIGNOFF,
    production: productionOf(options, steps),
  };
  const header = [
    '# A dbt cutover plan written by `cutover plan init --dbt`: V1 and V2 are built into schemas of their own, each',
    `# model V2 changes (and each downstream of one) is diffed in place (dbt), production publishes ${s}_v2 as ${s}.`,
    `# V1 is built twice (${s}_v1_aa, the diffed models and what they read): what differs between its two builds is`,
    "# each model's noise, shown beside V2's difference and not counted against it.",
    '# Replace the approvers with your own; the builds read the warehouse from CUTOVER_DBT_WAREHOUSE, the diffs from',
    `# CUTOVER_DATABASE_${database.toUpperCase()}.`,
    ...(unkeyed.length > 0
      ? [`# Compared as multisets of rows, for want of a key in the manifest: ${unkeyed.join(', ')}.`]
      : []),
  ];
  return {
    text: `${header.join('\n')}\n${stringify(plan, { lineWidth: 0 })}`,
    unkeyed,
    models: selected.map((m) => m.name),
  };
}

/** The approvers' places, for the release manager to fill: one of each of the five roles. */
const PLACEHOLDER_SIGNOFF = {
  roles: {
    engineering: ['an-engineer'],
    qa: ['a-tester'],
    architecture: ['an-architect'],
    operations: ['an-operator'],
    business: ['a-business-owner'],
  },
  quorum: 1,
  deadline: '72h',
  separationOfDuties: true,
};

/**
 * V1's and V2's builds interleaved, each judged as a whole and model by model (its run results' times); an
 * interleaved build of a shared warehouse is noisy, so an undecided comparison passes here (onInconclusive).
 */
const STRESS = {
  sizes: [1],
  warmup: 0,
  iterations: 3,
  compare: { measures: ['latency'], maxSlowdown: '25%', minRuns: 5, maxRuns: 10, onInconclusive: 'pass' },
};
