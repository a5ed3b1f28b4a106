export { cutoverWorkflow } from './cutover';
export { monitorWorkflow } from './monitor';
export { referencesWorkflow } from './references';
