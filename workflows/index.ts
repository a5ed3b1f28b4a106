export { cutoverWorkflow } from './cutover';
export { monitorWorkflow } from './monitor';
