/**
 * The cutover plan: one zod schema, the only definition of its shape. Pure (no Node built-ins), so the
 * workflow re-validates its own input inside the sandbox with the very same rules the CLI applies.
 */
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { DURATION_PATTERN, toMs } from './duration';
import { FailureType } from './failures';
import { decodePublicKey } from './keys';
import { outputsNamed } from './placeholders';
import { flattenIssues, type PlanProblem } from './problems';

/** A duration string such as `30s`, `5m`, `72h`; must be greater than zero. */
export const durationSchema = z
  .string({ error: 'expected a duration string such as "30s", "5m" or "72h"' })
  .regex(DURATION_PATTERN, { error: 'expected a duration such as "30s", "5m" or "72h" (units ms, s, m, h, d)' })
  .refine((value) => toMs(value) > 0, { error: 'must be greater than zero' })
  .refine((value) => toMs(value) <= 366 * 86_400_000, { error: 'must be at most 366d' });

const argv = z
  .array(z.string().min(1, { error: 'expected a non-empty argument' }).max(4096), {
    error: 'expected an argument list such as ["node", "deploy.js"]',
  })
  .min(1, { error: 'expected at least the program to run' })
  .max(256);

const actionName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'expected a short name of letters, digits, ".", "_" or "-"' });

/** `{ run: argv[] }`: a process started without a shell. */
export const runActionSchema = z.strictObject({
  name: actionName.optional(),
  run: argv,
  cwd: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe("Working directory; relative paths are resolved against the plan file's folder."),
  env: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' }),
      z.string().max(65536),
    )
    .optional(),
  /** @default 10m */
  timeout: durationSchema.optional(),
});

/** `{ http: url }`: one HTTP request whose status must match. */
export const httpActionSchema = z.strictObject({
  name: actionName.optional(),
  http: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).optional(),
  headers: z.record(z.string(), z.string().max(8192)).optional(),
  body: z.string().max(1_000_000).optional(),
  /** @default any 2xx */
  expectStatus: z.int().min(100).max(599).optional(),
  /** @default 30s */
  timeout: durationSchema.optional(),
});

export const actionSchema = z.union([runActionSchema, httpActionSchema]);

export const THRESHOLD_NAMES = ['latencyP99', 'errorRate', 'memoryVariation', 'peakRssMb'] as const;
export const TRIGGER_NAMES = ['errorRate', 'kpiDrift', 'failedProbes'] as const;

/** A metric name as pipelines print it. */
const metricName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, { error: 'expected a metric name such as PAR30' });

const toleranceSchema = z
  .strictObject({
    relative: z.number().min(0).max(1e6).optional(),
    absolute: z.number().min(0).max(1e15).optional(),
    dryRun: z
      .boolean()
      .optional()
      .describe(
        'Measured and shown as "would have passed/failed"; never fails the phase (a check the workers\' policy requires may not be a dry run).',
      ),
  })
  .refine((t) => t.relative !== undefined || t.absolute !== undefined, {
    error: 'expected "relative" or "absolute" (or both)',
  });

