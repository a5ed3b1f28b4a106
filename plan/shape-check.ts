/**
 * The plan check of cutovers started before Patch.PlanCheckedByActivity, without zod: those checked their plan
 * in workflow code, and replaying them must give the same plan (defaults and all) or the same refusal.
 *
 * Why not zod, as they did: zod was 1 MB of the 1.8 MB workflow bundle, kept only for this path. This check
 * walks the plan's shape (plan/plan-shape.json, generated from the zod schema by `toJSONSchema` and held equal
 * to it by a test), applying each field's type, bounds, pattern and default the way zod does, the rules a
 * JSON Schema cannot say by name (plan/rules.ts, which the zod schema applies too), and the rules across
 * fields. test/unit/shape-check.test.ts holds it to zod's verdicts and outputs on every recorded fixture and
 * thousands of generated plans. Pure: no zod, no Node built-ins.
 */
import { formatPath, invalidPlan, type PlanProblem } from './problems';
import { allowance, FIELD_RULES, planProblems, type FieldRule, type RuleName } from './rules';
import type { CutoverPlan } from './schema';
import shape from './plan-shape.json';

/** The JSON Schema keywords the generated shape uses (plan-shape.test.ts fails on any other). */
export interface Shape {
  type?: 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';
  anyOf?: Shape[];
  enum?: unknown[];
  default?: unknown;
  rules?: RuleName | 'allowance';
  // strings
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  // numbers
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  // objects and records
  properties?: Record<string, Shape>;
  required?: string[];
  additionalProperties?: boolean | Shape;
  propertyNames?: Shape;
  // arrays
  items?: Shape;
  minItems?: number;
  maxItems?: number;
}

/** The keywords above, for the test that keeps the generated shape within them. */
export const SHAPE_KEYWORDS = [
  'type',
  'anyOf',
  'enum',
  'default',
  'rules',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'minItems',
  'maxItems',
] as const;

type Path = PropertyKey[];
/**
 * One problem. `abort`: zod's distinction between an issue that stops the value's further checks (a wrong type,
 * a missing or unknown key, a value outside an enum) and one after which they go on (a bound, a pattern, a rule).
 * It decides which branch of a union zod reports and whether a field's rules run, so the check keeps it too.
 */
type Issue = { path: Path; message: string; abort: boolean };

const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const own = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);
/** zod's length checks run on anything with a length, even after a wrong type (an array where text belongs). */
const lengthOf = (v: unknown): number | undefined => (typeof v === 'string' || Array.isArray(v) ? v.length : undefined);

// Compiled once per pattern: the shape has a few dozen.
const patterns = new Map<string, RegExp>();
const regex = (source: string): RegExp => {
  let compiled = patterns.get(source);
  if (!compiled) patterns.set(source, (compiled = new RegExp(source)));
  return compiled;
};

/** zod's `z.url({ protocol: /^https?$/ })`: `http://` or `https://`, parseable; trimmed, tabs and newlines out. */
function httpUrl(value: string): string | undefined {
  const trimmed = value.trim();
  if (!/^https?:\/\//i.test(trimmed)) return undefined;
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return undefined;
  }
  if (!/^https?$/.test(url.protocol.replace(/:$/, ''))) return undefined;
  return trimmed.replace(/[\t\n\r]/g, '');
}

class Checker {
  readonly issues: Issue[] = [];

  /** The value as zod's parse returns it (with the problems, if any, in `issues`). */
  value(shape: Shape, input: unknown, path: Path): unknown {
    if (shape.anyOf) return this.union(shape, input, path);
    const start = this.issues.length;
    let out: unknown = input;
    if (shape.enum) {
      if (!shape.enum.includes(input)) {
        this.fail(path, `expected one of ${shape.enum.map((e) => JSON.stringify(e)).join(', ')}`, true);
      }
    } else if (shape.type === 'string') out = this.string(shape, input, path);
    else if (shape.type === 'number' || shape.type === 'integer') this.number(shape, input, path);
    else if (shape.type === 'boolean') {
      if (typeof input !== 'boolean') this.fail(path, `expected boolean, received ${kind(input)}`, true);
    } else if (shape.type === 'object') out = this.object(shape, input, path);
    else if (shape.type === 'array') out = this.array(shape, input, path);
    if (shape.rules && shape.rules !== 'allowance' && !this.abortedSince(start)) {
      for (const rule of FIELD_RULES[shape.rules] as readonly FieldRule[]) {
        if (!rule.test(out as never)) this.fail([...path, ...(rule.path ?? [])], rule.message);
      }
    }
    return out;
  }

