/**
 * The organisation policy: the rules that bind a plan, held by the workers (`CUTOVER_POLICY`, a YAML file
 * its admins own), never by the plan's author. A plan may be stricter than its policy, never looser.
 *
 * This module is the policy's one zod schema and the pure check of a plan against it. Paths are compared
 * through a `PathResolver` (the worker's file system in policy-load.ts; a table in tests), so the check
 * itself does no I/O. Workflow code never imports it (eslint.config.mjs).
 *
 * How later knobs join (keyed-diff limits, stress comparison allowances and `onInconclusive`, dry-run
 * switches, notification targets): each adds its bound to `rulesSchema` (a
 * ceiling under `ceilings`, an allow-list beside `commands`/`urls`, or a `require…` flag) and its check to
 * `checkPlanAgainstPolicy`, with a test that a plan past the bound is refused by path.
 */
import { calendarSchema, shorterNotice, wideningWindows } from './calendar';
import { z } from 'zod';
import { DURATION_PATTERN, toMs } from './duration';
import { ENVIRONMENTS } from './environments';
import { decodePublicKey } from './keys';
import { quorumFor } from './helpers';
import { PLACEHOLDER_NAMES } from './placeholders';
import type { PlanProblem } from './problems';
import { planSignatureProblem } from './signing';
import type { Action, CutoverPlan, RunAction } from './schema';
import { CUTOVER_ACTIONS, PHASE_DECLARATIONS, type ActionSlot, type CommandList } from '../shapes/phases';
import { PHASES } from '../shapes/status';

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

/** How the check sees paths on the worker: a command's real file, a folder's real path. */
export interface PathResolver {
  /** The real path (symlinks resolved) of a command as exec would find it: via PATH for a bare name. */
  command(name: string, cwd: string): string | undefined;
  /** The real path (symlinks resolved) of `file` relative to `cwd`, or undefined when it does not exist. */
  real(file: string, cwd: string): string | undefined;
  /** Where the symlink at the absolute `file` points (its target as written), or undefined when it is none. */
  link?(file: string): string | undefined;
}

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

/** The outcome of checking a plan: every violation by path, and the plan as the policy tightens it. */
export interface PolicyCheck {
  problems: PlanProblem[];
  /** The plan with the policy's stricter settings applied (quorums raised, absent bounds set to ceilings). */
  effective: CutoverPlan;
}

const PLACEHOLDER = new RegExp(`\\{(${PLACEHOLDER_NAMES.join('|')}|output:[^}]*)\\}`);

/** Every place a plan holds actions: the phases' own, in the order of the phases, then the cutover's. */
const ACTION_SLOTS: readonly ActionSlot[] = [
  ...PHASES.flatMap((phase) => PHASE_DECLARATIONS[phase].actions),
  ...CUTOVER_ACTIONS,
];
const SLOT_BY_PATH = new Map(ACTION_SLOTS.map((slot) => [slot.path, slot]));

/**
 * Which of the policy's `commands` lists binds the action at a plan path, as its phase declares it
 * (shapes/phases.ts): the pipelines compute's, the staging steps and the rehearsed rollback staging's,
 * production's steps production's, the probe its own; escalations and notifications (the orchestrator's) `default`.
 */
export function environmentOfPath(path: string): PolicyEnvironment {
  return SLOT_BY_PATH.get(path.replace(/\[\d+\]$/, ''))?.commands ?? 'default';
}

/** The command prefixes the policy allows in `environment`: its own list, else (a probe) production's, else `default`'s. */
export function commandsFor(rules: PolicyRules, environment: PolicyEnvironment): readonly (readonly string[])[] {
  const probe = environment === 'probe' ? rules.commands.production : undefined;
  return rules.commands[environment] ?? probe ?? rules.commands.default ?? [];
}

/** Every action of a plan with its path, so a violation names where it is (a list's items as `path[i]`). */
export function actionsOf(plan: CutoverPlan): { path: string; action: Action }[] {
  return ACTION_SLOTS.flatMap((slot) => {
    const found = slot.of(plan);
    if (found === undefined) return [];
    if (Array.isArray(found)) return found.map((action: Action, i) => ({ path: `${slot.path}[${i}]`, action }));
    return [{ path: slot.path, action: found as Action }];
  });
}

