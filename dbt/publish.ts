/**
 * Write-audit-publish for a dbt project on PostgreSQL: each version is built into a schema of its own (written,
 * then audited by its tests and the model diffs), and consumers read a published schema of views, one per model,
 * over whichever build is live. Publishing V2 and rolling back to V1 are the same move, every view re-pointed in
 * one transaction: a consumer reads all of one version or all of the other, never a mix, and a failure part-way
 * publishes nothing.
 *
 * Why views and not a schema rename: PostgreSQL binds a view to the tables it reads by their identity, not their
 * names, so a consumer's own view over `published.customers` would keep reading the renamed-away V1 after a swap
 * of schemas. A published view keeps its identity when it is replaced, so consumers' views, and the grants given
 * on the published views, follow every swap. A V2 that drops or retypes a column a published view has cannot be
 * swapped in this way: PostgreSQL refuses it, and the refusal is named (a broken contract, shown before the gate).
 * A view keeps its columns once published: a build without one of them (V1, rolled back to after V2 added a
 * column) reads NULL there, so a rollback never has to drop a column a consumer may read.
 */
import type { ClientBase } from 'pg';

/** A PostgreSQL identifier, quoted. */
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** A publish or drop that PostgreSQL refused: nothing changed; names the relation and the database's reason. */
export class PublishError extends Error {
  override readonly name = 'PublishError';
}

export interface Published {
  /** The build schema the published views now read. */
  live: string;
  relations: string[];
  /** How long the transaction took, from BEGIN to COMMIT. */
  ms: number;
}

/**
 * Points every view of `published` at `build`'s relation of the same name, in one transaction: V2's publish, and
 * the rollback that points them back at V1. The schema is created on first use.
 */
export async function publish(
  client: ClientBase,
  request: { published: string; build: string; relations: readonly string[] },
): Promise<Published> {
  const started = performance.now();
  await client.query('BEGIN');
  try {
    // One publisher at a time: a second waits for the first's commit instead of interleaving its views.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cutover-publish:${request.published}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(request.published)}`);
    for (const relation of request.relations) {
      try {
        const select = await selectList(client, request.published, request.build, relation);
        await client.query(
          `CREATE OR REPLACE VIEW ${ident(request.published)}.${ident(relation)} AS SELECT ${select} FROM ${ident(request.build)}.${ident(relation)}`,
        );
      } catch (err) {
        throw new PublishError(
          `publishing ${request.build}.${relation} as ${request.published}.${relation}: ${(err as Error).message}; nothing was published`,
        );
      }
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
  return { live: request.build, relations: [...request.relations], ms: performance.now() - started };
}

/** A relation's columns in order, with their exact types; none when it does not exist. */
async function columnsOf(
  client: ClientBase,
  schema: string,
  relation: string,
): Promise<{ name: string; type: string }[]> {
  const { rows } = await client.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [schema, relation],
  );
  return rows;
}

/**
 * The published view's columns over `build`'s relation: the view's own columns first, in their order (NULL of
 * their type where the build lacks one), then the build's new ones; a first publish takes the build's as they are.
 */
async function selectList(client: ClientBase, published: string, build: string, relation: string): Promise<string> {
  const [current, source] = await Promise.all([
    columnsOf(client, published, relation),
    columnsOf(client, build, relation),
  ]);
  if (source.length === 0) throw new Error(`relation "${build}.${relation}" does not exist`);
  return viewColumns(current, source);
}

/**
 * A published view's select list over a build's relation (PostgreSQL's and DuckDB's alike): the view's own columns
 * first, in their order (NULL of their type where the build lacks one), then the build's new ones.
 */
export function viewColumns(current: readonly Column[], source: readonly Column[]): string {
  const has = new Set(source.map((c) => c.name));
  const kept = new Set(current.map((c) => c.name));
  return [
    ...current.map((c) => (has.has(c.name) ? ident(c.name) : `CAST(NULL AS ${c.type}) AS ${ident(c.name)}`)),
    ...source.filter((c) => !kept.has(c.name)).map((c) => ident(c.name)),
  ].join(', ');
}

/** A column of a relation, with its type as the database names it. */
interface Column {
  name: string;
  type: string;
}

/** Refuses to drop `build` while views of `published` read it (`live`: the build each view reads), naming them. */
export function refuseLive(live: Record<string, string>, request: { published: string; build: string }): void {
  const reading = Object.entries(live)
    .filter(([, schema]) => schema === request.build)
    .map(([view]) => view);
  if (reading.length > 0)
    throw new PublishError(
      `${request.build} is live: ${request.published}.${reading.join(`, ${request.published}.`)} read it; publish another build first`,
    );
}

/** The build schema each published view reads now (from PostgreSQL's own record of the views' dependencies). */
export async function liveBuilds(client: ClientBase, published: string): Promise<Record<string, string>> {
  const { rows } = await client.query<{ view_name: string; table_schema: string }>(
    `SELECT view_name, table_schema FROM information_schema.view_table_usage
      WHERE view_schema = $1 AND table_schema <> $1`,
    [published],
  );
  return Object.fromEntries(rows.map((r) => [r.view_name, r.table_schema]));
}

/**
 * The views of other schemas that read `build`: a live build. dbt rebuilds a table by renaming the old one away and
 * dropping it with CASCADE, which would drop these views with it: a live build is never rebuilt in place.
 */
export async function readersOf(client: ClientBase, build: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT DISTINCT view_schema || '.' || view_name AS name FROM information_schema.view_table_usage
      WHERE table_schema = $1 AND view_schema <> $1 ORDER BY 1`,
    [build],
  );
  return rows.map((r) => r.name);
}

/**
 * Drops a build's schema (V1's, at decommission), refused while a published view still reads it: decommission
 * never takes away what consumers read.
 */
export async function dropBuild(client: ClientBase, request: { published: string; build: string }): Promise<void> {
  refuseLive(await liveBuilds(client, request.published), request);
  await client.query(`DROP SCHEMA IF EXISTS ${ident(request.build)} CASCADE`);
}