  abortedSince(start: number): boolean {
    for (let i = start; i < this.issues.length; i++) if (this.issues[i]?.abort) return true;
    return false;
  }

  private fail(path: Path, message: string, abort = false): void {
    this.issues.push({ path, message, abort });
  }

  /**
   * zod's union: the first branch that parses wins; else, if exactly one branch got past its type checks, its
   * problems; else the closest branch's (as plan/problems.ts picks among zod's).
   */
  private union(shape: Shape, input: unknown, path: Path): unknown {
    const trials: { checker: Checker; out: unknown }[] = [];
    for (const branch of shape.anyOf ?? []) {
      const checker = new Checker();
      const out = checker.value(branch, input, path);
      if (checker.issues.length === 0) {
        return shape.rules === 'allowance' ? this.allowance(out as number | string, path) : out;
      }
      trials.push({ checker, out });
    }
    const unaborted = trials.filter((t) => !t.checker.abortedSince(0));
    if (unaborted.length === 1) {
      const [only] = unaborted as [(typeof trials)[number]];
      this.issues.push(...only.checker.issues);
      return only.out;
    }
    const best = trials.reduce<Issue[] | undefined>(
      (a, t) => (a === undefined || score(t.checker.issues) < score(a) ? t.checker.issues : a),
      undefined,
    );
    this.issues.push(...(best ?? []).map((i) => ({ ...i, abort: true })));
    if (!best) this.fail(path, 'invalid input', true);
    return undefined;
  }

  /** `10%` or 0.1, then the pipe's bounds. */
  private allowance(value: number | string, path: Path): number {
    const fraction = allowance(value);
    if (!(fraction >= 0 && fraction <= 100)) this.fail(path, 'expected a share between 0 and 100');
    return fraction;
  }

  private lengths(shape: { min?: number; max?: number }, input: unknown, path: Path, unit: string): void {
    const length = lengthOf(input);
    if (length === undefined) return;
    if (shape.min !== undefined && length < shape.min)
      this.fail(path, `too short: expected at least ${shape.min} ${unit}`);
    if (shape.max !== undefined && length > shape.max)
      this.fail(path, `too long: expected at most ${shape.max} ${unit}`);
  }

  private string(shape: Shape, input: unknown, path: Path): unknown {
    const start = this.issues.length;
    if (typeof input !== 'string') this.fail(path, `expected string, received ${kind(input)}`, true);
    this.lengths({ min: shape.minLength, max: shape.maxLength }, input, path, 'character(s)');
    if (typeof input !== 'string' || this.abortedSince(start)) return input;
    if (shape.pattern !== undefined && !regex(shape.pattern).test(input)) {
      this.fail(path, `expected text matching /${shape.pattern}/`);
    }
    if (shape.format === 'uri') {
      const url = httpUrl(input);
      if (url === undefined) this.fail(path, 'expected an http:// or https:// URL');
      return url ?? input;
    }
    return input;
  }

  private number(shape: Shape, input: unknown, path: Path): void {
    if (typeof input !== 'number' || !Number.isFinite(input)) {
      return this.fail(path, `expected number, received ${kind(input)}`, true);
    }
    // zod's z.int() fails a fraction as a wrong type: it aborts (no bounds after it, and a union's branch is out).
    if (shape.type === 'integer' && !Number.isInteger(input)) return this.fail(path, 'expected an integer', true);
    if (shape.minimum !== undefined && input < shape.minimum) this.fail(path, `expected at least ${shape.minimum}`);
    if (shape.maximum !== undefined && input > shape.maximum) this.fail(path, `expected at most ${shape.maximum}`);
    if (shape.exclusiveMinimum !== undefined && input <= shape.exclusiveMinimum) {
      this.fail(path, `expected more than ${shape.exclusiveMinimum}`);
    }
    if (shape.exclusiveMaximum !== undefined && input >= shape.exclusiveMaximum) {
      this.fail(path, `expected less than ${shape.exclusiveMaximum}`);
    }
  }

