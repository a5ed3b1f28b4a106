/** The warehouse the `cutover dbt` commands work in: a PostgreSQL URL from a variable the plan names. */
import { Client } from 'pg';
import { PublishError } from '../../../dbt/publish';
import { UserError } from '../../../lib/errors';

/** The URL in `variable`, or a one-line refusal naming it; the URL itself is never printed (it holds a password). */
export function warehouseUrl(variable: string): string {
  const url = process.env[variable];
  if (!url)
    throw new UserError(`${variable} is not set: it names the warehouse (postgres://user:password@host:port/db)`);
  return url;
}

/** `work` on a connection to the warehouse in `variable`, closed after; a refused publish or drop is one line. */
export async function withWarehouse<T>(variable: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: warehouseUrl(variable) });
  await client.connect();
  try {
    return await work(client);
  } catch (err) {
    if (err instanceof PublishError) throw new UserError(err.message);
    throw err;
  } finally {
    await client.end();
  }
}