/** A column of a pipeline output, as its file names it. */
const columnName = z
  .string()
  .min(1)
  .max(128)
  .refine((name) => !/["\p{Cc}]/u.test(name), { error: 'expected a column name without quotes or control characters' });

/** A name in `{output:NAME}`. */
export const OUTPUT_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** How close two values of one column must be: numbers by `absolute`/`relative`, text by `trim`/`ignoreCase`. */
const columnToleranceSchema = z
  .strictObject({
    absolute: z.number().min(0).max(1e15).optional(),
    relative: z.number().min(0).max(1e6).optional(),
    trim: z.boolean().optional(),
    ignoreCase: z.boolean().optional(),
  })
  .refine((t) => Object.values(t).some((v) => v !== undefined && v !== false), {
    error: 'expected "absolute", "relative", "trim" or "ignoreCase"',
  });

export const OUTPUT_FORMATS = ['csv', 'parquet', 'jsonl'] as const;

/** A share such as `10%` or 0.1: how much worse V2 may be than V1. */
const allowanceSchema = z
  .union(
    [
      z.number().min(0).max(100),
      z
        .string()
        .regex(/^\d+(\.\d+)?\s*%$/, { error: 'expected a percentage such as "10%" or a fraction such as 0.1' })
        .transform((text) => Number.parseFloat(text) / 100),
    ],
    { error: 'expected a percentage such as "10%" or a fraction such as 0.1' },
  )
  .pipe(z.number().min(0).max(100));

export const MEASURES = ['latency', 'memory'] as const;

/** `stress.compare`: what V2 may cost relative to V1, and how sure the verdict must be. */
const compareSchema = z
  .strictObject({
    measures: z
      .array(z.enum(MEASURES, { error: 'expected latency or memory' }))
      .min(1)
      .default(['latency', 'memory'])
      .describe('What is compared: wall time (`latency`) and peak RSS (`memory`).'),
    maxSlowdown: allowanceSchema
      .default(0.1)
      .describe("How much slower V2 may be (its median and p95 wall time over V1's)."),
    maxMemoryGrowth: allowanceSchema
      .default(0.2)
      .describe("How much more memory V2 may take (its median and p95 peak RSS over V1's)."),
    confidence: z
      .number()
      .gt(0.5, { error: 'expected a confidence above 0.5' })
      .lt(1, { error: 'expected a confidence below 1' })
      .default(0.95)
      .describe("Of the whole phase's verdict (every size, measure and statistic together)."),
    minRuns: z
      .int()
      .min(5, { error: 'expected at least 5 runs: fewer cannot say anything' })
      .max(1000)
      .default(10)
      .describe('Pairs measured before the first verdict.'),
    maxRuns: z
      .int()
      .min(5, { error: 'expected at least 5 runs: fewer cannot say anything' })
      .max(1000)
      .default(40)
      .describe('Pairs after which an undecided comparison is inconclusive.'),
    dryRun: z
      .boolean()
      .optional()
      .describe(
        'Measured and shown as "would have passed/failed"; never fails the phase (a check the workers\' policy requires may not be a dry run).',
      ),
    onInconclusive: z
      .enum(['pass', 'fail'])
      .default('fail')
      .describe('What an inconclusive verdict means for the phase.'),
  })
  .refine((c) => c.minRuns <= c.maxRuns, { error: 'minRuns is more than maxRuns', path: ['minRuns'] });

/** One output table that V1 and V2 both write (to `{output:NAME}`), diffed row by row on its key. */
const outputSchema = z.strictObject({
  format: z
    .enum(OUTPUT_FORMATS, { error: 'expected csv, parquet or jsonl' })
    .default('csv')
    .describe('The file format; the path given to the pipelines ends in `.csv`, `.parquet` or `.jsonl`.'),
  key: z
    .array(columnName)
    .min(1, { error: 'expected at least one key column' })
    .max(16)
    .describe('The column(s) that identify a row on both sides.'),
  columns: z
    .array(columnName)
    .min(1)
    .max(1000)
    .optional()
    .describe('The columns both sides must have (optional): a key, tolerance or ignore naming another is refused.'),
  tolerances: z
    .record(columnName, columnToleranceSchema)
    .default({})
    .describe('Per column; numbers without one must be equal, text and booleans exactly equal.'),
  ignore: z.array(columnName).max(1000).default([]).describe('Columns not compared.'),
  maxDifferingRows: z.int().min(0).default(0).describe('Rows present on both sides with a column out of tolerance.'),
  maxMissingRows: z.int().min(0).default(0).describe('Rows present on one side only, per side.'),
  minRows: z
    .int()
    .min(0)
    .default(1)
    .describe('Fewer rows than this on either side fails: an empty output is a broken pipeline.'),
  sample: z.int().min(0).max(1000).default(20).describe('Differing or missing rows kept as examples in the evidence.'),
  dryRun: z
    .boolean()
    .optional()
    .describe(
      'Measured and shown as "would have passed/failed"; never fails the phase (a check the workers\' policy requires may not be a dry run).',
    ),
});

const datasetSchema = z.union([
  z.strictObject({
    generate: z.strictObject({
      rows: z.int().min(1).max(100_000_000),
      seed: z
        .int()
        .min(0)
        .max(2 ** 31 - 1)
        .default(1),
    }),
  }),
  z.strictObject({ file: z.string().min(1).max(4096) }),
]);

const roleName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'expected a lower-case role name such as qa' });
const personName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, { error: 'expected an approver name' });

/** An ed25519 public key, 32 bytes as hex (64 characters) or base64 (44 characters). */
export const publicKeySchema = z.string().refine((key) => decodePublicKey(key) !== undefined, {
  error: 'expected a valid ed25519 public key (32 bytes, hex or base64)',
});

