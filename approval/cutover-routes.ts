/**
 * The pages approvers read: the list of cutovers (`/`), one cutover's evidence and gate (`/cutovers/:id`), and
 * its live version (`/cutovers/:id/live`, which the page polls to know when to reload).
 */
import type { FastifyInstance } from 'fastify';
import { list, UserError, type Cutovers } from '../lib/api';
import { RecordLines } from '../lib/record-export';
import type { ServeConfig } from './config';
import { isFinal } from '../shapes/status';
import { rolesFor } from './identity';
import { workflowIdSchema, type CutoverReader } from './cutover-reader';
import { cutoverPage, listPage, liveVersion } from './pages';
import { html, issueMessage, type Sessions } from './session';

export interface CutoverRoutesOptions {
  sessions: Sessions;
  cutovers: Cutovers;
  reader: CutoverReader;
  /** The workers' key and trusted attesters, where pages show the record's line. */
  record?: ServeConfig['record'];
}

export async function cutoverRoutes(app: FastifyInstance, options: CutoverRoutesOptions): Promise<void> {
  const { sessions, cutovers: c, reader } = options;
  const records = options.record ? new RecordLines(c, options.record) : undefined;

  app.get('/', async (req, reply) => {
    const login = sessions.require(req, reply);
    if (!login) return reply;
    const [waiting, running] = await Promise.all([
      list(c, { state: 'awaiting-signoff' }),
      list(c).then((all) => all.filter((x) => x.status === 'RUNNING' && x.state !== 'awaiting-signoff')),
    ]);
    return html(reply, 200, listPage(sessions.viewer(reply, login), waiting, running));
  });

  app.get('/cutovers/:id', async (req, reply) => {
    const login = sessions.require(req, reply);
    if (!login) return reply;
    const s = await reader.statusOr404(req, reply, login);
    if (!s) return reply;
    // With the workers' key configured, the record's digest and whether it verified, as an auditor would see it.
    const record = records
      ? await records.of(s.workflowId).catch((err: unknown) => ({
          digest: '(not exported)',
          keyId: options.record?.CUTOVER_WORKER_KEY_ID ?? 'workers',
          verified: false,
          detail: (err as Error).message.split('\n')[0] ?? 'the export failed',
        }))
      : undefined;
    return html(
      reply,
      200,
      cutoverPage(s, sessions.viewer(reply, login), { roles: rolesFor(login, s.roleGroups, s.gate.roles), record }),
    );
  });

  app.get('/cutovers/:id/live', async (req, reply) => {
    const login = sessions.of(req);
    if (!login) return reply.code(401).send({ error: 'signed out' });
    const id = workflowIdSchema.safeParse((req.params as { id?: string }).id);
    if (!id.success) return reply.code(400).send({ error: issueMessage(id.error) });
    const s = await reader.quickStatus(id.data).catch((err: unknown) => {
      if (err instanceof UserError) return undefined;
      throw err;
    });
    if (!s) return reply.code(404).send({ error: `no cutover with id ${id.data}` });
    return reply
      .header('cache-control', 'no-store')
      .send({ version: liveVersion(s), phase: s.phase, state: s.state, gate: s.gate.status, final: isFinal(s.state) });
  });
}
