/**
 * The organisation policy's one zod schema: the rules that bind a plan, held by the workers (`CUTOVER_POLICY`, a
 * YAML file its admins own), never by the plan's author. A plan may be stricter than its policy, never looser.
 *
 * How later knobs join (keyed-diff limits, stress comparison allowances and `onInconclusive`, dry-run
 * switches, notification targets): each adds its bound to `rulesSchema` (a ceiling under `ceilings`, an
 * allow-list beside `commands`/`urls`, or a `require…` flag) and its check to `checkPlanAgainstPolicy`
 * (policy/check.ts), with a test that a plan past the bound is refused by path. Workflow code never imports it.
 */
import { z } from 'zod';
import { calendarSchema } from '../plan/calendar';
import { SIGNOFF_CONDITIONS } from '../plan/conditions';
import { DURATION_PATTERN } from '../plan/duration';
import { ENVIRONMENTS } from '../plan/environments';
import { decodePublicKey } from '../plan/keys';
import type { CommandList } from '../shapes/phases';

const duration = z.string().regex(DURATION_PATTERN, { error: 'expected a duration such as "30s", "5m" or "72h"' });
const roleName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'expected a lower-case role name such as qa' });
const personName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, { error: 'expected a person name' });
const publicKey = z.string().refine((key) => decodePublicKey(key) !== undefined, {
  error: 'expected a valid ed25519 public key (32 bytes, hex or base64)',
});
const metricOrAll = z.string().regex(/^(\*|[A-Za-z][A-Za-z0-9_]{0,63})$/, { error: 'expected a metric name or "*"' });

/**
 * The environments whose commands a policy lists; `default` serves every environment not named. `probe` is the
 * monitoring probe's own list within production (absent: production's): a probe bound only by production's list
 * could say `deploy`.
 */
export const POLICY_ENVIRONMENTS = [
  'default',
  'staging',
  'production',
  'compute',
  'probe',
] as const satisfies readonly CommandList[];
export type PolicyEnvironment = (typeof POLICY_ENVIRONMENTS)[number];
const environment = z.enum(POLICY_ENVIRONMENTS);

const roleRuleSchema = z.strictObject({
  /** Who may sign for the role. A plan may list fewer, never others. Empty: the plan says (groups, later). */
  approvers: z.array(personName).max(200).default([]),
  /**
   * Identity-provider groups whose members may sign through the approval app's login (`cutover serve`):
   * they take the role over from the workers' CUTOVER_ROLE_GROUPS. The app also needs the plan (within
   * `approvers`) to list the user.
   */
  groups: z.array(z.string().min(1).max(200)).max(50).default([]),
  /** Approvals the role needs at least; a plan's lower quorum is raised to it. @default 1 */
  minQuorum: z.int().min(1).max(50).default(1),
});

const ceilingToleranceSchema = z.strictObject({
  relative: z.number().min(0).optional(),
  absolute: z.number().min(0).optional(),
});

