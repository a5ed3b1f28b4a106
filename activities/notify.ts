/**
 * Notifications: one event told to one target of the plan's `notify`, as an activity with retries. The
 * idempotency key is the event's (a retried delivery carries the same key: the `idempotency-key` header of an
 * http target, CUTOVER_IDEMPOTENCY_KEY of a process), so a receiver can count each event once.
 */
import { Context } from '@temporalio/activity';
import type { Action, NotifyEvent } from '../plan/schema';
import { toFailure } from './errors';
import { guarded, assertSamePolicy, type GuardDeps } from './policy-guard';
import { runAction } from './runner';
import { workdirFor } from './datasets';
import type { StepIdentity } from '../shapes/evidence';

export interface NotifyInput extends StepIdentity {
  /** The target without its event list: an action. */
  target: Action;
  event: NotifyEvent;
  /** The cutover's state when the event happened. */
  state: string;
  /** One line for people: what happened. */
  text: string;
  policyDigest?: string;
  baseDir?: string;
}

export interface NotifyResult {
  event: NotifyEvent;
  target: string;
  attempt: number;
}

export interface NotifyDeps extends GuardDeps {
  /** Where the approval app serves a cutover's page (CUTOVER_APPROVAL_URL); without it, no link. */
  approvalUrl?: string;
}

/** The approval page of `workflowId`, if the workers know where the approval app is. */
export function approvalLink(approvalUrl: string | undefined, workflowId: string): string | undefined {
  if (!approvalUrl) return undefined;
  return `${approvalUrl.replace(/\/+$/, '')}/cutovers/${encodeURIComponent(workflowId)}`;
}

/** A JSON string's content: what a value becomes inside the quotes of a body template. */
const jsonEscaped = (value: string) => JSON.stringify(value).slice(1, -1);

export const createNotify = (deps: NotifyDeps) =>
  async function notify(input: NotifyInput): Promise<NotifyResult> {
    assertSamePolicy(deps.policy, input.policyDigest);
    const ctx = Context.current();
    const link = approvalLink(deps.approvalUrl, input.workflowId);
    const values = {
      event: input.event,
      state: input.state,
      text: input.text,
      link: link ?? '',
      workflowId: input.workflowId,
      release: input.release,
    };
    const label = input.target.name ?? ('http' in input.target ? 'notify (http)' : 'notify');
    let action: Action;
    if ('http' in input.target) {
      // Slack-compatible by default: `text` is what a chat shows; the rest is for machines.
      const body =
        input.target.body !== undefined
          ? Object.entries(values).reduce(
              (text, [name, value]) => text.replaceAll(`{${name}}`, jsonEscaped(value)),
              input.target.body,
            )
          : JSON.stringify({
              text: link ? `${input.text} ${link}` : input.text,
              event: input.event,
              release: input.release,
              state: input.state,
              workflowId: input.workflowId,
              ...(link ? { link } : {}),
            });
      action = {
        ...input.target,
        body,
        method: input.target.method ?? 'POST',
        headers: { 'content-type': 'application/json', ...(input.target.headers ?? {}) },
      };
    } else {
      action = input.target;
    }
    try {
      await runAction({
        action,
        sealedAs: input.target,
        cutoverEnv: {
          CUTOVER_EVENT: input.event,
          CUTOVER_STATE: input.state,
          CUTOVER_TEXT: input.text,
          CUTOVER_LINK: link ?? '',
        },
        idempotencyKey: input.key,
        signal: ctx.cancellationSignal,
        placeholders: { ...values, workdir: workdirFor(deps.dataDir, input.workflowId) },
        ...(input.baseDir ? { baseDir: input.baseDir } : {}),
        ...guarded(deps, input),
      });
    } catch (err) {
      throw toFailure(err);
    }
    return { event: input.event, target: label, attempt: ctx.info.attempt };
  };
