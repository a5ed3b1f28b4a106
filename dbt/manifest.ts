/**
 * What a dbt project says about itself, read from the artifacts dbt writes (`manifest.json`, `run_results.json`):
 * its models and where each is built, each model's key, its declared columns and contract, its lineage (the
 * models and exposures downstream), and what one build of it did. Only the fields read here are validated (zod,
 * loose objects): a newer dbt that adds fields still reads, one that moves a field read here fails by name.
 *
 * Pure: the artifacts come in parsed; running dbt is dbt/run.ts.
 */
import { z } from 'zod';

const nodeIds = z.looseObject({ nodes: z.array(z.string()).default([]) });

const constraintSchema = z.looseObject({ type: z.string(), columns: z.array(z.string()).nullish() });

const nodeSchema = z.looseObject({
  unique_id: z.string(),
  resource_type: z.string(),
  name: z.string(),
  database: z.string().nullish(),
  schema: z.string(),
  alias: z.string().nullish(),
  original_file_path: z.string().default(''),
  raw_code: z.string().nullish(),
  checksum: z.looseObject({ checksum: z.string() }).nullish(),
  config: z
    .looseObject({
      materialized: z.string().nullish(),
      unique_key: z.union([z.string(), z.array(z.string())]).nullish(),
      contract: z.looseObject({ enforced: z.boolean().default(false) }).nullish(),
    })
    .default({}),
  columns: z
    .record(
      z.string(),
      z.looseObject({
        name: z.string(),
        data_type: z.string().nullish(),
        constraints: z.array(constraintSchema).default([]),
      }),
    )
    .default({}),
  constraints: z.array(constraintSchema).default([]),
  depends_on: nodeIds.default({ nodes: [] }),
  test_metadata: z.looseObject({ name: z.string() }).nullish(),
  attached_node: z.string().nullish(),
  column_name: z.string().nullish(),
});

const manifestSchema = z.looseObject({
  metadata: z.looseObject({ dbt_version: z.string(), project_name: z.string().nullish() }),
  nodes: z.record(z.string(), nodeSchema),
  exposures: z
    .record(z.string(), z.looseObject({ unique_id: z.string(), name: z.string(), depends_on: nodeIds }))
    .default({}),
  child_map: z.record(z.string(), z.array(z.string())).default({}),
  sources: z
    .record(
      z.string(),
      z.looseObject({
        loaded_at_field: z.string().nullish(),
        freshness: z
          .looseObject({
            error_after: z.looseObject({ count: z.number().nullish() }).nullish(),
            warn_after: z.looseObject({ count: z.number().nullish() }).nullish(),
          })
          .nullish(),
      }),
    )
    .default({}),
});

export type Manifest = z.infer<typeof manifestSchema>;
type ManifestNode = z.infer<typeof nodeSchema>;

const runResultsSchema = z.looseObject({
  results: z.array(
    z.looseObject({
      unique_id: z.string(),
      status: z.string(),
      message: z.string().nullish(),
      execution_time: z.number().default(0),
      failures: z.number().nullish(),
    }),
  ),
  elapsed_time: z.number().default(0),
});

export type RunResults = z.infer<typeof runResultsSchema>;

/** An artifact that is not what dbt writes: names the file and the first fields at fault. */
export class ArtifactError extends Error {
  override readonly name = 'ArtifactError';
}

function parseArtifact<T>(schema: z.ZodType<T>, doc: unknown, file: string): T {
  const parsed = schema.safeParse(doc);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new ArtifactError(`${file}: not a dbt artifact this version reads (${problems.join('; ')})`);
}

export const readManifest = (doc: unknown, file = 'manifest.json'): Manifest =>
  parseArtifact(manifestSchema, doc, file);
export const readRunResults = (doc: unknown, file = 'run_results.json'): RunResults =>
  parseArtifact(runResultsSchema, doc, file);

/** Where a model's key came from, strongest first. */
export type KeySource = 'primary-key' | 'unique+not_null' | 'unique_key';