const rulesSchema = z.strictObject({
  /** Refuse a plan that no release manager of `releaseManagers` signed (`cutover plan sign`). @default false */
  requireSignedPlans: z.boolean().default(false),
  /** Roles that must sign off: a plan lists at least these. */
  roles: z.record(roleName, roleRuleSchema).default({}),
  /**
   * Roles whose sign-off a dbt cutover needs when its evidence shows a broken model contract, an exposure downstream
   * of a changed model, or a noisy model: the plan must list the role, and the gate awaits it at least then.
   */
  // Optional, not defaulted: a policy without it keeps its digest.
  requireSignoffWhen: z.partialRecord(z.enum(SIGNOFF_CONDITIONS), roleName).optional(),
  /** Separation of duties required: a plan may not turn it off. @default true */
  separationOfDuties: z.boolean().default(true),
  /** May an initiator ever sign? When false, a plan may not allow it. @default false */
  allowInitiator: z.boolean().default(false),
  /** Approvers' ed25519 keys: when present, the plan's `signoff.keys` are these (and sign-offs must be signed). */
  approverKeys: z.record(personName, publicKey).optional(),
  /**
   * The commands actions may run, per environment, as argv prefixes: `staging` binds the staging steps and the
   * rehearsed rollback, `production` production's deploy, undo, probe and decommission, `probe` the monitoring
   * probe alone (then production's list no longer serves it), `compute` the pipeline runs (generator, baseline,
   * candidate); `default` serves an environment not listed and the orchestrator's
   * own actions (escalation, notifications). A path in a prefix is resolved against the policy file's folder;
   * the first element may be a program on the worker's PATH. An interpreter alone is no boundary (`node -e …`
   * runs anything): list it with the scripts it may run.
   */
  commands: z.partialRecord(environment, z.array(z.array(z.string().min(1)).min(1).max(20)).max(200)).default({}),
  /** Environment variables an action may set; every other key is refused (NODE_OPTIONS, LD_*, PATH…). */
  env: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/))
    .max(200)
    .default([]),
  /** Folders (resolved against the policy file's folder) that `baseDir` and every `cwd` must lie inside. */
  folders: z.array(z.string().min(1)).max(100).default([]),
  /** URL prefixes that http actions, health checks and probes may call. */
  urls: z
    .array(z.url({ protocol: /^https?$/ }))
    .max(100)
    .default([]),
  /** When production may change (plan/calendar.ts): without one, at any time. */
  calendar: calendarSchema.optional(),
  /**
   * The databases (the workers' names for them) whose tables a plan's outputs may read, and in which schemas: a
   * plan naming another, or another schema, is refused by path. Without it, no database.
   */
  databases: z
    .record(
      z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, { error: 'expected a database name such as warehouse' }),
      z.strictObject({
        schemas: z
          .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, { error: 'expected a schema name' }))
          .min(1)
          .max(100),
      }),
    )
    // Optional, not defaulted: a policy without it keeps the digest it had before databases existed.
    .optional(),
  /** Upper bounds on how loose a plan may make its checks. */
  ceilings: z
    .strictObject({
      /** Per metric (or "*" for every metric): the loosest tolerance a plan may set. */
      tolerances: z.record(metricOrAll, ceilingToleranceSchema).optional(),
      stress: z
        .strictObject({
          latencyP99: duration.optional(),
          errorRate: z.number().min(0).max(1).optional(),
          memoryVariation: z.number().min(0).optional(),
          peakRssMb: z.number().positive().optional(),
        })
        .optional(),
      /** The loosest output diff a plan may set (shadow.outputs): limits, column tolerances, ignored columns. */
      outputs: z
        .strictObject({
          maxDifferingRows: z.int().min(0).optional(),
          maxMissingRows: z.int().min(0).optional(),
          /** The loosest numeric tolerance on any column. */
          tolerance: z
            .strictObject({ absolute: z.number().min(0).optional(), relative: z.number().min(0).optional() })
            .optional(),
          /** Whether a plan may loosen text comparison (`trim`, `ignoreCase`). @default true */
          textTolerance: z.boolean().optional(),
          /** Whether a plan may leave columns out of the comparison (`ignore`). @default true */
          ignore: z.boolean().optional(),
        })
        .optional(),
      /**
       * The loosest stress comparison (stress.compare) a plan may set. With `required`, a plan without one gets
       * one at the ceilings.
       */
      compare: z
        .strictObject({
          required: z.boolean().optional(),
          maxSlowdown: z.number().min(0).optional(),
          maxMemoryGrowth: z.number().min(0).optional(),
          /** The lowest confidence a plan may ask for (a lower one passes more easily). */
          minConfidence: z.number().gt(0.5).lt(1).optional(),
          /** Whether a plan may treat an inconclusive comparison as a pass. @default true */
          inconclusivePass: z.boolean().optional(),
        })
        .optional(),
      /** The longest rollback target a plan may set. */
      rollbackTarget: duration.optional(),
      /** The loosest monitoring triggers a plan may set (a plan without one gets the ceiling). */
      triggers: z
        .strictObject({
          errorRate: z.number().min(0).max(1).optional(),
          kpiDrift: z.number().min(0).optional(),
          failedProbes: z.int().min(1).optional(),
        })
        .optional(),
    })
    .default({}),
});

export const policySchema = z.strictObject({
  /** The policy format's version. */
  version: z.literal(1),
  /** The release managers whose signatures on plans count, by key id: who holds the key and its public half. */
  releaseManagers: z
    .record(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, { error: 'expected a key id' }),
      z.strictObject({ signer: personName, publicKey }),
    )
    .default({}),
  /**
   * Each environment's task queue (default `<CUTOVER_TASK_QUEUE>-<environment>`). A plan's `environments` must
   * name these queues, and one that leaves a listed environment out has its work routed here anyway.
   */
  environments: z
    .partialRecord(
      z.enum(ENVIRONMENTS),
      z.strictObject({
        taskQueue: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/, { error: 'expected a task queue name' }),
      }),
    )
    .default({})
    .refine(
      (queues) =>
        queues.production === undefined ||
        (queues.staging?.taskQueue !== queues.production.taskQueue &&
          queues.compute?.taskQueue !== queues.production.taskQueue),
      { error: "production's queue must be production's alone" },
    ),
  /** Rules for releases that no pipeline entry matches. Without it, such a release is refused. */
  default: rulesSchema.optional(),
  /** Rules per pipeline, by release name pattern (`*` matches any run of characters); the first match wins. */
  pipelines: z
    .array(rulesSchema.extend({ match: z.string().regex(/^[A-Za-z0-9*._-]{1,100}$/) }))
    .max(100)
    .default([]),
});

export type Policy = z.infer<typeof policySchema>;
export type PolicyRules = z.infer<typeof rulesSchema>;

/** The rules that apply to `release`: the first pipeline whose pattern matches, else the default. */
export function rulesFor(policy: Policy, release: string): PolicyRules | undefined {
  const pipeline = policy.pipelines.find((p) => globMatch(p.match, release));
  return pipeline ?? policy.default;
}

function globMatch(pattern: string, text: string): boolean {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`).test(text);
}

/** A policy with its prefixes, folders resolved against the policy file's folder (`policyDir`). */
export interface ResolvedPolicy {
  policy: Policy;
  /** Where relative paths of the policy point. */
  policyDir: string;
  /** SHA-256 of the policy's canonical JSON: what a cutover records as the rules it ran under. */
  digest: string;
}
