/**
 * The pure check of a plan against the organisation policy: every violation by the path of the plan field to
 * fix, and the effective plan (the stricter of plan and policy). One concern per function: who signed it, what
 * its actions run and reach, who approves, and the ceilings.
 */
import { shorterNotice, wideningWindows } from '../plan/calendar';
import { CONDITION_TEXT, SIGNOFF_CONDITIONS, type SignoffCondition } from '../plan/conditions';
import { toMs } from '../plan/duration';
import { quorumFor } from '../plan/helpers';
import type { PlanProblem } from '../plan/problems';
import { planSignatureProblem } from '../plan/signing';
import type { CutoverPlan, RunAction } from '../plan/schema';
import { actionsOf, commandsFor, environmentOfPath } from './actions';
import {
  allowedPrefix,
  allowedUrl,
  insideFolders,
  outOfReach,
  pathArguments,
  reachedPath,
  type PathResolver,
  type PolicyPaths,
  type Reach,
} from './reach';
import { rulesFor, type Policy, type PolicyRules, type ResolvedPolicy } from './schema';

/** The outcome of checking a plan: every violation by path, and the plan as the policy tightens it. */
export interface PolicyCheck {
  problems: PlanProblem[];
  /** The plan with the policy's stricter settings applied (quorums raised, absent bounds set to ceilings). */
  effective: CutoverPlan;
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

/**
 * A dbt plan's project is in a folder the policy allows, and its models are read only where the policy lets a plan
 * read: the warehouse it names, and V1's and V2's build schemas in it (`<schema>_v1`, `<schema>_v2`, and V1's second
 * build `<schema>_v1_aa` where the plan's shadow has a noise run).
 */
function checkDbt(plan: CutoverPlan, rules: PolicyRules, paths: PolicyPaths, problem: Problem): void {
  const dbt = plan.dbt;
  if (!dbt) return;
  const project = paths.resolver.real(dbt.project, plan.baseDir ?? paths.policyDir);
  if (!project || !insideFolders(project, rules, paths.policyDir, paths.resolver))
    problem('dbt.project', `${dbt.project} is outside the folders the policy allows`);
  const allowed = rules.databases?.[dbt.database];
  if (!allowed) {
    const known = Object.keys(rules.databases ?? {});
    problem(
      'dbt.database',
      `${dbt.database} is not a database the policy lets a plan read (${known.length ? known.join(', ') : 'it names none'})`,
    );
    return;
  }
  // V1's second build, where the plan has one, is read too (each model's noise).
  const builds = [`${dbt.schema}_v1`, `${dbt.schema}_v2`, ...(plan.shadow.noiseRun ? [`${dbt.schema}_v1_aa`] : [])];
  const refused = builds.filter((schema) => !allowed.schemas.includes(schema));
  if (refused.length > 0)
    problem(
      'dbt.schema',
      `${dbt.schema}: the builds ${refused.join(' and ')} of ${dbt.database} are not schemas the policy lets a plan read (${allowed.schemas.join(', ')})`,
    );
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
  /** When the check runs (a signature's age), and the cutover's reach (its own work folder) where known. */
  { now = new Date(), reach }: { now?: Date; reach?: Reach | undefined } = {},
): PolicyCheck {
  const problems: PlanProblem[] = [];
  const problem: Problem = (path, message) => problems.push({ path, message });
  const rules = rulesFor(resolved.policy, plan.release);
  if (!rules) {
    problem('release', `the workers' policy has no rules for release "${plan.release}" (and no default)`);
    return { problems, effective: plan };
  }
  const initiator = signerOf(plan, { policy: resolved.policy, rules, now }, problem);
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
  checkDbt(plan, rules, { policyDir: resolved.policyDir, resolver }, problem);
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
function signerOf(
  plan: CutoverPlan,
  { policy, rules, now }: { policy: Policy; rules: PolicyRules; now: Date },
  problem: Problem,
) {
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
      checkRun({ path, action, cwd }, rules, context, problem);
    } else if (!allowedUrl(action.http, rules)) {
      problem(`${path}.http`, `${action.http} is not under a URL prefix the policy allows`);
    }
  }
}

/** A run action at `path`, where it runs (`cwd`), against the policy's folders and commands. */
function checkRun(
  { path, action, cwd }: { path: string; action: RunAction; cwd: string },
  rules: PolicyRules,
  { policyDir, resolver, reach }: ActionContext,
  problem: Problem,
): void {
  if (action.cwd !== undefined && !insideFolders(cwd, rules, policyDir, resolver)) {
    problem(`${path}.cwd`, `${action.cwd} is outside the folders the policy allows`);
  }
  const prefixes = commandsFor(rules, environmentOfPath(path));
  const prefix = allowedPrefix(action.run, cwd, prefixes, { policyDir, resolver });
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
  const cwdProblem = outOfReach(reachedPath(cwd, '/', resolver), reach, rules, { policyDir, resolver });
  if (cwdProblem) problem(`${path}.cwd`, cwdProblem);
  // A refused command is one problem, not one more per path it names.
  if (prefix === undefined) return;
  argv.forEach((arg, i) => {
    if (i < prefix) return;
    for (const file of pathArguments([arg], 0)) {
      const why = outOfReach(reachedPath(file, cwd, resolver), reach, rules, { policyDir, resolver });
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
  const requiredWhen = conditionalRoles(plan, rules, problem);
  if (requiredWhen) signoff.requiredWhen = requiredWhen;
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

/**
 * The plan's conditional roles (signoff.requiredWhen) under the policy: a role the policy requires is never only
 * conditional, and a role the policy needs when a dbt model shows something (`requireSignoffWhen`) is listed and
 * awaited at least then (the condition joins the role's, unless the plan awaits the role always).
 */
function conditionalRoles(
  plan: CutoverPlan,
  rules: PolicyRules,
  problem: Problem,
): CutoverPlan['signoff']['requiredWhen'] {
  const requiredWhen: Record<string, SignoffCondition[]> = Object.fromEntries(
    Object.entries(plan.signoff.requiredWhen ?? {}).map(([role, when]) => [role, [...when]]),
  );
  for (const role of Object.keys(requiredWhen))
    if (role in rules.roles)
      problem(`signoff.requiredWhen.${role}`, `the policy requires role "${role}" always: it cannot be conditional`);
  for (const condition of SIGNOFF_CONDITIONS) {
    const role = rules.requireSignoffWhen?.[condition];
    if (role === undefined || !plan.dbt) continue;
    if (!(role in plan.signoff.roles)) {
      problem(
        'signoff.roles',
        `the policy needs role "${role}" to sign when the evidence shows ${CONDITION_TEXT[condition]}: list its approvers (signoff.requiredWhen.${role}: [${condition}] awaits it only then)`,
      );
      continue;
    }
    const when = requiredWhen[role];
    if (when && !when.includes(condition)) when.push(condition);
  }
  return Object.keys(requiredWhen).length > 0 ? requiredWhen : undefined;
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