/** One model as the cutover sees it. */
export interface DbtModel {
  id: string;
  name: string;
  /** Where its relation is built: the database (a DuckDB file's name, a PostgreSQL database), schema, name. */
  database: string;
  schema: string;
  relation: string;
  materialized: string;
  /** The model's key from the manifest, or none: the model is then compared unkeyed. */
  key?: string[];
  keySource?: KeySource;
  /** Columns the project declares (its YAML), with their declared types where it gives them. */
  declared: { name: string; dataType?: string }[];
  /** An enforced model contract. */
  contract: boolean;
  /** The file it is defined in, relative to the project. */
  file: string;
  /** dbt's checksum of the model's file: a changed body changes it. */
  checksum?: string;
  /** Its code reads the clock (current_date, current_timestamp, now(), dbt's run_started_at…): two builds differ. */
  readsClock: boolean;
  /** The models it reads (unique ids). */
  parents: string[];
}

/**
 * What in a model's code reads the clock, in SQL and in dbt's Jinja: a model that has one differs between two
 * builds at two moments unless the project pins it (a var or an environment variable of the plan's dataset).
 */
const CLOCK =
  /\b(current_date|current_timestamp|current_time|localtimestamp|localtime|sysdate|systimestamp|run_started_at|invocation_id|modules\.datetime|now\s*\(|getdate\s*\(|random\s*\(|gen_random_uuid\s*\(|uuid\s*\()(?![A-Za-z0-9_])/i;

/** The clock (or chance) in code, comments aside: the first thing that reads it (`now`, `current_date`…), or nothing. */
export function clockIn(code: string): string | undefined {
  const found = CLOCK.exec(code.replace(/--[^\n]*/g, '').replace(/\{#[\s\S]*?#\}/g, ''))?.[1];
  return found?.replace(/\s*\($/, '').toLowerCase();
}

/** The models of a manifest, by unique id, each with its key. */
export function modelsOf(manifest: Manifest): Map<string, DbtModel> {
  const nodes = Object.values(manifest.nodes);
  const tests = nodes.filter((node) => node.resource_type === 'test' && node.test_metadata && node.attached_node);
  const models = new Map<string, DbtModel>();
  for (const node of nodes) {
    if (node.resource_type !== 'model') continue;
    const found = keyOf(
      node,
      tests.filter((test) => test.attached_node === node.unique_id),
    );
    models.set(node.unique_id, {
      id: node.unique_id,
      name: node.name,
      database: node.database ?? '',
      schema: node.schema,
      relation: node.alias ?? node.name,
      materialized: node.config.materialized ?? 'view',
      ...(found ? { key: found.key, keySource: found.source } : {}),
      declared: Object.values(node.columns).map((column) => ({
        name: column.name,
        ...(column.data_type ? { dataType: column.data_type } : {}),
      })),
      contract: node.config.contract?.enforced ?? false,
      file: node.original_file_path,
      ...(node.checksum ? { checksum: node.checksum.checksum } : {}),
      readsClock: clockIn(node.raw_code ?? '') !== undefined,
      parents: node.depends_on.nodes.filter((id) => id.startsWith('model.')),
    });
  }
  return models;
}

/**
 * A model's key: a primary-key constraint (the model's, or a column's), else the first declared column that is
 * tested both `unique` and `not_null`, else an incremental model's `unique_key`.
 */
function keyOf(node: ManifestNode, tests: ManifestNode[]): { key: string[]; source: KeySource } | undefined {
  const modelKey = node.constraints.find((c) => c.type === 'primary_key' && c.columns && c.columns.length > 0);
  if (modelKey?.columns) return { key: modelKey.columns, source: 'primary-key' };
  const columnKey = Object.values(node.columns).find((c) => c.constraints.some((x) => x.type === 'primary_key'));
  if (columnKey) return { key: [columnKey.name], source: 'primary-key' };
  const tested = (name: string, column: string) =>
    tests.some((test) => test.test_metadata?.name === name && test.column_name === column);
  const columns = [...Object.keys(node.columns), ...tests.flatMap((test) => test.column_name ?? [])];
  const pair = columns.find((column) => tested('unique', column) && tested('not_null', column));
  if (pair) return { key: [pair], source: 'unique+not_null' };
  const uniqueKey = node.config.unique_key;
  if (uniqueKey && uniqueKey.length > 0)
    return { key: typeof uniqueKey === 'string' ? [uniqueKey] : uniqueKey, source: 'unique_key' };
  return undefined;
}

/**
 * The models a model's rows depend on the clock through: itself (`'itself'`) where its code reads it, and every
 * model upstream whose code does, by name. Empty: two builds on the same data agree, as far as its code says.
 */
export function clockOf(models: Map<string, DbtModel>, id: string): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const queue = [id];
  while (queue.length > 0) {
    const at = queue.shift() as string;
    if (seen.has(at)) continue;
    seen.add(at);
    const model = models.get(at);
    if (!model) continue;
    if (model.readsClock) found.push(at === id ? 'itself' : model.name);
    queue.push(...model.parents);
  }
  return found.sort((a, b) => (a === 'itself' ? -1 : b === 'itself' ? 1 : a.localeCompare(b)));
}

/** Whether any source of the project has a freshness to check: a `loaded_at_field` and an `error_after` or `warn_after`. */
export function hasFreshness(manifest: Manifest): boolean {
  return Object.values(manifest.sources).some(
    (s) => !!s.loaded_at_field && !!(s.freshness?.error_after?.count || s.freshness?.warn_after?.count),
  );
}

/** What lies downstream of some models: the models (by name) and exposures that read them, however indirectly. */
export function downstreamOf(manifest: Manifest, ids: Iterable<string>): { models: string[]; exposures: string[] } {
  const seen = new Set<string>();
  const queue = [...ids];
  while (queue.length > 0) {
    const id = queue.shift() as string;
    for (const child of manifest.child_map[id] ?? []) {
      if (seen.has(child)) continue;
      seen.add(child);
      queue.push(child);
    }
  }
  const start = new Set(ids);
  const named = (prefix: string, names: Record<string, { name: string }>) =>
    [...seen]
      .filter((id) => id.startsWith(prefix) && !start.has(id))
      .map((id) => names[id]?.name ?? id)
      .sort();
  return { models: named('model.', manifest.nodes), exposures: named('exposure.', manifest.exposures) };
}

/**
 * The models V2 changes (dbt's `state:modified`, from the two manifests): new in V2, or whose file or settings
 * (materialisation, key, contract, declared columns, relation name) differ from V1's; then everything downstream
 * of them in V2.
 * @returns unique ids of V2's models, the changed first
 */
export function modifiedModels(v1: Manifest, v2: Manifest): { changed: string[]; downstream: string[] } {
  const before = modelsOf(v1);
  const after = modelsOf(v2);
  // Where a version is built (its database and schema) is not a change to the model: each version has its own.
  const settings = (m: DbtModel) =>
    JSON.stringify([m.checksum, m.materialized, m.key, m.contract, m.declared, m.relation]);
  const changed = [...after.values()]
    .filter((model) => {
      const old = before.get(model.id);
      return !old || settings(old) !== settings(model);
    })
    .map((model) => model.id)
    .sort();
  const below = downstreamOf(v2, changed).models;
  const downstream = [...after.values()]
    .filter((model) => below.includes(model.name) && !changed.includes(model.id))
    .map((model) => model.id)
    .sort();
  return { changed, downstream };
}

/** One result of a dbt run: a model built, a seed loaded, a test passed or failed. */
export interface DbtStep {
  id: string;
  kind: string;
  status: string;
  ok: boolean;
  seconds: number;
  message?: string;
  failures?: number;
}

/** Each node's result, in the order dbt ran them; `ok` is dbt's success, pass, or a skip with no error. */
export function stepsOf(runResults: RunResults): DbtStep[] {
  return runResults.results.map((result) => ({
    id: result.unique_id,
    kind: result.unique_id.split('.')[0] ?? 'node',
    status: result.status,
    ok: ['success', 'pass'].includes(result.status),
    seconds: result.execution_time,
    ...(result.message ? { message: result.message } : {}),
    ...(typeof result.failures === 'number' ? { failures: result.failures } : {}),
  }));
}
