/**
 * The cutover plan: one zod schema, the only definition of its shape. Pure (no Node built-ins): the CLI and the
 * checkPlan activity validate with it. Workflow code never loads it.
 */
import { z } from 'zod';
import { SIGNOFF_CONDITIONS } from './conditions';
import { planWindowSchema } from './calendar';
import { DURATION_PATTERN } from './duration';
import { flattenIssues, invalidPlan, type PlanProblem } from './problems';
import { allowance, FIELD_RULES, OUTPUT_NAME, planProblems, type FieldRule, type RuleName } from './rules';

export { fillQuorums, OUTPUT_NAME } from './rules';

/** `schema` with the rules FIELD_RULES names for it (their name kept in its metadata as `rules`). */
function ruled<T extends z.ZodType>(schema: T, name: RuleName): T {
  let out = schema;
  for (const rule of FIELD_RULES[name] as readonly FieldRule[]) {
    out = out.refine(rule.test as (value: unknown) => boolean, {
      error: rule.message,
      ...(rule.path ? { path: rule.path } : {}),
    });
  }
  return out.meta({ rules: name });
}

/** A duration string such as `30s`, `5m`, `72h`; must be greater than zero. */
export const durationSchema = ruled(
  z
    .string({ error: 'expected a duration string such as "30s", "5m" or "72h"' })
    .regex(DURATION_PATTERN, { error: 'expected a duration such as "30s", "5m" or "72h" (units ms, s, m, h, d)' }),
  'duration',
);

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

/** What a notification target may ask to be told about. */
export const NOTIFY_EVENTS = [
  'gate-open',
  'signoff',
  'signoff-refused',
  'escalation',
  'rollback',
  'completed',
  'failed',
  'rejected',
  'window-wait',
  'break-glass',
] as const;

const notifyEvents = z
  .array(z.enum(NOTIFY_EVENTS))
  .min(1)
  .max(NOTIFY_EVENTS.length)
  .describe('The events this target is told about.');

/**
 * A notification target: an http request (default body: Slack-compatible JSON with `text`, the release, the
 * state, the event and the approval link; a `body` template takes `{event}`, `{state}`, `{text}`, `{link}`,
 * `{release}`, `{workflowId}`, JSON-escaped) or a process (the same as `CUTOVER_EVENT`, `CUTOVER_STATE`,
 * `CUTOVER_TEXT`, `CUTOVER_LINK` in its environment).
 */
export const notifyTargetSchema = z.union([
  httpActionSchema.extend({ events: notifyEvents }),
  runActionSchema.extend({ events: notifyEvents }),
]);

export const THRESHOLD_NAMES = ['latencyP99', 'errorRate', 'memoryVariation', 'peakRssMb'] as const;
export const TRIGGER_NAMES = ['errorRate', 'kpiDrift', 'failedProbes'] as const;

/** A metric name as pipelines print it. */
const metricName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, { error: 'expected a metric name such as PAR30' });

const toleranceSchema = ruled(
  z.strictObject({
    relative: z.number().min(0).max(1e6).optional(),
    absolute: z.number().min(0).max(1e15).optional(),
    dryRun: z
      .boolean()
      .optional()
      .describe(
        'Measured and shown as "would have passed/failed"; never fails the phase (a check the workers\' policy requires may not be a dry run).',
      ),
  }),
  'tolerance',
);

/** A column of a pipeline output, as its file names it. */
const columnName = ruled(z.string().min(1).max(128), 'columnName');

/** How close two values of one column must be: numbers by `absolute`/`relative`, text by `trim`/`ignoreCase`. */
const columnToleranceSchema = ruled(
  z.strictObject({
    absolute: z.number().min(0).max(1e15).optional(),
    relative: z.number().min(0).max(1e6).optional(),
    trim: z.boolean().optional(),
    ignoreCase: z.boolean().optional(),
  }),
  'columnTolerance',
);

export const OUTPUT_FORMATS = ['csv', 'parquet', 'jsonl'] as const;

