/**
 * A cutover's status before anything has run: while the plan is being checked (`startingStatus`), and as the
 * cutover proper begins (`initialStatus`). Pure and plain JSON, like every status.
 */
import { workflowInfo } from '@temporalio/workflow';
import type { CutoverPlan } from '../plan/schema';
import { type CutoverStatus } from '../shapes/status';
import { PHASES } from '../shapes/phases';

/** A fresh record of every phase, none started. */
function pendingPhases(): CutoverStatus['phases'] {
  return PHASES.map((phase) => ({ phase, outcome: 'pending', attempts: 0 }));
}

/** What `status` answers while the plan is being checked, before the cutover proper begins. */
export function startingStatus(input: unknown): CutoverStatus {
  const release = (input as { release?: unknown } | null)?.release;
  return {
    workflowId: workflowInfo().workflowId,
    release: typeof release === 'string' ? release : '',
    phase: PHASES[0],
    state: 'running',
    startedAt: workflowInfo().startTime.toISOString(),
    phases: pendingPhases(),
    gate: { status: 'closed', roles: [] },
    reconciliation: { day: 0, days: 0, cleanDays: 0 },
    audit: [],
    auditDropped: 0,
  };
}

/** A cutover's status as it starts: every phase pending, the gate closed. */
export function initialStatus(plan: CutoverPlan, workflowId: string): CutoverStatus {
  return {
    workflowId: workflowId,
    release: plan.release,
    phase: PHASES[0],
    state: 'running',
    startedAt: new Date().toISOString(),
    phases: pendingPhases(),
    gate: { status: 'closed', roles: [] },
    reconciliation: { day: 0, days: plan.production.reconcile.days, cleanDays: 0 },
    audit: [],
    auditDropped: 0,
    ...(plan.initiator !== undefined ? { initiator: plan.initiator } : {}),
    ...(plan.policyDigest !== undefined ? { policyDigest: plan.policyDigest } : {}),
    ...(plan.signoff.roleGroups !== undefined ? { roleGroups: plan.signoff.roleGroups } : {}),
    ...(plan.approvalUrl !== undefined
      ? {
          approvalLink: `${plan.approvalUrl.replace(/\/+$/, '')}/cutovers/${encodeURIComponent(workflowId)}`,
        }
      : {}),
  };
}
