/** The warehouse the `cutover dbt` commands work in: a PostgreSQL URL from a variable the plan names. */
import { UserError } from '../../../lib/errors';

/** The URL in `variable`, or a one-line refusal naming it; the URL itself is never printed (it holds a password). */
export function warehouseUrl(variable: string): string {
  const url = process.env[variable];
  if (!url)
    throw new UserError(`${variable} is not set: it names the warehouse (postgres://user:password@host:port/db)`);
  return url;
}