/** A share such as `10%` or 0.1: how much worse V2 may be than V1. */
const allowanceSchema = z
  .union(
    [
      z.number().min(0).max(100),
      z
        .string()
        .regex(/^\d+(\.\d+)?\s*%$/, { error: 'expected a percentage such as "10%" or a fraction such as 0.1' })
        .transform(allowance),
    ],
    { error: 'expected a percentage such as "10%" or a fraction such as 0.1' },
  )
  .pipe(z.number().min(0).max(100))
  .meta({ rules: 'allowance' });

export const MEASURES = ['latency', 'memory'] as const;

/** `stress.compare`: what V2 may cost relative to V1, and how sure the verdict must be. */
const compareSchema = ruled(
  z.strictObject({
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
  }),
  'compareRuns',
);

/** A database the workers know by name (`CUTOVER_DATABASE_<NAME>`: its URL and credentials never in the plan). */
export const DATABASE_NAME = /^[a-z][a-z0-9_]{0,31}$/;

/** Where one side of an output lives when it is a table: a database of the workers' and `schema.table` in it. */
const tableRefSchema = z.strictObject({
  database: z
    .string()
    .regex(DATABASE_NAME, { error: 'expected a database name such as warehouse (the workers name its URL)' })
    .describe("The workers' name for the database (they hold its URL: CUTOVER_DATABASE_<NAME>)."),
  table: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}\.[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
      error: 'expected schema.table, such as legacy.loan_kpis',
    })
    .describe('The table or view, as schema.table.'),
});

/**
 * One output table that V1 and V2 both write (to `{output:NAME}`, or to a table of a database: `v1`, `v2`), diffed
 * row by row on its key.
 */
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
  scale: z
    .int()
    .min(0)
    .max(12)
    .optional()
    .describe(
      'Across two places (a database and a file, or two databases): numbers are checksummed at this many decimal places (default 6); a difference below it is not seen.',
    ),
  v1: tableRefSchema.optional().describe("V1's table, where V1 writes this output to a database (not a file)."),
  v2: tableRefSchema
    .optional()
    .describe(
      "V2's table. In V1's database the diff runs there, pushed down; elsewhere (another database, or V2 in a file: `format`) each side checksums segments of its rows and only differing ones cross.",
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

const modelName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { error: 'expected a dbt model name' });
const schemaName = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,55}$/, { error: 'expected a lower-case schema name such as analytics (at most 56)' });

/** A version of a dbt project: a git ref of its repository, or a folder of its own. */
const dbtVersionSchema = z.union([
  z.strictObject({ ref: z.string().min(1).max(200).describe("A git ref of the project's repository.") }),
  z.strictObject({ project: z.string().min(1).max(4096).describe('A folder holding this version of the project.') }),
]);

/**
 * A dbt project as the plan's pipeline (`cutover plan init --dbt` writes it with the actions that build and publish
 * it): the shadow and each reconciliation day diff its models where they live, model by model, and say what changed.
 */
const dbtSchema = z.strictObject({
  project: z
    .string()
    .min(1)
    .max(4096)
    .describe("The project's folder (its dbt_project.yml), relative to the plan's folder."),
  v1: dbtVersionSchema.describe('The version in production.'),
  v2: dbtVersionSchema.describe('The version to cut over to.'),
  target: z
    .enum(['postgres', 'duckdb'], { error: 'expected postgres or duckdb' })
    .default('postgres')
    .describe('Where the builds are: schemas of a PostgreSQL database, or of one DuckDB file.'),
  database: z
    .string()
    .regex(DATABASE_NAME, { error: 'expected a database name such as warehouse (the workers name its URL)' })
    .describe("The workers' name for the warehouse (CUTOVER_DATABASE_<NAME>): the model diffs read it."),
  schema: schemaName.describe(
    "The schema consumers read; V1's and V2's builds are `<schema>_v1` and `<schema>_v2`, published as it.",
  ),
  select: z
    .enum(['modified', 'all'], { error: 'expected modified or all' })
    .default('modified')
    .describe("The models diffed: those V2 changes and everything downstream (dbt's state:modified+), or all."),
  tolerances: z
    .record(
      modelName,
      z.strictObject({
        tolerances: z.record(columnName, columnToleranceSchema).optional(),
        ignore: z.array(columnName).max(1000).optional(),
        maxDifferingRows: z.int().min(0).optional(),
        maxMissingRows: z.int().min(0).optional(),
      }),
    )
    .default({})
    .describe(
      "Per model: its columns' tolerances, the columns not compared, the rows allowed to differ (default none).",
    ),
  connections: z.int().min(1).max(16).default(2).describe('Models diffed at once, each on a connection of its own.'),
});

