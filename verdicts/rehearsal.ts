/** The rollback rehearsal's timing verdict. Pure: the rehearsal and `cutover what-if` use it. */
export function rehearsalTimeFailure(durationMs: number, targetMs: number): string | undefined {
  return durationMs > targetMs ? `rollback took ${durationMs} ms, target ${targetMs} ms` : undefined;
}