  private object(shape: Shape, input: unknown, path: Path): unknown {
    if (!input || typeof input !== 'object' || Array.isArray(input)) {
      this.fail(path, `expected object, received ${kind(input)}`, true);
      return input;
    }
    const record = input as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    if (!shape.properties) {
      // A record: every key checked by propertyNames, every value by additionalProperties, in the input's order.
      const values = typeof shape.additionalProperties === 'object' ? shape.additionalProperties : {};
      for (const key of Object.keys(record)) {
        if (shape.propertyNames) {
          const keyCheck = new Checker();
          keyCheck.value(shape.propertyNames, key, [...path, key]);
          // zod reports a bad key as one issue that stops the record's checks.
          if (keyCheck.issues.length > 0) this.fail([...path, key], keyCheck.issues[0]?.message ?? '', true);
        }
        out[key] = this.value(values, record[key], [...path, key]);
      }
      return out;
    }
    // A strict object: the shape's keys in the shape's order (as zod builds its output); unknown keys refused.
    const required = new Set(shape.required ?? []);
    for (const [key, field] of Object.entries(shape.properties)) {
      if (own(record, key) && record[key] !== undefined) out[key] = this.value(field, record[key], [...path, key]);
      else if (own(field, 'default')) out[key] = structuredCopy(field.default);
      else if (required.has(key))
        this.fail([...path, key], `expected ${describeShape(field)}, received undefined`, true);
    }
    const unknown = Object.keys(record).filter((key) => !own(shape.properties as object, key));
    if (unknown.length > 0 && shape.additionalProperties === false) {
      const keys = unknown.map((k) => `"${k}"`).join(', ');
      this.fail(path, `unknown key${unknown.length > 1 ? 's' : ''} ${keys}`, true);
    }
    return out;
  }

  private array(shape: Shape, input: unknown, path: Path): unknown {
    if (!Array.isArray(input)) {
      this.fail(path, `expected array, received ${kind(input)}`, true);
      this.lengths({ min: shape.minItems, max: shape.maxItems }, input, path, 'item(s)');
      return input;
    }
    this.lengths({ min: shape.minItems, max: shape.maxItems }, input, path, 'item(s)');
    // Every index, holes too (as zod reads them: undefined).
    return Array.from(input as unknown[], (item, i) =>
      shape.items ? this.value(shape.items, item, [...path, i]) : item,
    );
  }
}

function score(issues: Issue[]): number {
  // As plan/problems.ts judges zod's union branches: fewer problems, and fewer about the branch's own keys.
  return issues.length * 10 + issues.filter((i) => i.message.startsWith('unknown key')).length * 5;
}

function describeShape(shape: Shape): string {
  return shape.type ?? (shape.anyOf ? shape.anyOf.map(describeShape).join(' or ') : 'a value');
}

/** Defaults are plain JSON; each plan gets its own copy. */
function structuredCopy<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Checks a plan as the zod schema does: the plan with its defaults, or every problem by path. */
export function checkPlanShape(
  input: unknown,
): { ok: true; plan: CutoverPlan } | { ok: false; problems: PlanProblem[] } {
  const checker = new Checker();
  const plan = checker.value(shape as unknown as Shape, input, []);
  // zod runs the rules across fields unless a problem stopped the plan's checks (they need its types right).
  if (!checker.abortedSince(0)) {
    planProblems(plan as CutoverPlan, (path, message) => checker.issues.push({ path, message, abort: false }));
  }
  if (checker.issues.length === 0) return { ok: true, plan: plan as CutoverPlan };
  return { ok: false, problems: checker.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) };
}

/** The plan with its defaults, or an `InvalidPlan` failure (non-retryable) listing every problem by path. */
export function planOrFailure(input: unknown): CutoverPlan {
  const result = checkPlanShape(input);
  if (result.ok) return result.plan;
  throw invalidPlan(result.problems);
}
