/**
 * How a cutover ends other than by completing or failing: thrown by a phase, read by the run loop. Control
 * flow inside the workflow only; they never leave it as failures.
 */

/** Ends the cutover with a rollback (a trigger fired or someone asked). */
export class RollbackNeeded extends Error {
  override readonly name = 'RollbackNeeded';
}

/** Ends the cutover with a rejection at the gate. */
export class GateRejected extends Error {
  override readonly name = 'GateRejected';
}
