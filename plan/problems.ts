/**
 * A plan's problems as people read them: `signoff.roles.qa: expected at least 1 approver`. Used by the plan
 * schema and the loader; zod appears here as a type only.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { FailureType } from './failures';

/** One problem with a plan: where it is and what is wrong. */
export interface PlanProblem {
  path: string;
  message: string;
}

type Issue = z.core.$ZodIssue;

/** The `InvalidPlan` failure (non-retryable) that lists every problem by path. */
export function invalidPlan(problems: PlanProblem[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.InvalidPlan,
    nonRetryable: true,
    message: `invalid plan: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    details: [problems],
  });
}

/**
 * Turns zod issues into `path: message` problems. A union (an action is a run or an http action) reports
 * the branch that came closest, so the message is about the field the user got wrong, not "invalid input".
 */
export function flattenIssues(issues: readonly Issue[], prefix: PropertyKey[] = []): PlanProblem[] {
  const out: PlanProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branches = issue.errors.map((branch) => flattenIssues(branch, path));
      const best = branches.reduce((a, b) => (score(b) < score(a) ? b : a));
      out.push(...best);
      continue;
    }
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    }
    out.push({ path: formatPath(path), message });
  }
  return out;
}

function score(problems: PlanProblem[]): number {
  // Fewer problems, and problems about something other than the union's own shape, mean a closer branch.
  return problems.length * 10 + problems.filter((p) => p.message.startsWith('unknown key')).length * 5;
}

/** `signoff.roles.qa[0]` style path. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(plan)';
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
}
