/**
 * Whether a Temporal call failed because the workflow does not exist: the client's WorkflowNotFoundError, or
 * gRPC's NOT_FOUND (5), which fetchHistory and queries answer an unknown id with.
 */
import { WorkflowNotFoundError, isGrpcServiceError } from '@temporalio/client';

export function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === 5);
}
