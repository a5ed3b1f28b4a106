/**
 * `node dist/scripts/plan-shape.js`: writes plan/plan-shape.json, the plan's shape for the workflow's zod-free
 * plan check (plan/shape-check.ts), from the zod schema. Run it after changing plan/schema.ts; the unit test
 * test/unit/shape-check.test.ts fails until the committed file is the generated one.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { planShape } from '../plan/json-schema';
import { projectRoot } from '../toolchain/tools';

const out = path.join(projectRoot(), 'plan', 'plan-shape.json');
writeFileSync(out, `${JSON.stringify(planShape())}\n`);
console.error(`plan shape: ${out}`);
