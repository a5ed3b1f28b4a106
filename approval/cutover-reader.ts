/**
 * How the app reads cutovers: the status (with the describe `status()` sends first), the status query alone
 * where a round trip less is felt, and the plan's approvers of the cutovers seen lately.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { status, UserError, type Cutovers } from '../lib/api';
import { statusQuery } from '../workflows/messages';
import type { CutoverStatus } from '../shapes/status';
import type { RoleView } from '../shapes/evidence';
import type { Login } from './identity';
import { messagePage } from './pages';
import { html, issueMessage, type Sessions } from './session';

export const workflowIdSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, { error: 'expected a workflow id (printable characters, no spaces)' });

/** The cutover id the address names (`/cutovers/:id/…`), or a 400 page sent and undefined. */
export function addressedId(req: FastifyRequest, reply: FastifyReply, login: Login): string | undefined {
  const id = workflowIdSchema.safeParse((req.params as { id?: string }).id);
  if (id.success) return id.data;
  html(reply, 400, messagePage('Bad address', `cutover id: ${issueMessage(id.error)}`, { login }));
  return undefined;
}

export class CutoverReader {
  /**
   * The plan's approvers and the groups per role of the cutovers seen lately: fixed for a run, so kept
   * (bounded). The gate checks the approvers again; the groups are the workers' word in the status.
   */
  readonly approvers = new Map<string, { roles: RoleView[]; roleGroups?: Record<string, string[]> }>();

  constructor(
    private readonly cutovers: Cutovers,
    private readonly sessions: Sessions,
  ) {}

  remember(s: CutoverStatus): CutoverStatus {
    if (s.gate.roles.length > 0) {
      this.approvers.delete(s.workflowId);
      this.approvers.set(s.workflowId, { roles: s.gate.roles, ...(s.roleGroups ? { roleGroups: s.roleGroups } : {}) });
      if (this.approvers.size > 1000) this.approvers.delete(this.approvers.keys().next().value as string);
    }
    return s;
  }

  /**
   * The status query alone, without the describe that `status()` sends first and the monitoring child's
   * wait it adds: the sign-off path and the live refresh, where a round trip less is felt.
   */
  async quickStatus(workflowId: string): Promise<CutoverStatus> {
    try {
      return await this.cutovers.client.workflow.getHandle(workflowId).query(statusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        throw new UserError(`no cutover with id ${workflowId} in namespace ${this.cutovers.namespace}`);
      }
      throw err;
    }
  }

  /** The status of the cutover the address names, or a 400/404 page sent and undefined. */
  async statusOr404(req: FastifyRequest, reply: FastifyReply, login: Login): Promise<CutoverStatus | undefined> {
    const id = addressedId(req, reply, login);
    if (id === undefined) return undefined;
    try {
      return this.remember(await status(this.cutovers, id));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      html(reply, 404, messagePage('No such cutover', err.message, this.sessions.viewer(reply, login)));
      return undefined;
    }
  }
}
