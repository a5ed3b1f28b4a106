/**
 * The plan's JSON Schema, generated from the zod schema by zod's own `toJSONSchema`, for editors: VS Code and
 * other YAML language servers complete and check a plan that names it (`# yaml-language-server: $schema=…`).
 * It says the shape (types, required fields, allowed keys, patterns, ranges, defaults, descriptions); the rules
 * across fields (quorums against approvers, tolerances against declared metrics, outputs against the
 * pipelines' placeholders…) are zod's alone, checked by `cutover plan validate` and the workers.
 *
 * The same generation gives the plan's shape (plan/plan-shape.json) for the workflow's zod-free plan check of
 * old cutovers (plan/shape-check.ts): no descriptions, every default, and the name of each field's rules.
 */
import { z } from 'zod';
import { planSchema } from './schema';

/** The schema's identifier (a URN: it names the schema, it is not fetched). */
export const PLAN_SCHEMA_ID = 'urn:cutover:plan-schema';

type Override = NonNullable<Parameters<typeof z.toJSONSchema>[1]>['override'];

function generate(override: Override): Record<string, unknown> {
  // `input`: what a person writes (defaults optional, `10%` as text), not what the parse returns.
  return z.toJSONSchema(planSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12', override });
}

export function planJsonSchema(): Record<string, unknown> {
  // The rules' names are for plan/shape-check.ts; editors would only see an unknown keyword.
  const schema = generate((ctx) => void delete (ctx.jsonSchema as { rules?: unknown }).rules);
  return {
    ...schema,
    $id: PLAN_SCHEMA_ID,
    title: 'cutover plan',
    description:
      'A cutover plan: V1 (baseline) and V2 (candidate), the staging, shadow, stress, rollback, sign-off and production sections. Rules across fields are checked by `cutover plan validate`.',
  };
}

/** The plan's shape for plan/shape-check.ts (committed as plan/plan-shape.json; a test holds them equal). */
export function planShape(): Record<string, unknown> {
  const schema = generate((ctx) => {
    const def = ctx.zodSchema._zod.def;
    // zod leaves out the default of a field whose input is a union piped to its output (`maxSlowdown`).
    if (def.type === 'default' && !('default' in ctx.jsonSchema)) {
      ctx.jsonSchema.default = (def as unknown as { defaultValue: unknown }).defaultValue;
    }
  });
  // Keywords only: a property may itself be called `description` (the plan's is).
  const strip = (node: unknown, names = false): unknown => {
    if (Array.isArray(node)) return node.map((item) => strip(item));
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node)
        .filter(([key]) => names || (key !== 'description' && key !== '$schema'))
        // A default is a value, not a schema: kept as it is.
        .map(([key, value]) => [key, key === 'default' ? value : strip(value, !names && key === 'properties')]),
    );
  };
  return strip(schema) as Record<string, unknown>;
}
