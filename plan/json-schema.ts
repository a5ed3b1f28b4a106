/**
 * The plan's JSON Schema, generated from the zod schema by zod's own `toJSONSchema`, for editors: VS Code and
 * other YAML language servers complete and check a plan that names it (`# yaml-language-server: $schema=…`).
 * It says the shape (types, required fields, allowed keys, patterns, ranges, defaults, descriptions); the rules
 * across fields (quorums against approvers, tolerances against declared metrics, outputs against the
 * pipelines' placeholders…) are zod's alone, checked by `cutover plan validate` and the workers.
 *
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
  // The rules' names (plan/rules.ts) are zod's business; editors would only see an unknown keyword.
  const schema = generate((ctx) => void delete (ctx.jsonSchema as { rules?: unknown }).rules);
  return {
    ...schema,
    $id: PLAN_SCHEMA_ID,
    title: 'cutover plan',
    description:
      'A cutover plan: V1 (baseline) and V2 (candidate), the staging, shadow, stress, rollback, sign-off and production sections. Rules across fields are checked by `cutover plan validate`.',
  };
}
