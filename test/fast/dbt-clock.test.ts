/**
 * Which dbt models read the clock (or chance), from their code in the manifest: the models whose two builds differ
 * unless the project pins its clock, named for the approvers beside the A/A build's noise.
 */
import { clockIn, clockOf, modelsOf, readManifest } from '../../dbt/manifest';

test('what reads the clock, in SQL and in Jinja, and what only looks like it', () => {
  expect(clockIn('select current_timestamp as loaded_at')).toBe('current_timestamp');
  expect(clockIn('select {{ dbt.current_timestamp() }} as at')).toBe('current_timestamp');
  expect(clockIn("where created_at > '{{ run_started_at }}'")).toBe('run_started_at');
  expect(clockIn('select NOW() as at')).toBe('now');
  expect(clockIn('select random() < 0.5 as sampled')).toBe('random');
  expect(clockIn('select current_date_key from dates')).toBeUndefined();
  expect(clockIn('select nowhere, known_uuid from t')).toBeUndefined();
  expect(clockIn('select 1 -- current_timestamp was here')).toBeUndefined();
  expect(clockIn('{# now() #} select 1')).toBeUndefined();
});

/** A manifest of models with their code and parents, as dbt writes one (the fields read here). */
function manifest(models: Record<string, { code: string; parents?: string[] }>) {
  const nodes = Object.fromEntries(
    Object.entries(models).map(([name, m]) => [
      `model.shop.${name}`,
      {
        unique_id: `model.shop.${name}`,
        resource_type: 'model',
        name,
        schema: 'shop',
        raw_code: m.code,
        depends_on: { nodes: (m.parents ?? []).map((p) => `model.shop.${p}`) },
      },
    ]),
  );
  return readManifest({ metadata: { dbt_version: '1.11.0' }, nodes });
}

test('a model reads the clock itself, or through every model upstream whose code does', () => {
  const models = modelsOf(
    manifest({
      stg_orders: { code: 'select *, current_date as seen_on from raw' },
      stg_customers: { code: 'select * from raw_customers' },
      stamped: { code: 'select *, now() as at from {{ ref("stg_customers") }}', parents: ['stg_customers'] },
      orders: { code: 'select * from {{ ref("stg_orders") }}', parents: ['stg_orders'] },
      customers: { code: 'select 1', parents: ['orders', 'stamped', 'stg_customers'] },
      plain: { code: 'select 1', parents: ['stg_customers'] },
    }),
  );
  expect(clockOf(models, 'model.shop.stg_orders')).toEqual(['itself']);
  expect(clockOf(models, 'model.shop.orders')).toEqual(['stg_orders']);
  expect(clockOf(models, 'model.shop.stamped')).toEqual(['itself']);
  expect(clockOf(models, 'model.shop.customers')).toEqual(['stamped', 'stg_orders']);
  expect(clockOf(models, 'model.shop.plain')).toEqual([]);
});
