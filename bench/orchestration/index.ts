/**
 * Orchestration benches, on the local dev server with a real worker process (and, for the history bound,
 * the time-skipping server):
 *
 *   signoff       last signOff signal sent → production deploy action started, over BENCH_CUTOVERS (50)
 *   overhead      a cutover of do-nothing actions: (start → gate open − activities' own time) / activities
 *   rollback      requestRollback signal → undo started; breaching probe printed → undo started
 *   concurrent    BENCH_CONCURRENT (100) cutovers at once on one worker: all complete? worker peak RSS,
 *                 dev server CPU
 *   gate          BENCH_GATE (100,1000) cutovers waiting at the gate: worker memory, all signed off and
 *                 completed, task timeouts, the reaction of a cutover woken from eviction
 *   history       24 h monitoring at a 1-minute interval (time-skipping): most events in one run
 *   worker-start  worker process spawned → polling, with and without the prebuilt bundle
 *   layout        sign-off reactions and per-activity overhead: one worker on one queue, one worker
 *                 serving the environments' queues, and four workers (orchestrator, staging, production,
 *                 compute), in the same run (BENCH_LAYOUTS)
 *
 * Actions are `sh -c` one-liners: the figures are the orchestration's, not a pipeline's. Times come from
 * one clock (this machine's): the action writes `date +%s%N` when it starts.
 */
export { benchSignoff } from './signoff';
export { benchOverhead, benchLayout } from './overhead';
export { benchRollback } from './rollback';
export { benchConcurrent } from './concurrent';
export { benchGate } from './gate';
export { benchHistory } from './history';
export { benchWorkerStart } from './worker-start';
export { benchWhatIf } from './what-if';
export { fmt, quickPlan, table } from './stack';
