/** The task queue the workers poll, unless `CUTOVER_TASK_QUEUE` says another. */
export const DEFAULT_TASK_QUEUE = 'cutover';