const signoffSchema = z.strictObject({
  roles: z
    .record(roleName, z.array(personName).min(1, { error: 'expected at least 1 approver' }).max(50))
    .refine((roles) => Object.keys(roles).length > 0, { error: 'expected at least one role' })
    .describe('Approvers per role: `{ engineering: [ana], qa: [bo] }`.'),
  quorum: z
    .union([z.int().min(1), z.record(roleName, z.int().min(1))])
    .default(1)
    .describe('Approvals needed per role: one number for all, or per role.'),
  deadline: durationSchema.default('72h').describe('How long the gate waits before escalating.'),
  escalate: actionSchema.optional().describe('Run when the deadline passes (a notification).'),
  escalationWindow: durationSchema.default('24h').describe('How long after escalation the gate expires.'),
  separationOfDuties: z.boolean().default(true).describe('One person signs for one role only.'),
  allowInitiator: z.boolean().default(false).describe('May the person who started the cutover sign?'),
  keys: z
    .record(personName, publicKeySchema)
    .optional()
    .describe('Public keys per approver; when present, unsigned sign-offs do not count.'),
});

const triggersSchema = z
  .strictObject({
    errorRate: z.number().min(0).max(1).optional().describe("Roll back when the probe's error rate exceeds this."),
    kpiDrift: z
      .number()
      .min(0)
      .max(1e6)
      .optional()
      .describe('Roll back when any KPI moves by more than this relative amount from its pre-deploy reference.'),
    failedProbes: z.int().min(1).max(1000).optional().describe('Roll back after this many probe failures in a row.'),
    dryRun: z
      .array(z.enum(TRIGGER_NAMES))
      .optional()
      .describe('Triggers that are watched and shown as "would have rolled back", and never roll back.'),
  })
  .refine((t) => t.errorRate !== undefined || t.kpiDrift !== undefined || t.failedProbes !== undefined, {
    error: 'expected at least one trigger (errorRate, kpiDrift or failedProbes)',
  });

const monitorSchema = z.strictObject({
  /** @default 24h */
  window: durationSchema.default('24h'),
  /** @default 1m */
  interval: durationSchema.default('1m'),
  probe: actionSchema.describe('Prints `{"metrics": {...}, "errorRate"?: n}`.'),
  triggers: triggersSchema,
});

const productionSchema = z.strictObject({
  deploy: actionSchema,
  undo: actionSchema.describe('The rollback of production; registered before deploy runs.'),
  monitor: monitorSchema,
  reconcile: z
    .strictObject({
      /** @default 24h */
      every: durationSchema.default('24h'),
      /** @default 7 */
      days: z.int().min(0).max(366).default(7),
      // default: the first shadow dataset
      dataset: datasetSchema.optional().describe('The data reconciled each day.'),
    })
    .default({ every: '24h', days: 7 }),
  decommission: runActionSchema
    .extend({
      /** @default 7 */
      afterCleanDays: z.int().min(0).max(366).default(7),
    })
    .or(
      httpActionSchema.extend({
        afterCleanDays: z.int().min(0).max(366).default(7),
      }),
    ),
});

/** `cutover plan sign`'s signature: who signed (key id and name), until when, and the ed25519 signature. */
const planSignatureSchema = z.strictObject({
  keyId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, { error: 'expected a key id' }),
  signer: personName,
  expiresAt: z.iso.datetime({ error: 'expected an ISO 8601 time such as 2026-12-01T00:00:00Z' }),
  value: z.string().min(1).max(200),
});

const metricRangeSchema = z.strictObject({ min: z.number().optional(), max: z.number().optional() });