const roleName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'expected a lower-case role name such as qa' });
const personName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, { error: 'expected an approver name' });

/** An ed25519 public key, 32 bytes as hex (64 characters) or base64 (44 characters). */
export const publicKeySchema = ruled(z.string(), 'publicKey');

const signoffSchema = z.strictObject({
  roles: ruled(
    z.record(roleName, z.array(personName).min(1, { error: 'expected at least 1 approver' }).max(50)),
    'someRole',
  ).describe('Approvers per role: `{ engineering: [ana], qa: [bo] }`.'),
  quorum: z
    .union([z.int().min(1), z.record(roleName, z.int().min(1))])
    .default(1)
    .describe('Approvals needed per role: one number for all, or per role.'),
  deadline: durationSchema.default('72h').describe('How long the gate waits before escalating.'),
  escalate: actionSchema.optional().describe('Run when the deadline passes (a notification).'),
  escalationWindow: durationSchema.default('24h').describe('How long after escalation the gate expires.'),
  evidenceValidFor: durationSchema
    .optional()
    .describe(
      'How long the approved evidence stays good: a production deploy still waiting for its change window then reopens the gate for a review (the approvers sign again). Without it, the evidence does not expire.',
    ),
  requiredWhen: z
    .record(roleName, z.array(z.enum(SIGNOFF_CONDITIONS)).min(1).max(SIGNOFF_CONDITIONS.length))
    .optional()
    .describe(
      "Roles needed only when the evidence shows one of these (a dbt cutover's models: contractBroken, exposureAffected, noisy); otherwise their sign-off is welcome and not awaited. Each must be one of `roles`.",
    ),
  separationOfDuties: z.boolean().default(true).describe('One person signs for one role only.'),
  allowInitiator: z.boolean().default(false).describe('May the person who started the cutover sign?'),
  keys: z
    .record(personName, publicKeySchema)
    .optional()
    .describe('Public keys per approver; when present, unsigned sign-offs do not count.'),
  keysBy: z
    .enum(['policy', 'plan'])
    .optional()
    .describe(
      "Whose word `keys` are: the workers' policy (approverKeys) or the plan's author; set by the workers' plan check, a plan's own is dropped.",
    ),
  requireAttested: z
    .boolean()
    .optional()
    .describe(
      "Count only sign-offs attested by the approval app's login or signed with the approver's own key (the workers may require it whatever the plan says).",
    ),
  attesters: z
    .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, { error: 'expected a key id' }), publicKeySchema)
    .optional()
    .describe(
      "The attesters' public keys by key id: set by the workers' plan check (CUTOVER_ATTESTER_KEYS); a plan's own are dropped.",
    ),
  roleGroups: z
    .record(roleName, z.array(z.string().min(1).max(200)).max(50))
    .optional()
    .describe(
      "Which of the organisation's groups hold each role, for the approval app's login: set by the workers' plan check (CUTOVER_ROLE_GROUPS, the policy's groups); a plan's own are dropped.",
    ),
  attestationMaxAge: durationSchema
    .optional()
    .describe(
      "How old an attestation may be when it arrives: set by the workers' plan check (CUTOVER_ATTESTATION_MAX_AGE).",
    ),
});

const triggersSchema = ruled(
  z.strictObject({
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
  }),
  'someTrigger',
);

const monitorSchema = z.strictObject({
  /** @default 24h */
  window: durationSchema.default('24h'),
  /** @default 1m */
  interval: durationSchema.default('1m'),
  probe: actionSchema.describe('Prints `{"metrics": {...}, "errorRate"?: n}`.'),
  triggers: triggersSchema,
});

/** Where one environment's work runs. */
const environmentSchema = z.strictObject({
  taskQueue: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/, { error: 'expected a task queue name such as cutover-production' })
    .describe(
      "The environment's task queue: it must be the one the workers give this environment (their policy's, else `<queue>-<environment>`).",
    ),
  noWorkerAlert: durationSchema
    .optional()
    .describe(
      'How long work may wait with no live worker polling this queue before the escalation action runs (default: never).',
    ),
});

