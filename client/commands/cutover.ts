/**
 * The commands of a cutover's life: start, status, approve and reject, rollback, what-if, cancel, list, report.
 */
import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { loadPlan } from '../../plan/load';
import { isFinal, STATES } from '../../shapes/status';
import { UserError } from '../../lib/errors';
import { markdownReport, renderStatus, renderWhatIf } from '../../lib/format';
import { htmlReport } from '../../lib/html-report';
import type { WhatIfResult } from '../../lib/what-if';
import { me, print, uiLink, withClient } from './common';

/** The client library, loaded by the commands that connect (a refused plan never loads the Temporal client). */
const api = () => import('../../lib/api.js');

export function cutoverCommands(program: Command): void {
  program
    .command('start')
    .argument('<file>', 'plan file (YAML or JSON)')
    .option('--id <id>', 'workflow id (default cutover-<release>)')
    .option('--as <name>', "who starts it (may not sign it off); default: the plan's initiator or your user name")
    .option('--dry-run', 'validate only; start nothing')
    .option('--json', 'print JSON')
    .description('validate a plan and start its cutover')
    .addHelpText('after', '\nExample:\n  cutover start examples/portfolio-kpi/plan.yaml --as rm')
    .action(async (file: string, o: { id?: string; as?: string; dryRun?: boolean; json?: boolean }) => {
      const loaded = await loadPlan(file);
      const p = { ...loaded, initiator: o.as ?? loaded.initiator ?? me() };
      if (o.dryRun) {
        print(
          !!o.json,
          { valid: true, release: p.release, dryRun: true },
          () => `${file}: valid; --dry-run, nothing started`,
        );
        return;
      }
      const { awaitPlanCheck, startCutover } = await api();
      await withClient(async (c) => {
        const handle = await startCutover(c, p, o.id ? { workflowId: o.id } : {});
        const link = uiLink(c.namespace, handle.workflowId);
        // The workers check the plan again, against their policy: say at once if they refuse it.
        const check = await awaitPlanCheck(c, handle.workflowId);
        if (check.outcome === 'refused') {
          throw new UserError(`${handle.workflowId} was refused at the workers' plan check: ${check.message}`);
        }
        print(
          !!o.json,
          { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, ui: link, planCheck: check.outcome },
          () =>
            [
              `started ${handle.workflowId}`,
              ...(check.outcome === 'pending'
                ? ['  the plan check has not answered yet: is a worker polling the task queue?']
                : []),
              `  UI:   ${link}`,
              `  next: cutover status ${handle.workflowId} --watch`,
            ].join('\n'),
        );
      });
    });

  program
    .command('status')
    .argument('<id>', 'workflow id')
    .option('--watch', 'redraw on change until the cutover ends')
    .option('--json', 'print JSON')
    .description('phases, the gate and the latest audit entries')
    .addHelpText('after', '\nExample:\n  cutover status cutover-portfolio-kpi-v2 --watch')
    .action(async (id: string, o: { watch?: boolean; json?: boolean }) => {
      const { status } = await api();
      await withClient(async (c) => {
        let last = '';
        for (;;) {
          const s = await status(c, id);
          const text = o.json ? JSON.stringify(s, null, 2) : renderStatus(s);
          if (text !== last) {
            if (o.watch && !o.json && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
            process.stdout.write(text + '\n');
            last = text;
          }
          if (!o.watch || isFinal(s.state)) return;
          await new Promise((r) => setTimeout(r, 1000));
        }
      });
    });

  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(decision)
      .argument('<id>', 'workflow id')
      .requiredOption('--role <role>', 'the role you sign for')
      .requiredOption('--as <name>', 'your approver name')
      .option('--comment <text>', 'why')
      .option('--key <file>', 'your ed25519 private key: signs the sign-off')
      .option('--json', 'print JSON')
      .description(
        `${decision} a cutover for one role (through the submitSignOff update: you learn at once whether it counted)`,
      )
      .addHelpText(
        'after',
        `\nExample:\n  cutover ${decision} cutover-portfolio-kpi-v2 --role qa --as bo${decision === 'reject' ? ' --comment "PAR90 moved"' : ''}`,
      )
      .action(async (id: string, o: { role: string; as: string; comment?: string; key?: string; json?: boolean }) => {
        const { readPrivateKey, submitSignOff } = await api();
        const privateKey = o.key ? await readPrivateKey(o.key) : undefined;
        await withClient(async (c) => {
          const answer = await submitSignOff(
            c,
            id,
            { role: o.role, approver: o.as, decision, ...(o.comment ? { comment: o.comment } : {}) },
            privateKey ? { privateKey } : {},
          );
          if (!answer.accepted && !o.json) throw new UserError(`sign-off refused (${answer.rule}): ${answer.reason}`);
          print(!!o.json, answer, () => {
            const missing = answer.gate.roles.filter((r) => r.missing > 0).map((r) => r.role);
            return `${decision} for ${o.role} by ${o.as} counted; gate ${answer.gate.status}${missing.length ? `; still missing: ${missing.join(', ')}` : ''}`;
          });
          if (!answer.accepted) throw new UserError(`sign-off refused (${answer.rule}): ${answer.reason}`);
        });
      });
  }

  program
    .command('break-glass')
    .argument('<id>', 'workflow id')
    .requiredOption('--role <role>', "the policy's break-glass role, or your role in the plan (the second person)")
    .requiredOption('--as <name>', 'your name as the policy or the plan lists it')
    .requiredOption('--reason <text>', 'why production must change now')
    .option('--key <file>', 'your ed25519 private key: signs it (or break the glass in the approval app, attested)')
    .option('--json', 'print JSON')
    .description(
      "let a change to production that waits for the change window go now: one of the policy's break-glass role and a second person",
    )
    .addHelpText(
      'after',
      '\nExample:\n  cutover break-glass cutover-portfolio-kpi-v2 --role incident-commander --as ivy --key ivy.key \\\n    --reason "INC-4711: V1 corrupts PAR90 since the rate change"',
    )
    .action(async (id: string, o: { role: string; as: string; reason: string; key?: string; json?: boolean }) => {
      const { readPrivateKey, submitBreakGlass } = await api();
      const privateKey = o.key ? await readPrivateKey(o.key) : undefined;
      await withClient(async (c) => {
        const answer = await submitBreakGlass(
          c,
          id,
          { role: o.role, approver: o.as, reason: o.reason },
          privateKey ? { privateKey } : {},
        );
        if (!answer.accepted && !o.json) throw new UserError(`break-glass refused (${answer.rule}): ${answer.reason}`);
        print(!!o.json, answer, () =>
          answer.broken
            ? `break-glass by ${o.as} (${o.role}) counted: the change goes ahead now`
            : `break-glass by ${o.as} (${o.role}) counted; it takes a second person (or the break-glass role) too`,
        );
        if (!answer.accepted) throw new UserError(`break-glass refused (${answer.rule}): ${answer.reason}`);
      });
    });

  program
    .command('rollback')
    .argument('<id>', 'workflow id')
    .requiredOption('--reason <text>', 'why')
    .option('--as <name>', 'who asks (default: your user name)')
    .description('roll back now: after the production deploy its undo runs; before it, the cutover stops cleanly')
    .addHelpText(
      'after',
      '\nExample:\n  cutover rollback cutover-portfolio-kpi-v2 --reason "PAR30 spike in the dashboard"',
    )
    .action(async (id: string, o: { reason: string; as?: string }) => {
      const { requestRollback } = await api();
      await withClient(async (c) => {
        await requestRollback(c, id, o.as ?? me(), o.reason);
        process.stdout.write(`rollback requested for ${id}; follow it with: cutover status ${id} --watch\n`);
      });
    });

  program
    .command('what-if')
    .argument('[ids...]', 'workflow ids of finished or running cutovers')
    .requiredOption('--plan <file>', 'the plan whose checks to judge the recorded evidence by')
    .option('--policy <file>', "a workers' policy whose change calendar says when the deploy would have gone ahead")
    .option('--all', 'every cutover (with --query: every one it finds)')
    .option('--query <query>', 'a visibility query, such as \'CutoverState = "completed"\'')
    .option('--json', 'print JSON')
    .description('judge recorded evidence under another plan: every verdict that would change (reads only)')
    .addHelpText(
      'after',
      '\nExamples:\n  cutover what-if cutover-portfolio-kpi-v2 --plan tighter.yaml\n' +
        '  cutover what-if --all --query \'CutoverState = "completed"\' --plan tighter.yaml --json',
    )
    .action(
      async (ids: string[], o: { plan: string; policy?: string; all?: boolean; query?: string; json?: boolean }) => {
        const next = await loadPlan(o.plan);
        const calendar = o.policy ? await policyCalendar(o.policy, next.release) : undefined;
        const { whatIf } = await import('../../lib/what-if.js');
        await withClient(async (c) => {
          const { cutoversMatching, recordedEvidence } = await api();
          let targets = ids;
          if (o.all || o.query !== undefined) targets = [...ids, ...(await cutoversMatching(c, o.query))];
          if (targets.length === 0)
            throw new UserError(
              o.query !== undefined ? `no cutover matches ${o.query}` : 'name at least one workflow id, or --all',
            );
          const results: WhatIfResult[] = [];
          for (const id of targets) results.push(whatIf(await recordedEvidence(c, id), next, calendar));
          print(!!o.json, results, () => renderWhatIf(results, o.plan));
        });
      },
    );

  program
    .command('cancel')
    .argument('<id>', 'workflow id')
    .description('cancel a cutover (its compensations still run)')
    .addHelpText('after', '\nExample:\n  cutover cancel cutover-portfolio-kpi-v2')
    .action(async (id: string) => {
      const { cancel } = await api();
      await withClient(async (c) => {
        await cancel(c, id);
        process.stdout.write(`cancellation requested for ${id}\n`);
      });
    });

  program
    .command('list')
    .addOption(new Option('--state <state>', 'only this state').choices([...STATES]))
    .option('--release <release>', 'only this release')
    .option('--json', 'print JSON')
    .description('cutovers, found by their search attributes')
    .addHelpText('after', '\nExample:\n  cutover list --state awaiting-signoff')
    .action(async (o: { state?: string; release?: string; json?: boolean }) => {
      const { list } = await api();
      await withClient(async (c) => {
        const rows = await list(c, {
          ...(o.state ? { state: o.state } : {}),
          ...(o.release ? { release: o.release } : {}),
        });
        print(!!o.json, rows, () =>
          rows.length === 0
            ? 'no cutovers'
            : rows
                .map(
                  (r) =>
                    `${r.workflowId}  ${r.release ?? ''}  ${r.phase ?? ''}  ${r.state ?? ''}  ${r.status}  ${r.startTime}`,
                )
                .join('\n'),
        );
      });
    });

  program
    .command('report')
    .argument('<id>', 'workflow id')
    .addOption(new Option('--format <format>', 'report format').choices(['md', 'json', 'html']).default('md'))
    .option('--out <file>', 'write to a file instead of stdout')
    .description('the evidence of every phase')
    .addHelpText('after', '\nExample:\n  cutover report cutover-portfolio-kpi-v2 --format html --out report.html')
    .action(async (id: string, o: { format: 'md' | 'json' | 'html'; out?: string }) => {
      const { status } = await api();
      await withClient(async (c) => {
        const s = await status(c, id);
        // Where the workers' key is configured, the html report says the record's digest and whether it verified.
        const record =
          o.format === 'html'
            ? await (await import('../../lib/record-export.js')).recordLine(c, id).catch((err: unknown) => ({
                digest: '(not exported)',
                keyId: process.env.CUTOVER_WORKER_KEY_ID ?? 'workers',
                verified: false,
                detail: (err as Error).message.split('\n')[0] ?? 'the export failed',
              }))
            : undefined;
        const text =
          o.format === 'json'
            ? JSON.stringify(s, null, 2) + '\n'
            : o.format === 'html'
              ? htmlReport(s, record)
              : markdownReport(s);
        if (o.out) {
          await writeFile(o.out, text);
          process.stdout.write(`wrote ${o.out}\n`);
        } else process.stdout.write(text);
      });
    });
}

/** The change calendar a policy file gives `release` (what-if's `--policy`); a file that does not load is named. */
async function policyCalendar(file: string, release: string) {
  const { loadPolicy, PolicyError } = await import('../../policy/load.js');
  const { rulesFor } = await import('../../policy/schema.js');
  try {
    return rulesFor(loadPolicy(file).policy, release)?.calendar;
  } catch (err) {
    if (err instanceof PolicyError) throw new UserError(err.message);
    throw err;
  }
}
