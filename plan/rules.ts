/**
 * The plan's rules that a JSON Schema cannot say (a duration's range, a key that is a point on the curve, rules
 * across fields), kept apart from zod's schema (plan/schema.ts), which applies them, so that each reads alone.
 */
import { toMs } from './duration';
import { decodePublicKey } from './keys';
import { outputsNamed } from './placeholders';

/** Reports one problem at a path of the plan. */
export type Problem = (path: PropertyKey[], message: string) => void;

/** A check on one value: a predicate, the message when it fails, and (for an object) the field it names. */
export interface FieldRule {
  test: (value: never) => boolean;
  message: string;
  path?: PropertyKey[];
}

/** A name in `{output:NAME}`. */
export const OUTPUT_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const MAX_DURATION_MS = 366 * 86_400_000;

/** Every rule a field carries, by the name the shape gives it. Order matters: zod reports them in this order. */
export const FIELD_RULES = {
  duration: [
    { test: (value: string) => toMs(value) > 0, message: 'must be greater than zero' },
    { test: (value: string) => toMs(value) <= MAX_DURATION_MS, message: 'must be at most 366d' },
  ],
  tolerance: [
    {
      test: (t: { relative?: number; absolute?: number }) => t.relative !== undefined || t.absolute !== undefined,
      message: 'expected "relative" or "absolute" (or both)',
    },
  ],
  columnName: [
    {
      test: (name: string) => !/["\p{Cc}]/u.test(name),
      message: 'expected a column name without quotes or control characters',
    },
  ],
  columnTolerance: [
    {
      test: (t: Record<string, unknown>) => Object.values(t).some((v) => v !== undefined && v !== false),
      message: 'expected "absolute", "relative", "trim" or "ignoreCase"',
    },
  ],
  compareRuns: [
    {
      test: (c: { minRuns: number; maxRuns: number }) => c.minRuns <= c.maxRuns,
      message: 'minRuns is more than maxRuns',
      path: ['minRuns'],
    },
  ],
  publicKey: [
    {
      test: (key: string) => decodePublicKey(key) !== undefined,
      message: 'expected a valid ed25519 public key (32 bytes, hex or base64)',
    },
  ],
  someRole: [{ test: (roles: object) => Object.keys(roles).length > 0, message: 'expected at least one role' }],
  someTrigger: [
    {
      test: (t: { errorRate?: number; kpiDrift?: number; failedProbes?: number }) =>
        t.errorRate !== undefined || t.kpiDrift !== undefined || t.failedProbes !== undefined,
      message: 'expected at least one trigger (errorRate, kpiDrift or failedProbes)',
    },
  ],
} satisfies Record<string, FieldRule[]>;

export type RuleName = keyof typeof FIELD_RULES;

/** `10%` as a fraction (0.1); a number stays as it is. */
export function allowance(value: number | string): number {
  return typeof value === 'number' ? value : Number.parseFloat(value) / 100;
}

/** A run action as the rules read it. */
interface RuledAction {
  run: readonly string[];
  env?: Readonly<Record<string, string>> | undefined;
}

/** What the sign-off rules read: the roles and quorums. */
type RuledSignoff = {
  roles: Readonly<Record<string, readonly string[]>>;
  quorum: number | Readonly<Record<string, number>>;
  requiredWhen?: Readonly<Record<string, readonly string[]>> | undefined;
};

/** A declared output table as the rules read it. */
interface RuledOutput {
  columns?: readonly string[] | undefined;
  key: readonly string[];
  tolerances: Readonly<Record<string, unknown>>;
  ignore: readonly string[];
}

/**
 * What the rules across fields read of a plan. The plan schema's output is one (plan/schema.ts applies these
 * rules in its refinement); written out here so that the rules import nothing of the schema that applies them.
 */
export interface RuledPlan {
  initiator?: string | undefined;
  generator?: unknown;
  baseline: RuledAction;
  candidate: RuledAction;
  environments?: Partial<Record<'staging' | 'production' | 'compute', { taskQueue: string }>> | undefined;
  signoff: RuledSignoff & {
    keys?: Readonly<Record<string, string>> | undefined;
    separationOfDuties: boolean;
    allowInitiator: boolean;
  };
  production: {
    monitor: { interval: string; window: string };
    decommission: { afterCleanDays: number };
    reconcile: { days: number; dataset?: unknown };
  };
  shadow: {
    metrics?: readonly string[] | undefined;
    tolerances: Readonly<Record<string, unknown>>;
    ranges: Readonly<Record<string, unknown>>;
    datasets: readonly object[];
    outputs: Readonly<Record<string, RuledOutput>>;
  };
  stress: { sizes: readonly number[] };
}

/** The gate's rules: quorums the roles can fill, approvers listed once, keys for every approver and no other. */
function signoffProblems(signoff: RuledPlan['signoff'], problem: Problem): void {
  for (const [role, approvers] of Object.entries(signoff.roles)) {
    const needed = typeof signoff.quorum === 'number' ? signoff.quorum : (signoff.quorum[role] ?? 1);
    if (needed > approvers.length) {
      problem(
        typeof signoff.quorum === 'number' ? ['signoff', 'quorum'] : ['signoff', 'quorum', role],
        `quorum ${needed} is more than the ${approvers.length} approver(s) of role "${role}"`,
      );
    }
    const seen = new Set<string>();
    approvers.forEach((name, index) => {
      if (seen.has(name)) {
        problem(['signoff', 'roles', role, index], `"${name}" is listed twice`);
      }
      seen.add(name);
    });
  }
  if (typeof signoff.quorum === 'object') {
    for (const role of Object.keys(signoff.quorum)) {
      if (!(role in signoff.roles)) {
        problem(['signoff', 'quorum', role], `no role "${role}" in signoff.roles`);
      }
    }
  }
  for (const role of Object.keys(signoff.requiredWhen ?? {})) {
    if (!(role in signoff.roles))
      problem(['signoff', 'requiredWhen', role], `no role "${role}" in signoff.roles: list its approvers there`);
  }
  if (signoff.keys) {
    const approvers = new Set(Object.values(signoff.roles).flat());
    for (const name of Object.keys(signoff.keys)) {
      if (!approvers.has(name)) {
        problem(['signoff', 'keys', name], `"${name}" is not an approver of any role`);
      }
    }
    for (const name of approvers) {
      if (!(name in signoff.keys)) {
        problem(['signoff', 'keys'], `approver "${name}" has no key (with keys, every approver needs one)`);
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
      problem(
        ['signoff', 'roles'],
        `with separation of duties each approver signs for one role, and the approvers listed can fill only ${filled} of the ${needed} places the quorums need (roles sharing approvers: ${shared.join(', ')})`,
      );
    }
  }
}

/** The rules that span fields: every one names the path of the field to fix. */
export function planProblems(plan: RuledPlan, problem: Problem): void {
  const { signoff, production, shadow } = plan;
  signoffProblems(signoff, problem);
  // Production's queue is production's alone: a staging or compute worker must never take its work.
  const environments = plan.environments;
  const productionQueue = environments?.production?.taskQueue;
  for (const other of ['staging', 'compute'] as const) {
    if (productionQueue !== undefined && environments?.[other]?.taskQueue === productionQueue) {
      problem(
        ['environments', other, 'taskQueue'],
        `"${productionQueue}" is production's queue: ${other} work needs a queue of its own`,
      );
    }
  }
  if (toMs(production.monitor.interval) > toMs(production.monitor.window)) {
    problem(
      ['production', 'monitor', 'interval'],
      `interval ${production.monitor.interval} is longer than the window ${production.monitor.window}`,
    );
  }
  if (production.decommission.afterCleanDays > production.reconcile.days) {
    problem(
      ['production', 'decommission', 'afterCleanDays'],
      `needs ${production.decommission.afterCleanDays} clean days but reconciliation runs only ${production.reconcile.days}`,
    );
  }
  if (shadow.metrics) {
    const produced = new Set(shadow.metrics);
    for (const section of ['tolerances', 'ranges'] as const) {
      for (const metric of Object.keys(shadow[section])) {
        if (!produced.has(metric)) {
          problem(
            ['shadow', section, metric],
            `no pipeline produces "${metric}" (shadow.metrics lists ${[...produced].join(', ')})`,
          );
        }
      }
    }
  }
  outputProblems(plan, problem);
  if (plan.initiator && !signoff.allowInitiator) {
    // Only a plan where every approver of some role is the initiator is unusable.
    for (const [role, approvers] of Object.entries(signoff.roles)) {
      if (approvers.every((name) => name === plan.initiator)) {
        problem(
          ['signoff', 'roles', role],
          `only the initiator "${plan.initiator}" can sign for "${role}", and the initiator may not sign`,
        );
      }
    }
  }
  const usesGenerator =
    shadow.datasets.some((d) => 'generate' in d) ||
    plan.stress.sizes.length > 0 ||
    production.reconcile.dataset !== undefined;
  if (usesGenerator && !plan.generator) {
    problem(['generator'], 'generated datasets and stress sizes need a generator action');
  }
}

type OutputsView = Pick<RuledPlan, 'baseline' | 'candidate'> & { shadow: Pick<RuledPlan['shadow'], 'outputs'> };

/**
 * The output tables' rules: every `{output:NAME}` names a declared output, every declared output in files is
 * written by both versions, and a key, tolerance or ignored column is one of the output's declared `columns` (when given).
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
    for (const [name, output] of Object.entries(declared)) {
      // A side in a database writes where the plan says (v1, v2), not to a file its run is given.
      const inDatabase = (output as { v1?: unknown; v2?: unknown })[side === 'baseline' ? 'v1' : 'v2'] !== undefined;
      if (!named.includes(name) && !inDatabase)
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

/**
 * With separation of duties each approver signs for one role at most, so every quorum can be reached only if
 * the places the quorums need (`quorum` per role) go to distinct approvers listed for them: a bipartite
 * matching, found by augmenting paths (a handful of roles and people). Returns how many places are filled.
 */
export function fillQuorums(signoff: RuledSignoff): {
  filled: number;
  needed: number;
} {
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
