/**
 * How a process says that one of its environment variables is wrong (the worker's and the approval app's
 * configuration): one line with the variable, its value, what was expected and what the variable is for.
 */
import type { z } from 'zod';

export function envIssueLine(schema: z.ZodObject, env: NodeJS.ProcessEnv, error: z.ZodError): string {
  const issue = error.issues[0];
  const name = String(issue?.path[0] ?? 'environment');
  const description = (schema.shape[name] as z.ZodType | undefined)?.description;
  return `${name}=${JSON.stringify(env[name] ?? '')}: ${issue?.message ?? 'invalid'}${description ? ` (${description})` : ''}`;
}