export const planSchema = z
  .strictObject({
    release: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, {
        error: 'expected letters, digits, ".", "_" or "-" (at most 100)',
      })
      .describe('Release name: the workflow id is `cutover-<release>`.'),
    description: z.string().max(2000).optional(),
    initiator: personName.optional().describe('Who starts the cutover (set by `cutover start --as`).'),
    policyDigest: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional()
      .describe(
        "The digest of the workers' policy, set by their plan check (a plan's own is replaced or dropped): the cutover records it in its status and its evidence.",
      ),
    reference: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,299}$/, { error: 'expected a workflow id' })
      .optional()
      .describe(
        "A finished cutover whose evidence the shadow and stress phases show this one's against, beside V1 (cutover reference set pins one per pipeline instead).",
      ),
    pipeline: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, { error: 'expected a pipeline name' })
      .optional()
      .describe('The pipeline this cutover belongs to: without `reference`, the run pinned for it is the reference.'),
    signature: planSignatureSchema
      .optional()
      .describe("A release manager's signature over this plan (`cutover plan sign`)."),
    baseDir: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe("Folder that relative paths are resolved against; the loader sets it to the plan file's folder."),
    generator: runActionSchema
      .optional()
      .describe('Writes a generated dataset: placeholders `{rows}`, `{seed}`, `{dataset}`.'),
    baseline: runActionSchema.describe('V1: prints `{"metrics": {...}}` for `{dataset}`.'),
    candidate: runActionSchema.describe('V2: prints `{"metrics": {...}}` for `{dataset}`.'),
    staging: z.strictObject({
      deploy: z.array(actionSchema).min(1, { error: 'expected at least one deploy step' }).max(50),
      tests: actionSchema.optional(),
      healthChecks: z.array(actionSchema).max(50).default([]),
      healthTimeout: durationSchema.default('2m').describe('How long health checks may take to come good.'),
    }),
    shadow: z.strictObject({
      datasets: z.array(datasetSchema).min(1, { error: 'expected at least one dataset' }).max(100),
      noiseRuns: z
        .int()
        .min(0)
        .max(20)
        .default(1)
        .describe('Extra V1 runs per dataset: the noise floor a V2 difference must clear.'),
      metrics: z
        .array(metricName)
        .min(1)
        .max(200)
        .optional()
        .describe('The metrics both versions print; when given, a tolerance for any other metric is refused.'),
      tolerances: z.record(metricName, toleranceSchema).default({}),
      ranges: z
        .record(metricName, metricRangeSchema)
        .default({})
        .describe('Allowed value ranges, such as `{ PAR30: { min: 0, max: 1 } }`.'),
      outputs: z
        .record(z.string().regex(OUTPUT_NAME, { error: 'expected an output name such as loans' }), outputSchema)
        .default({})
        .describe(
          "Output tables diffed row by row on their key (`{output:NAME}` in the baseline's and candidate's run).",
        ),
    }),
    stress: z.strictObject({
      sizes: z.array(z.int().min(1).max(100_000_000)).min(1).max(20),
      warmup: z.int().min(0).max(100).default(1).describe('Unmeasured runs per size.'),
      iterations: z.int().min(1).max(10_000).default(5).describe('Measured runs per size.'),
      sustained: z
        .strictObject({
          duration: durationSchema,
          // default: the smallest size
          rows: z.int().min(1).max(100_000_000).optional().describe('Rows per run during the sustained phase.'),
        })
        .optional(),
      compare: compareSchema
        .optional()
        .describe(
          "V1 and V2 measured together, pair by pair in ABBA order, and judged relative to each other: the ratio of V2's median and p95 to V1's with a confidence interval, per size and measure.",
        ),
      thresholds: z
        .strictObject({
          latencyP99: durationSchema.optional(),
          errorRate: z.number().min(0).max(1).optional(),
          memoryVariation: z.number().min(0).max(100).optional(),
          peakRssMb: z.number().positive().optional().describe('Peak RSS of one run, in MB.'),
          dryRun: z
            .array(z.enum(THRESHOLD_NAMES))
            .optional()
            .describe(
              'Thresholds that are measured and shown as "would have passed/failed", and never fail the phase.',
            ),
        })
        .default({}),
    }),
    rollback: runActionSchema
      .extend({
        target: durationSchema.default('300s').describe('The time the rollback must finish within.'),
      })
      .or(httpActionSchema.extend({ target: durationSchema.default('300s') })),
    signoff: signoffSchema,
    production: productionSchema,
  })
  .superRefine((plan, ctx) => {
    // Rules that span fields: every one names the path of the field to fix.
    const { signoff, production, shadow } = plan;
    for (const [role, approvers] of Object.entries(signoff.roles)) {
      const needed = typeof signoff.quorum === 'number' ? signoff.quorum : (signoff.quorum[role] ?? 1);
      if (needed > approvers.length) {
        ctx.addIssue({
          code: 'custom',
          path: typeof signoff.quorum === 'number' ? ['signoff', 'quorum'] : ['signoff', 'quorum', role],
          message: `quorum ${needed} is more than the ${approvers.length} approver(s) of role "${role}"`,
        });
      }
      const seen = new Set<string>();
      approvers.forEach((name, index) => {
        if (seen.has(name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['signoff', 'roles', role, index],
            message: `"${name}" is listed twice`,
          });
        }
        seen.add(name);
      });
    }
    if (typeof signoff.quorum === 'object') {
      for (const role of Object.keys(signoff.quorum)) {
        if (!(role in signoff.roles)) {
          ctx.addIssue({
            code: 'custom',
            path: ['signoff', 'quorum', role],
            message: `no role "${role}" in signoff.roles`,
          });
        }
      }
    }
    if (signoff.keys) {
      const approvers = new Set(Object.values(signoff.roles).flat());
      for (const name of Object.keys(signoff.keys)) {
        if (!approvers.has(name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['signoff', 'keys', name],
            message: `"${name}" is not an approver of any role`,
          });
        }
      }
      for (const name of approvers) {
        if (!(name in signoff.keys)) {
          ctx.addIssue({
            code: 'custom',
            path: ['signoff', 'keys'],
            message: `approver "${name}" has no key (with keys, every approver needs one)`,
          });
        }
      }
    }
    if (signoff.separationOfDuties) {
      const { filled, needed } = fillQuorums(signoff);
      if (filled < needed) {
        const shared = Object.entries(signoff.roles)
          .filter(([role, approvers]) =>
            approvers.some((name) => Object.entries(signoff.roles).some(([r, a]) => r !== role && a.includes(name))),
          )
          .map(([role]) => role);
        ctx.addIssue({
          code: 'custom',
          path: ['signoff', 'roles'],
          message: `with separation of duties each approver signs for one role, and the approvers listed can fill only ${filled} of the ${needed} places the quorums need (roles sharing approvers: ${shared.join(', ')})`,
        });
      }
    }
    if (toMs(production.monitor.interval) > toMs(production.monitor.window)) {
      ctx.addIssue({
        code: 'custom',
        path: ['production', 'monitor', 'interval'],
        message: `interval ${production.monitor.interval} is longer than the window ${production.monitor.window}`,
      });
    }
    if (production.decommission.afterCleanDays > production.reconcile.days) {
      ctx.addIssue({
        code: 'custom',
        path: ['production', 'decommission', 'afterCleanDays'],
        message: `needs ${production.decommission.afterCleanDays} clean days but reconciliation runs only ${production.reconcile.days}`,
      });
    }
    if (shadow.metrics) {
      const produced = new Set(shadow.metrics);
      for (const section of ['tolerances', 'ranges'] as const) {
        for (const metric of Object.keys(shadow[section])) {
          if (!produced.has(metric)) {
            ctx.addIssue({
              code: 'custom',
              path: ['shadow', section, metric],
              message: `no pipeline produces "${metric}" (shadow.metrics lists ${[...produced].join(', ')})`,
            });
          }
        }
      }
    }
    outputProblems(plan, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
    if (plan.initiator && !signoff.allowInitiator) {
      // Only a plan where every approver of some role is the initiator is unusable.
      for (const [role, approvers] of Object.entries(signoff.roles)) {
        if (approvers.every((name) => name === plan.initiator)) {
          ctx.addIssue({
            code: 'custom',
            path: ['signoff', 'roles', role],
            message: `only the initiator "${plan.initiator}" can sign for "${role}", and the initiator may not sign`,
          });
        }
      }
    }
    const usesGenerator =
      shadow.datasets.some((d) => 'generate' in d) ||
      plan.stress.sizes.length > 0 ||
      production.reconcile.dataset !== undefined;
    if (usesGenerator && !plan.generator) {
      ctx.addIssue({
        code: 'custom',
        path: ['generator'],
        message: 'generated datasets and stress sizes need a generator action',
      });
    }
  });