const productionSchema = z.strictObject({
  deploy: actionSchema,
  window: planWindowSchema
    .optional()
    .describe(
      "When production may change, narrowing the workers' calendar (its windows, more freezes): the deploy and the decommission wait for the next open window; a rollback never waits.",
    ),
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
    approvalUrl: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
      .max(500)
      .optional()
      .describe(
        "The approval app's address, set by the workers' plan check (CUTOVER_APPROVAL_URL; a plan's own is dropped): the Temporal UI's current details link to the cutover's page there.",
      ),
    seal: z
      .strictObject({
        keyId: z.string().max(64),
        workflowId: z.string().max(300),
        runId: z.string().max(100),
        policyDigest: z.string().max(64).optional(),
        actions: z.record(z.string().max(100), z.string().max(200)),
      })
      .optional()
      .describe(
        "The workers' seal on the checked plan, set by their plan check (a plan's own is dropped): their signature over each action, for the cutover run that asked; the runner starts no action it does not cover.",
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
    dbt: dbtSchema
      .optional()
      .describe(
        "A dbt project's cutover: baseline and candidate build it (printing their manifest), the shadow diffs its models.",
      ),
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
      noiseRun: runActionSchema
        .optional()
        .describe(
          "What a noise run runs (default: the baseline): V1 again, built where it leaves the baseline's build be (a dbt plan's `<schema>_v1_aa`, whose models are V1's own noise).",
        ),
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
    notify: z
      .array(notifyTargetSchema)
      .max(20)
      .optional()
      .describe(
        'Who is told what, as it happens: each target with its events. Delivered by activities with retries and an idempotency key per event; a failing target is audited and never holds up or fails the cutover.',
      ),
    environments: z
      .strictObject({
        staging: environmentSchema.optional(),
        production: environmentSchema.optional(),
        compute: environmentSchema.optional(),
      })
      .optional()
      .describe(
        "Where each kind of work runs: staging (deploy, tests, health, rollback rehearsal), production (reference probe, deploy, undo, monitoring, decommission), compute (datasets, shadow, stress, reconciliation). An environment left out runs on the workers' one queue.",
      ),
  })
  .superRefine((plan, ctx) => planProblems(plan, (path, message) => ctx.addIssue({ code: 'custom', path, message })));

/** A validated plan, as the workflow receives it. */
export type CutoverPlan = z.infer<typeof planSchema>;
/** A plan as written in a file (defaults not yet applied). */
export type CutoverPlanInput = z.input<typeof planSchema>;
export type Action = z.infer<typeof actionSchema>;
export type RunAction = z.infer<typeof runActionSchema>;
export type HttpAction = z.infer<typeof httpActionSchema>;
export type Dataset = z.infer<typeof datasetSchema>;
export type DbtSection = z.infer<typeof dbtSchema>;
export type Tolerance = z.infer<typeof toleranceSchema>;
export type OutputSpec = z.infer<typeof outputSchema>;

/** An output's settings with the plan's defaults filled in (for code that builds one: benches, tests). */
export function outputSpec(input: z.input<typeof outputSchema>): OutputSpec {
  return outputSchema.parse(input);
}
export type ColumnTolerance = z.infer<typeof columnToleranceSchema>;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export type Triggers = z.infer<typeof triggersSchema>;
export type MetricRange = z.infer<typeof metricRangeSchema>;
export type PlanSignature = z.infer<typeof planSignatureSchema>;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** The plan with its defaults, or an `InvalidPlan` failure (non-retryable) listing every problem by path. */
export function planOrFailure(input: unknown): CutoverPlan {
  const result = validatePlan(input);
  if (result.ok) return result.plan;
  throw invalidPlan(result.problems);
}

/** Validates a parsed plan document; returns the plan or every problem by path. */
export function validatePlan(input: unknown): { ok: true; plan: CutoverPlan } | { ok: false; problems: PlanProblem[] } {
  const result = planSchema.safeParse(input);
  if (result.success) return { ok: true, plan: result.data };
  return { ok: false, problems: flattenIssues(result.error.issues) };
}