/**
 * Whether `argv` (run in `cwd`) starts with one of `prefixes`. The program is compared by its real file;
 * any other prefix element that is a path (absolute after resolving against the policy's folder) by the
 * real path of the argument; the rest word for word. A placeholder where the prefix stands is never a match:
 * it could expand into another program.
 */
export function allowedCommand(
  argv: readonly string[],
  cwd: string,
  prefixes: readonly (readonly string[])[],
  policyDir: string,
  resolver: PathResolver,
): boolean {
  return allowedPrefix(argv, cwd, prefixes, policyDir, resolver) !== undefined;
}

/**
 * The length of the longest of `prefixes` that `argv` starts with (as `allowedCommand` compares them), or
 * undefined when none: the arguments past it are the plan's own, whose folders the policy's reach bounds.
 */
export function allowedPrefix(
  argv: readonly string[],
  cwd: string,
  prefixes: readonly (readonly string[])[],
  policyDir: string,
  resolver: PathResolver,
): number | undefined {
  const program = argv[0];
  if (program === undefined || PLACEHOLDER.test(program)) return undefined;
  const real = resolver.command(program, cwd);
  if (!real) return undefined;
  let longest: number | undefined;
  for (const prefix of prefixes) {
    if (prefix.length > argv.length) continue;
    const allowedProgram = resolver.command(prefix[0] as string, policyDir);
    if (allowedProgram !== real) continue;
    const matches = prefix.slice(1).every((element, i) => {
      const arg = argv[i + 1] as string;
      if (PLACEHOLDER.test(arg)) return false;
      if (!element.includes('/')) return element === arg;
      const allowed = resolver.real(element, policyDir);
      return allowed !== undefined && resolver.real(arg, cwd) === allowed;
    });
    if (matches && (longest === undefined || prefix.length > longest)) longest = prefix.length;
  }
  return longest;
}

/** Whether `folder` (real path) lies inside one of the policy's folders. */
export function insideFolders(folder: string, rules: PolicyRules, policyDir: string, resolver: PathResolver): boolean {
  return rules.folders.some((allowed) => {
    const root = resolver.real(allowed, policyDir);
    return root !== undefined && (folder === root || folder.startsWith(root.endsWith('/') ? root : `${root}/`));
  });
}

/**
 * Where one cutover's actions may reach: its own work folder, and the policy's folders, but never the workers'
 * work root outside its own folder (another cutover's folder is not "inside" the data folder for this purpose,
 * even where a policy folder contains the data folder).
 */
export interface Reach {
  /** The cutover's own work folder (`{workdir}`), as an absolute path. */
  workdir: string;
  /** The folder every cutover's work folder lies in (`<data folder>/work`), as an absolute path. */
  workRoot: string;
}

/** The arguments of `argv` past its first `from` that name files: with a `/`, or `.`/`..` (the value of `--x=V` too). */
export function pathArguments(argv: readonly string[], from = 1): string[] {
  const out: string[] = [];
  for (const arg of argv.slice(from)) {
    const value = /^--?[A-Za-z0-9][\w-]*=/.test(arg) ? arg.slice(arg.indexOf('=') + 1) : arg;
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value) || PLACEHOLDER.test(value)) continue;
    if (value.includes('/') || value === '.' || value === '..') out.push(value);
  }
  return out;
}

/**
 * The real path `file` (relative to `cwd`) names, or would name once created: the longest part that exists with
 * its symlinks resolved (a link planted in a work folder counts as where it points), then the rest.
 */