/**
 * With separation of duties each approver signs for one role at most, so every quorum can be reached only if
 * the places the quorums need (`quorum` per role) go to distinct approvers listed for them: a bipartite
 * matching, found by augmenting paths (a handful of roles and people). Returns how many places are filled.
 */
export function fillQuorums(signoff: z.output<typeof signoffSchema>): { filled: number; needed: number } {
  const places = Object.entries(signoff.roles).flatMap(([role, approvers]) => {
    const needed = typeof signoff.quorum === 'number' ? signoff.quorum : (signoff.quorum[role] ?? 1);
    return Array.from({ length: needed }, () => approvers);
  });
  const placeOf = new Map<string, number>();
  const assign = (place: number, seen: Set<string>): boolean => {
    for (const name of places[place] ?? []) {
      if (seen.has(name)) continue;
      seen.add(name);
      const holder = placeOf.get(name);
      if (holder === undefined || assign(holder, seen)) {
        placeOf.set(name, place);
        return true;
      }
    }
    return false;
  };
  let filled = 0;
  for (let place = 0; place < places.length; place++) if (assign(place, new Set())) filled++;
  return { filled, needed: places.length };
}

/** A validated plan, as the workflow receives it. */
export type CutoverPlan = z.infer<typeof planSchema>;
/** A plan as written in a file (defaults not yet applied). */
export type CutoverPlanInput = z.input<typeof planSchema>;
export type Action = z.infer<typeof actionSchema>;
export type RunAction = z.infer<typeof runActionSchema>;
export type HttpAction = z.infer<typeof httpActionSchema>;
export type Dataset = z.infer<typeof datasetSchema>;
export type Tolerance = z.infer<typeof toleranceSchema>;
export type OutputSpec = z.infer<typeof outputSchema>;
export type CompareSpec = z.infer<typeof compareSchema>;
export type ColumnTolerance = z.infer<typeof columnToleranceSchema>;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export type Triggers = z.infer<typeof triggersSchema>;
export type MetricRange = z.infer<typeof metricRangeSchema>;
export type PlanSignature = z.infer<typeof planSignatureSchema>;

/** The plan with its defaults, or an `InvalidPlan` failure (non-retryable) listing every problem by path. */
export function planOrFailure(input: unknown): CutoverPlan {
  const result = validatePlan(input);
  if (result.ok) return result.plan;
  throw ApplicationFailure.create({
    type: FailureType.InvalidPlan,
    nonRetryable: true,
    message: `invalid plan: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    details: [result.problems],
  });
}

/** Validates a parsed plan document; returns the plan or every problem by path. */
export function validatePlan(input: unknown): { ok: true; plan: CutoverPlan } | { ok: false; problems: PlanProblem[] } {
  const result = planSchema.safeParse(input);
  if (result.success) return { ok: true, plan: result.data };
  return { ok: false, problems: flattenIssues(result.error.issues) };
}

interface OutputsView {
  baseline: { run: string[]; env?: Record<string, string> | undefined };
  candidate: { run: string[]; env?: Record<string, string> | undefined };
  shadow: { outputs: Record<string, z.output<typeof outputSchema>> };
}

/**
 * The output tables' rules: every `{output:NAME}` names a declared output, every declared output is written by
 * both versions, and a key, tolerance or ignored column is one of the output's declared `columns` (when given).
 * Other actions never write outputs: only V1 and V2 are diffed.
 */
function outputProblems(plan: OutputsView, problem: (path: PropertyKey[], message: string) => void): void {
  const declared = plan.shadow.outputs;
  for (const side of ['baseline', 'candidate'] as const) {
    const action = plan[side];
    const named = outputsNamed([...action.run, ...Object.values(action.env ?? {})]);
    for (const name of named) {
      if (!OUTPUT_NAME.test(name)) problem([side, 'run'], `"{output:${name}}" is not an output name`);
      else if (!(name in declared)) problem([side, 'run'], `{output:${name}}: no output "${name}" in shadow.outputs`);
    }
    for (const name of Object.keys(declared)) {
      if (!named.includes(name))
        problem(['shadow', 'outputs', name], `the ${side} never writes it (no {output:${name}} in its run or env)`);
    }
  }
  for (const [name, output] of Object.entries(declared)) {
    const at = (...rest: PropertyKey[]) => ['shadow', 'outputs', name, ...rest];
    const columns = output.columns ? new Set(output.columns) : undefined;
    const known = (column: string, path: PropertyKey[]) => {
      if (columns && !columns.has(column))
        problem(path, `no column "${column}" in shadow.outputs.${name}.columns (${[...columns].join(', ')})`);
    };
    output.key.forEach((column, i) => known(column, at('key', i)));
    for (const column of Object.keys(output.tolerances)) known(column, at('tolerances', column));
    output.ignore.forEach((column, i) => {
      known(column, at('ignore', i));
      if (output.key.includes(column)) problem(at('ignore', i), `"${column}" is part of the key`);
    });
    for (const column of Object.keys(output.tolerances)) {
      if (output.key.includes(column))
        problem(at('tolerances', column), `"${column}" is part of the key: keys match exactly`);
    }
    if (new Set(output.key).size !== output.key.length) problem(at('key'), 'a column is listed twice');
  }
}