export function reachedPath(file: string, cwd: string, resolver: PathResolver, depth = 0): string {
  const absolute = joinPath(cwd, file);
  const parts = absolute.split('/').filter((part) => part !== '');
  for (let i = parts.length; i > 0; i--) {
    const prefix = `/${parts.slice(0, i).join('/')}`;
    const real = resolver.real(prefix, '/');
    if (real !== undefined) return joinPath(real, parts.slice(i).join('/'));
    // A link whose target does not exist (yet) leads where its target will be: a step could create it there.
    const target = depth < 40 ? resolver.link?.(prefix) : undefined;
    if (target !== undefined) {
      const pointed = joinPath(`/${parts.slice(0, i - 1).join('/')}`, target);
      return reachedPath(joinPath(pointed, parts.slice(i).join('/')), '/', resolver, depth + 1);
    }
  }
  return absolute;
}

/** Why `folder` (a real path) is out of a cutover's reach, or nothing when it is within. */
export function outOfReach(
  folder: string,
  reach: Reach,
  rules: PolicyRules,
  policyDir: string,
  resolver: PathResolver,
): string | undefined {
  const within = (root: string) => folder === root || folder.startsWith(root.endsWith('/') ? root : `${root}/`);
  const workdir = resolver.real(reach.workdir, '/') ?? reach.workdir;
  if (within(workdir)) return undefined;
  const workRoot = resolver.real(reach.workRoot, '/') ?? reach.workRoot;
  if (within(workRoot)) return `${folder} is another cutover's work folder (only ${workdir} is this cutover's)`;
  if (insideFolders(folder, rules, policyDir, resolver)) return undefined;
  return `${folder} is outside this cutover's work folder and the folders the policy allows`;
}

/** `file` against `base` with `.` and `..` resolved, POSIX style (no I/O: this module is pure). */
function joinPath(base: string, file: string): string {
  const parts: string[] = [];
  for (const part of (file.startsWith('/') ? file : `${base}/${file}`).split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** Whether `url` starts with one of the URL prefixes the policy allows. */
export function allowedUrl(url: string, rules: PolicyRules): boolean {
  return rules.urls.some((prefix) => url.startsWith(prefix));
}

/** Adds one violation, by the path of the plan field to fix. */
type Problem = (path: string, message: string) => void;

/**
 * Checks `plan` against the policy for its release: every violation by path, and the effective plan (the
 * stricter of plan and policy). Without rules for the release, the plan is refused. One concern per function
 * below: who signed it, what its actions run and reach, who approves, and the ceilings.
 */
/** A plan's database outputs read only the databases and schemas the policy names. */
function checkDatabases(plan: CutoverPlan, rules: PolicyRules, problem: Problem): void {
  for (const [name, output] of Object.entries(plan.shadow.outputs)) {
    for (const side of ['v1', 'v2'] as const) {
      const ref = output[side];
      if (!ref) continue;
      const allowed = rules.databases?.[ref.database];
      const schema = ref.table.split('.')[0] as string;
      if (!allowed) {
        const known = Object.keys(rules.databases ?? {});
        problem(
          `shadow.outputs.${name}.${side}.database`,
          `${ref.database} is not a database the policy lets a plan read (${known.length ? known.join(', ') : 'it names none'})`,
        );
      } else if (!allowed.schemas.includes(schema)) {
        problem(
          `shadow.outputs.${name}.${side}.table`,
          `${ref.table}: schema ${schema} of ${ref.database} is not one the policy lets a plan read (${allowed.schemas.join(', ')})`,
        );
      }
    }
  }
}

/** A plan's `production.window` narrows the pipeline's calendar, in its zone; it never widens it. */
function checkWindow(plan: CutoverPlan, rules: PolicyRules, problem: Problem): void {
  const window = plan.production.window;
  if (!window) return;
  if (rules.calendar && window.zone !== undefined && window.zone !== rules.calendar.zone) {
    problem(
      'production.window.zone',
      `${window.zone}: the plan's windows are in the policy's zone, ${rules.calendar.zone}; leave zone out`,
    );
  }
  for (const { index, message } of wideningWindows(rules.calendar, window))
    problem(`production.window.windows[${index}]`, message);
  const notice = shorterNotice(rules.calendar, window);
  if (notice) problem('production.window.notice', notice);
}

export function checkPlanAgainstPolicy(
  plan: CutoverPlan,
  resolved: ResolvedPolicy,
  resolver: PathResolver,
  now: Date = new Date(),
  reach?: Reach,
): PolicyCheck {
  const problems: PlanProblem[] = [];
  const problem: Problem = (path, message) => problems.push({ path, message });
  const rules = rulesFor(resolved.policy, plan.release);
  if (!rules) {
    problem('release', `the workers' policy has no rules for release "${plan.release}" (and no default)`);
    return { problems, effective: plan };
  }
  const initiator = signerOf(plan, resolved.policy, rules, now, problem);
  checkActions(plan, rules, { policyDir: resolved.policyDir, resolver, reach }, problem);
  const signoff = signoffUnder(plan, rules, problem);
  const { ceilings } = rules;
  requiredChecks(plan, ceilings, problem);
  checkTolerances(plan, ceilings, problem);
  checkOutputs(plan, ceilings, problem);
  const compare = compareUnder(plan, ceilings, problem);
  const thresholds = thresholdsUnder(plan, ceilings, problem);
  if (ceilings.rollbackTarget !== undefined && toMs(plan.rollback.target) > toMs(ceilings.rollbackTarget)) {
    problem(
      'rollback.target',
      `${plan.rollback.target} is longer than the policy's ceiling ${ceilings.rollbackTarget}`,
    );
  }
  const triggers = triggersUnder(plan, ceilings, problem);
  checkWindow(plan, rules, problem);
  checkDatabases(plan, rules, problem);
  const effective: CutoverPlan = {
    ...plan,
    ...(initiator !== undefined ? { initiator } : {}),
    signoff: {
      ...signoff,
      separationOfDuties: plan.signoff.separationOfDuties || rules.separationOfDuties,
      allowInitiator: plan.signoff.allowInitiator && rules.allowInitiator,
    },
    stress: { ...plan.stress, thresholds, ...(compare ? { compare } : {}) },
    production: { ...plan.production, monitor: { ...plan.production.monitor, triggers } },
  };
  return { problems, effective };
}

/**
 * Who started the plan: a signed plan's key must be a release manager's and its signature hold over this very
 * plan, and then the signer is the initiator (so separation of duties rests on the key, not on a name typed at
 * start).
 */
function signerOf(plan: CutoverPlan, policy: Policy, rules: PolicyRules, now: Date, problem: Problem) {
  if (!plan.signature) {
    if (rules.requireSignedPlans) {
      problem('signature', 'the policy requires a plan signed by a release manager (cutover plan sign)');
    }
    return plan.initiator;
  }
  const manager = policy.releaseManagers[plan.signature.keyId];
  if (!manager) {
    problem('signature.keyId', `"${plan.signature.keyId}" is not a release manager's key in the policy`);
    return plan.initiator;
  }
  if (manager.signer !== plan.signature.signer) {
    problem(
      'signature.signer',
      `key "${plan.signature.keyId}" belongs to ${manager.signer}, not ${plan.signature.signer}`,
    );
    return plan.initiator;
  }
  const why = planSignatureProblem(plan, manager.publicKey, now);
  if (why) problem('signature', why);
  return why ? plan.initiator : plan.signature.signer;
}

/** Where the plan's actions are checked from: the policy's folder, the file system, the cutover's reach. */
interface ActionContext {
  policyDir: string;
  resolver: PathResolver;
  reach: Reach | undefined;
}

/** What the actions run and reach: commands per environment, env keys, cwd and folders, URLs. */
function checkActions(plan: CutoverPlan, rules: PolicyRules, context: ActionContext, problem: Problem): void {
  const { policyDir, resolver } = context;
  const baseDir = plan.baseDir ?? policyDir;
  const realBase = resolver.real(baseDir, policyDir);
  if (plan.baseDir !== undefined && (!realBase || !insideFolders(realBase, rules, policyDir, resolver))) {
    problem('baseDir', `${plan.baseDir} is outside the folders the policy allows`);
  }
  for (const { path, action } of actionsOf(plan)) {
    if ('run' in action) {
      const cwd = action.cwd !== undefined ? (resolver.real(action.cwd, baseDir) ?? action.cwd) : (realBase ?? baseDir);
      checkRun(path, action, cwd, rules, context, problem);
    } else if (!allowedUrl(action.http, rules)) {
      problem(`${path}.http`, `${action.http} is not under a URL prefix the policy allows`);
    }
  }
}

function checkRun(
  path: string,
  action: RunAction,
  cwd: string,
  rules: PolicyRules,
  { policyDir, resolver, reach }: ActionContext,
  problem: Problem,
): void {
  if (action.cwd !== undefined && !insideFolders(cwd, rules, policyDir, resolver)) {
    problem(`${path}.cwd`, `${action.cwd} is outside the folders the policy allows`);
  }
  const prefixes = commandsFor(rules, environmentOfPath(path));
  const prefix = allowedPrefix(action.run, cwd, prefixes, policyDir, resolver);
  if (prefix === undefined) {
    problem(`${path}.run`, `${describeArgv(action.run)} is not a command the policy allows`);
  }
  for (const key of Object.keys(action.env ?? {})) {
    if (!rules.env.includes(key)) problem(`${path}.env.${key}`, `the policy does not allow actions to set ${key}`);
  }
  if (!reach) return;
  // The folders it names, as the workers will see them: {workdir} is known now; other placeholders are
  // checked when they expand, just before the action runs (activities/policy-guard.ts).
  const argv = action.run.map((arg) => arg.replaceAll('{workdir}', reach.workdir));
  const cwdProblem = outOfReach(reachedPath(cwd, '/', resolver), reach, rules, policyDir, resolver);
  if (cwdProblem) problem(`${path}.cwd`, cwdProblem);
  // A refused command is one problem, not one more per path it names.
  if (prefix === undefined) return;
  argv.forEach((arg, i) => {
    if (i < prefix) return;
    for (const file of pathArguments([arg], 0)) {
      const why = outOfReach(reachedPath(file, cwd, resolver), reach, rules, policyDir, resolver);
      if (why) problem(`${path}.run[${i}]`, why);
    }
  });
}

/** Who approves: the policy's roles, approvers, minimum quorums, separation of duties, initiator, keys. */
function signoffUnder(plan: CutoverPlan, rules: PolicyRules, problem: Problem): CutoverPlan['signoff'] {
  const signoff = { ...plan.signoff };
  const quorum = Object.fromEntries(Object.keys(signoff.roles).map((role) => [role, quorumFor(plan, role)]));
  for (const [role, rule] of Object.entries(rules.roles)) {
    const listed = signoff.roles[role];
    if (!listed) {
      problem('signoff.roles', `the policy requires role "${role}"`);
      continue;
    }
    if (rule.approvers.length > 0) {
      listed.forEach((name, i) => {
        if (!rule.approvers.includes(name)) {
          problem(`signoff.roles.${role}[${i}]`, `"${name}" is not an approver the policy allows for ${role}`);
        }
      });
    }
    quorum[role] = Math.max(quorum[role] ?? 1, rule.minQuorum);
    if ((quorum[role] ?? 1) > listed.length) {
      problem(
        `signoff.roles.${role}`,
        `the policy needs ${rule.minQuorum} approval(s) for ${role}; the plan lists ${listed.length}`,
      );
    }
  }
  signoff.quorum = quorum;
  if (rules.separationOfDuties && !plan.signoff.separationOfDuties) {
    problem('signoff.separationOfDuties', 'the policy requires separation of duties');
  }
  if (!rules.allowInitiator && plan.signoff.allowInitiator) {
    problem('signoff.allowInitiator', 'the policy does not let an initiator sign');
  }
  if (rules.approverKeys) {
    // The policy's keys are the ones that count; a plan's own keys cannot widen them.
    for (const [name, key] of Object.entries(plan.signoff.keys ?? {})) {
      if (rules.approverKeys[name] !== key) {
        problem(`signoff.keys.${name}`, `not the key the policy holds for "${name}"`);
      }
    }
    signoff.keys = Object.fromEntries(
      Object.values(signoff.roles)
        .flat()
        .flatMap((name) => (rules.approverKeys?.[name] ? [[name, rules.approverKeys[name]]] : [])),
    );
  }
  return signoff;
}

type Ceilings = PolicyRules['ceilings'];

/** A check the policy bounds is a check it requires: a plan may not make it a dry run. */
function requiredChecks(plan: CutoverPlan, ceilings: Ceilings, problem: Problem): void {
  const required = (path: string) => problem(path, 'the policy requires this check: it cannot be a dry run');
  for (const [metric, tolerance] of Object.entries(plan.shadow.tolerances)) {
    if (tolerance.dryRun && (ceilings.tolerances?.[metric] ?? ceilings.tolerances?.['*']))
      required(`shadow.tolerances.${metric}.dryRun`);
  }
  for (const [name, output] of Object.entries(plan.shadow.outputs)) {
    if (output.dryRun && ceilings.outputs) required(`shadow.outputs.${name}.dryRun`);
  }
  (plan.stress.thresholds.dryRun ?? []).forEach((key, i) => {
    if (ceilings.stress?.[key] !== undefined) required(`stress.thresholds.dryRun[${i}]`);
  });
  if (plan.stress.compare?.dryRun && ceilings.compare) required('stress.compare.dryRun');
  (plan.production.monitor.triggers.dryRun ?? []).forEach((key, i) => {
    if (ceilings.triggers?.[key] !== undefined) required(`production.monitor.triggers.dryRun[${i}]`);
  });
}

/** The shadow metrics' tolerances: none looser than the policy's, per metric or `*`. */
function checkTolerances(plan: CutoverPlan, ceilings: Ceilings, problem: Problem): void {
  if (!ceilings.tolerances) return;
  for (const [metric, tolerance] of Object.entries(plan.shadow.tolerances)) {
    const ceiling = ceilings.tolerances[metric] ?? ceilings.tolerances['*'];
    if (!ceiling) continue;
    for (const kind of ['relative', 'absolute'] as const) {
      const value = tolerance[kind];
      if (value === undefined) continue;
      const bound = ceiling[kind];
      if (bound === undefined)
        problem(`shadow.tolerances.${metric}.${kind}`, `the policy allows no ${kind} tolerance for ${metric}`);
      else if (value > bound)
        problem(`shadow.tolerances.${metric}.${kind}`, `${value} is looser than the policy's ceiling ${bound}`);
    }
  }
}

/** The output diffs: limits, column tolerances, text tolerance and ignored columns within the policy's. */
function checkOutputs(plan: CutoverPlan, ceilings: Ceilings, problem: Problem): void {
  const outputCeiling = ceilings.outputs;
  if (!outputCeiling) return;
  for (const [name, output] of Object.entries(plan.shadow.outputs)) {
    const at = `shadow.outputs.${name}`;
    for (const key of ['maxDifferingRows', 'maxMissingRows'] as const) {
      const bound = outputCeiling[key];
      if (bound !== undefined && output[key] > bound)
        problem(`${at}.${key}`, `${output[key]} is looser than the policy's ceiling ${bound}`);
    }
    for (const [column, tolerance] of Object.entries(output.tolerances)) {
      for (const kind of ['absolute', 'relative'] as const) {
        const value = tolerance[kind];
        if (value === undefined || !outputCeiling.tolerance) continue;
        const bound = outputCeiling.tolerance[kind];
        if (bound === undefined)
          problem(`${at}.tolerances.${column}.${kind}`, `the policy allows no ${kind} tolerance on output columns`);
        else if (value > bound)
          problem(`${at}.tolerances.${column}.${kind}`, `${value} is looser than the policy's ceiling ${bound}`);
      }
      if (outputCeiling.textTolerance === false && (tolerance.trim || tolerance.ignoreCase))
        problem(`${at}.tolerances.${column}`, 'the policy allows no text tolerance (trim, ignoreCase)');
    }
    if (outputCeiling.ignore === false && output.ignore.length > 0)
      problem(`${at}.ignore`, 'the policy allows no ignored columns: every column is compared');
  }
}

/** The V1/V2 comparison within the policy's ceilings; a required one the plan left out, at the ceilings. */
function compareUnder(plan: CutoverPlan, ceilings: Ceilings, problem: Problem): CutoverPlan['stress']['compare'] {
  let compare = plan.stress.compare;
  const compareCeiling = ceilings.compare;
  if (!compareCeiling) return compare;
  if (!compare && compareCeiling.required) {
    // Required but absent: the comparison at the policy's ceilings, the rest at the schema's defaults.
    compare = {
      measures: ['latency', 'memory'],
      maxSlowdown: compareCeiling.maxSlowdown ?? 0.1,
      maxMemoryGrowth: compareCeiling.maxMemoryGrowth ?? 0.2,
      confidence: Math.max(0.95, compareCeiling.minConfidence ?? 0.95),
      minRuns: 10,
      maxRuns: 40,
      onInconclusive: 'fail',
    };
  }
  if (!compare) return compare;
  for (const key of ['maxSlowdown', 'maxMemoryGrowth'] as const) {
    const bound = compareCeiling[key];
    if (bound !== undefined && compare[key] > bound)
      problem(`stress.compare.${key}`, `${compare[key]} is looser than the policy's ceiling ${bound}`);
  }
  if (compareCeiling.minConfidence !== undefined && compare.confidence < compareCeiling.minConfidence)
    problem(
      'stress.compare.confidence',
      `${compare.confidence} is below the policy's minimum ${compareCeiling.minConfidence}`,
    );
  if (compareCeiling.inconclusivePass === false && compare.onInconclusive === 'pass')
    problem('stress.compare.onInconclusive', 'the policy does not let an inconclusive comparison pass');
  if (compareCeiling.required && !compare.measures.includes('latency'))
    problem('stress.compare.measures', 'the policy requires the comparison; it must include latency');
  return compare;
}

/** The stress thresholds: none looser than the policy's; an absent one takes the ceiling. */
function thresholdsUnder(plan: CutoverPlan, ceilings: Ceilings, problem: Problem): CutoverPlan['stress']['thresholds'] {
  const thresholds = { ...plan.stress.thresholds };
  const stressCeiling = ceilings.stress ?? {};
  if (stressCeiling.latencyP99 !== undefined) {
    if (thresholds.latencyP99 === undefined) thresholds.latencyP99 = stressCeiling.latencyP99;
    else if (toMs(thresholds.latencyP99) > toMs(stressCeiling.latencyP99)) {
      problem(
        'stress.thresholds.latencyP99',
        `${thresholds.latencyP99} is looser than the policy's ceiling ${stressCeiling.latencyP99}`,
      );
    }
  }
  for (const key of ['errorRate', 'memoryVariation', 'peakRssMb'] as const) {
    const bound = stressCeiling[key];
    if (bound === undefined) continue;
    const value = thresholds[key];
    if (value === undefined) thresholds[key] = bound;
    else if (value > bound)
      problem(`stress.thresholds.${key}`, `${value} is looser than the policy's ceiling ${bound}`);
  }
  return thresholds;
}

/** The monitoring triggers: none looser than the policy's; an absent one takes the ceiling. */
function triggersUnder(
  plan: CutoverPlan,
  ceilings: Ceilings,
  problem: Problem,
): CutoverPlan['production']['monitor']['triggers'] {
  const triggers = { ...plan.production.monitor.triggers };
  for (const key of ['errorRate', 'kpiDrift', 'failedProbes'] as const) {
    const bound = ceilings.triggers?.[key];
    if (bound === undefined) continue;
    const value = triggers[key];
    if (value === undefined) triggers[key] = bound;
    else if (value > bound)
      problem(`production.monitor.triggers.${key}`, `${value} is looser than the policy's ceiling ${bound}`);
  }
  return triggers;
}

function describeArgv(argv: readonly string[]): string {
  const shown = argv
    .slice(0, 3)
    .map((a) => JSON.stringify(a))
    .join(' ');
  return argv.length > 3 ? `${shown} …` : shown;
}
