#!/usr/bin/env node
/**
 * cutover: the release manager's and approver's command line.
 *
 * Exit codes: 0 done; 1 refused or failed (a bad plan, a refused sign-off, an unknown cutover, a server
 * that does not answer); 2 usage.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { userInfo } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { ed25519 } from '@noble/curves/ed25519';
import { toMs } from '../plan/duration';
import { workerEnv, WORKER_NODE_OPTIONS } from '../common/worker-process';
import { loadPlan, PlanError } from '../plan/load';
import { validatePlan } from '../plan/schema';
import { canonicalJson } from '../plan/canonical';
import { isFinal, PHASES, STATES } from '../shapes/status';
import {
  awaitPlanCheck,
  cancel,
  connect,
  type Cutovers,
  list,
  readPrivateKey,
  requestRollback,
  startCutover,
  status,
  submitSignOff,
  UserError,
} from './api';
import { markdownReport, renderStatus, renderWhatIf } from './format';
import type { WhatIfResult } from './what-if';
import { htmlReport } from './html-report';

const UI_URL = process.env.CUTOVER_UI_URL ?? 'http://127.0.0.1:8233';

function uiLink(namespace: string, workflowId: string): string {
  return `${UI_URL}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

function me(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

async function withClient<T>(fn: (c: Cutovers) => Promise<T>): Promise<T> {
  const c = await connect();
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** A signed plan read back as the workflow will read it must be exactly what was signed. */
function validateSigned(signed: unknown): void {
  const again = validatePlan(JSON.parse(JSON.stringify(signed)));
  if (!again.ok || canonicalJson(again.plan) !== canonicalJson(signed)) {
    throw new Error('the signed plan does not read back as signed (a bug in cutover plan sign)');
  }
}

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text() + '\n');
}

const program = new Command('cutover')
  .description(`Durable V1 → V2 cutovers on Temporal: ${PHASES.join(', ')}`)
  .showHelpAfterError()
  .exitOverride();

const plan = program.command('plan').description('work with plan files');
plan
  .command('validate')
  .argument('<file>', 'plan file (YAML or JSON)')
  .option('--policy <file>', "also check it against an organisation policy, as the workers' plan check will")
  .option('--json', 'print JSON')
  .description('check a plan; every problem is listed by its path')
  .addHelpText(
    'after',
    '\nExamples:\n  cutover plan validate examples/portfolio-kpi/plan.yaml\n' +
      '  cutover plan validate examples/portfolio-kpi/plan.yaml --policy examples/portfolio-kpi/policy.yaml',
  )
  .action(async (file: string, o: { json?: boolean; policy?: string }) => {
    const p = await loadPlan(file);
    let digest: string | undefined;
    if (o.policy !== undefined) {
      const { checkPlanAgainstPolicy } = await import('../plan/policy.js');
      const { fileSystemResolver, loadPolicy, PolicyError } = await import('../plan/policy-load.js');
      let policy;
      try {
        policy = loadPolicy(o.policy);
      } catch (err) {
        if (err instanceof PolicyError) throw new PlanError(o.policy, err.problems);
        throw err;
      }
      const { problems } = checkPlanAgainstPolicy(p, policy, fileSystemResolver);
      if (problems.length > 0) throw new PlanError(`${file} (against policy ${o.policy})`, problems);
      digest = policy.digest;
    }
    print(
      !!o.json,
      { valid: true, release: p.release, ...(digest ? { policyDigest: digest } : {}) },
      () =>
        `${file}: valid plan for release ${p.release} (${Object.keys(p.signoff.roles).length} sign-off roles)` +
        (digest ? `, within policy ${o.policy} (digest ${digest.slice(0, 12)})` : ''),
    );
  });

plan
  .command('schema')
  .option('--out <file>', 'write it to a file instead of standard output')
  .description("print the plan's JSON Schema (generated from the zod schema), for editors")
  .addHelpText(
    'after',
    '\nName it at the top of a plan file and VS Code (or any YAML language server) completes and checks it:\n' +
      '  # yaml-language-server: $schema=./cutover-plan.schema.json\n' +
      '\nRules across fields (quorums, declared metrics, outputs) are checked by `cutover plan validate` only.\n' +
      '\nExample:\n  cutover plan schema --out cutover-plan.schema.json',
  )
  .action(async (o: { out?: string }) => {
    const { planJsonSchema } = await import('../plan/json-schema.js');
    const text = JSON.stringify(planJsonSchema(), null, 2) + '\n';
    if (o.out) {
      await writeFile(o.out, text);
      process.stdout.write(`${o.out}: the plan's JSON Schema\n`);
    } else process.stdout.write(text);
  });

plan
  .command('init')
  .option('--out <file>', 'where to write it', 'plan.yaml')
  .option('--release <name>', "the release's name", 'my-pipeline-v2')
  .option('--force', 'overwrite an existing file')
  .description('write a commented starting plan that validates')
  .addHelpText('after', '\nExample:\n  cutover plan init --out plan.yaml --release orders-v2')
  .action(async (o: { out: string; release: string; force?: boolean }) => {
    const { initPlan } = await import('../plan/init-plan.js');
    const text = initPlan(o.release);
    const { parsePlanText, planFromDocument } = await import('../plan/load.js');
    // What it writes must validate: a release name the schema refuses is said before anything is written.
    planFromDocument(parsePlanText(text, o.out), o.out, process.cwd());
    try {
      await writeFile(o.out, text, { flag: o.force ? 'w' : 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new UserError(`${o.out}: exists (--force overwrites it)`);
      throw err;
    }
    process.stdout.write(
      `${o.out}: a starting plan for ${o.release}; replace its commands, then cutover plan validate ${o.out}\n`,
    );
  });

plan
  .command('sign')
  .argument('<file>', 'plan file (YAML or JSON)')
  .requiredOption('--key <file>', "the release manager's ed25519 private key (cutover keygen)")
  .requiredOption('--key-id <id>', "the key's id, as the workers' policy lists it under releaseManagers")
  .option('--signer <name>', "who signs (the key holder); becomes the cutover's initiator", me())
  .option('--expires <duration>', 'how long the signature holds', '7d')
  .option('--out <file>', 'where to write the signed plan (JSON; default <file> with .signed.json)')
  .description('sign a plan for workers whose policy requires signed plans; the signed file starts as it is')
  .addHelpText(
    'after',
    '\nThe signed plan is the validated plan (defaults filled in, paths absolute) with a `signature` field; start\n' +
      'it with `cutover start FILE` or `temporal workflow start --type cutoverWorkflow --input-file FILE`.\n' +
      '\nExample:\n  cutover plan sign plan.yaml --key ~/.cutover/rm.key --key-id rm-2026 --expires 3d',
  )
  .action(async (file: string, o: { key: string; keyId: string; signer: string; expires: string; out?: string }) => {
    const { signPlan } = await import('../plan/signing.js');
    const ms = toMs(o.expires);
    if (!(ms > 0)) throw new UserError(`--expires ${o.expires}: expected a duration such as 3d or 12h`);
    const loaded = await loadPlan(file);
    const privateKey = await readPrivateKey(o.key);
    const by = { keyId: o.keyId, signer: o.signer, expiresAt: new Date(Date.now() + ms).toISOString() };
    const signed = signPlan(loaded, privateKey, by);
    // The signed form must load back to exactly what was signed: check it before writing it.
    validateSigned(signed);
    const out = o.out ?? file.replace(/\.(ya?ml|json)$/i, '') + '.signed.json';
    await writeFile(out, JSON.stringify(signed, null, 2) + '\n');
    process.stdout.write(`${out}: ${loaded.release} signed by ${o.signer} (key ${o.keyId}) until ${by.expiresAt}\n`);
  });

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
    await withClient(async (c) => {
      await requestRollback(c, id, o.as ?? me(), o.reason);
      process.stdout.write(`rollback requested for ${id}; follow it with: cutover status ${id} --watch\n`);
    });
  });

program
  .command('what-if')
  .argument('[ids...]', 'workflow ids of finished or running cutovers')
  .requiredOption('--plan <file>', 'the plan whose checks to judge the recorded evidence by')
  .option('--all', 'every cutover (with --query: every one it finds)')
  .option('--query <query>', 'a visibility query, such as \'CutoverState = "completed"\'')
  .option('--json', 'print JSON')
  .description('judge recorded evidence under another plan: every verdict that would change (reads only)')
  .addHelpText(
    'after',
    '\nExamples:\n  cutover what-if cutover-portfolio-kpi-v2 --plan tighter.yaml\n' +
      '  cutover what-if --all --query \'CutoverState = "completed"\' --plan tighter.yaml --json',
  )
  .action(async (ids: string[], o: { plan: string; all?: boolean; query?: string; json?: boolean }) => {
    const next = await loadPlan(o.plan);
    const { whatIf } = await import('./what-if.js');
    await withClient(async (c) => {
      const { cutoversMatching, recordedEvidence } = await import('./api.js');
      let targets = ids;
      if (o.all || o.query !== undefined) targets = [...ids, ...(await cutoversMatching(c, o.query))];
      if (targets.length === 0)
        throw new UserError(
          o.query !== undefined ? `no cutover matches ${o.query}` : 'name at least one workflow id, or --all',
        );
      const results: WhatIfResult[] = [];
      for (const id of targets) results.push(whatIf(await recordedEvidence(c, id), next));
      print(!!o.json, results, () => renderWhatIf(results, o.plan));
    });
  });

const reference = program
  .command('reference')
  .description("reference runs: the pinned run per pipeline that later cutovers' shadow and stress are shown against");
reference
  .command('set')
  .argument('<id>', "a finished cutover's workflow id")
  .requiredOption('--pipeline <name>', "the pipeline it is the reference of (a plan's `pipeline`)")
  .option('--as <name>', 'who pins it', me())
  .description('pin a run as the reference of a pipeline')
  .addHelpText('after', '\nExample:\n  cutover reference set cutover-portfolio-kpi-v2 --pipeline portfolio-kpi')
  .action(async (id: string, o: { pipeline: string; as: string }) => {
    await withClient(async (c) => {
      const { pinReference } = await import('./api.js');
      await pinReference(c, o.pipeline, id, o.as);
      process.stdout.write(`${id} is the reference of pipeline ${o.pipeline}\n`);
    });
  });
reference
  .command('mark-bad')
  .argument('<id>', "a cutover's workflow id")
  .requiredOption('--reason <text>', 'why it must never be a reference')
  .option('--as <name>', 'who marks it', me())
  .description('mark a run as bad: it is never used as a reference')
  .action(async (id: string, o: { reason: string; as: string }) => {
    await withClient(async (c) => {
      const { markBad } = await import('./api.js');
      await markBad(c, id, o.reason, o.as);
      process.stdout.write(`${id} is marked bad: never a reference\n`);
    });
  });
reference
  .command('list')
  .option('--json', 'print JSON')
  .description('the pinned references and the runs marked bad')
  .action(async (o: { json?: boolean }) => {
    await withClient(async (c) => {
      const { references } = await import('./api.js');
      const r = await references(c);
      print(
        !!o.json,
        r,
        () =>
          [
            ...Object.entries(r.pinned).map(([p, m]) => `pinned  ${p}: ${m.workflowId} (by ${m.by}, ${m.at})`),
            ...Object.entries(r.bad).map(([id, m]) => `bad     ${id} (by ${m.by}, ${m.at}): ${m.reason ?? ''}`),
          ].join('\n') || 'no references pinned, no runs marked bad',
      );
    });
  });

program
  .command('cancel')
  .argument('<id>', 'workflow id')
  .description('cancel a cutover (its compensations still run)')
  .addHelpText('after', '\nExample:\n  cutover cancel cutover-portfolio-kpi-v2')
  .action(async (id: string) => {
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
    await withClient(async (c) => {
      const s = await status(c, id);
      const text =
        o.format === 'json'
          ? JSON.stringify(s, null, 2) + '\n'
          : o.format === 'html'
            ? htmlReport(s)
            : markdownReport(s);
      if (o.out) {
        await writeFile(o.out, text);
        process.stdout.write(`wrote ${o.out}\n`);
      } else process.stdout.write(text);
    });
  });

program
  .command('keygen')
  .requiredOption('--out <file>', 'where to write the private key (hex)')
  .description('make an ed25519 key pair for signed sign-offs; prints the public key for the plan')
  .addHelpText('after', '\nExample:\n  cutover keygen --out ~/.cutover/bo.key')
  .action(async (o: { out: string }) => {
    const secret = ed25519.utils.randomPrivateKey();
    await writeFile(o.out, Buffer.from(secret).toString('hex') + '\n', { mode: 0o600 });
    process.stdout.write(`${Buffer.from(ed25519.getPublicKey(secret)).toString('hex')}\n`);
  });

program
  .command('codec-server')
  .description('serve /decode and /encode for the Temporal UI and the temporal CLI (key from CUTOVER_CODEC_KEY)')
  .option('--port <port>', 'port on 127.0.0.1', '8089')
  .option('--origin <url...>', "the UI's origin, allowed by CORS", ['http://127.0.0.1:8233', 'http://localhost:8233'])
  .addHelpText(
    'after',
    '\nThe token is read from CUTOVER_CODEC_TOKEN (at least 16 characters). Callers send\n' +
      '"Authorization: Bearer <token>", or use http://127.0.0.1:<port>/<token> as the endpoint.\n' +
      '\nExample:\n  CUTOVER_CODEC_TOKEN=$(openssl rand -hex 24) cutover codec-server --port 8089',
  )
  .action(async (o: { port: string; origin: string[] }) => {
    const { codecFromEnv } = await import('../codec/aes-gcm.js');
    const { serveCodec } = await import('../codec/server.js');
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`--port ${o.port}: expected 1–65535`);
    let codec;
    try {
      codec = codecFromEnv();
    } catch (err) {
      throw new UserError((err as Error).message);
    }
    if (!codec) throw new UserError('CUTOVER_CODEC_KEY is not set: the codec server needs the payload key');
    const token = process.env.CUTOVER_CODEC_TOKEN ?? '';
    if (token.length < 16) throw new UserError('CUTOVER_CODEC_TOKEN: expected a token of at least 16 characters');
    await serveCodec({
      codec,
      token,
      origins: o.origin,
      port,
      onRequest: (e) => process.stderr.write(`${e.method} ${e.path} ${e.status} (${e.payloads} payloads)\n`),
    });
    process.stdout.write(`codec server on http://127.0.0.1:${port} (key id ${codec.activeKeyId})\n`);
  });

program
  .command('serve')
  .description('the approval web app: approvers sign in with the OpenID provider, see the evidence and sign off')
  .option('--port <port>', 'port to listen on (CUTOVER_SERVE_PORT, default 4400)')
  .option('--dev', 'dev mode: make up a session secret and an attester key where none is set; no Secure cookies')
  .addHelpText(
    'after',
    '\nConfiguration from the environment: CUTOVER_OIDC_ISSUER, CUTOVER_OIDC_CLIENT_ID, CUTOVER_OIDC_CLIENT_SECRET,\n' +
      'CUTOVER_SESSION_SECRET, CUTOVER_ATTESTER_KEY_ID, CUTOVER_ATTESTER_KEY_FILE, CUTOVER_OIDC_USER_CLAIM,\n' +
      'CUTOVER_APPROVAL_URL (see docs/approval.md), and TEMPORAL_* for the cluster.\n' +
      '\nExample:\n  CUTOVER_OIDC_ISSUER=https://login.example.org CUTOVER_OIDC_CLIENT_ID=cutover ... cutover serve',
  )
  .action(async (o: { port?: string; dev?: boolean }) => {
    const { serve } = await import('../approval/serve.js');
    const { ServeConfigError } = await import('../approval/config.js');
    const port = o.port === undefined ? undefined : Number(o.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      throw new UserError(`--port ${o.port}: expected 0–65535`);
    }
    let app: { url: string; close(): Promise<void> };
    try {
      app = await serve(process.env, { dev: o.dev ?? false, ...(port !== undefined ? { port } : {}) });
    } catch (err) {
      if (err instanceof ServeConfigError) throw new UserError(err.message);
      throw new UserError(`serve: ${(err as Error).message}`);
    }
    process.stdout.write(`approvals ready ${app.url}\n`);
    const stop = () => void app.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });

program
  .command('dev')
  .description('the local stack: Temporal dev server (UI on 8233) and a worker, until Ctrl-C')
  .option('--example', 'also start the example cutover')
  .addHelpText('after', '\nExample:\n  cutover dev --example')
  .action(async (o: { example?: boolean }) => {
    // The dev stack is an entry point of its own (npm start runs it too): run it as a child, not as a library.
    const { spawn } = await import('node:child_process');
    const script = path.join(__dirname, '..', 'scripts', 'dev.js');
    const child = spawn(process.execPath, [script, ...(o.example ? ['--example'] : [])], { stdio: 'inherit' });
    // Ctrl-C reaches the child through the terminal's process group; a plain SIGTERM to this process is passed on.
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    process.on('SIGINT', () => undefined);
    const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    process.exitCode = code;
  });

program
  .command('worker')
  .description('run a cutover worker here (what `npm run worker` runs): TEMPORAL_* and CUTOVER_* from the environment')
  .addHelpText(
    'after',
    '\nExamples:\n  TEMPORAL_ADDRESS=temporal.internal:7233 CUTOVER_DATA_DIR=/var/lib/cutover cutover worker\n' +
      '  cutover worker --environment production   # only production work, on its queue',
  )
  .option(
    '--environment <names>',
    'what to serve: all (default), or a comma-separated list of orchestrator, staging, production, compute (CUTOVER_ENVIRONMENT)',
  )
  .action(async (options: { environment?: string }) => {
    // The worker is an entry point of its own, started with its Node options and environment
    // (common/worker-process.ts); signals are passed on, and its exit code is this command's.
    const { spawn } = await import('node:child_process');
    const script = path.join(__dirname, '..', 'worker', 'main.js');
    const args = options.environment !== undefined ? ['--environment', options.environment] : [];
    const child = spawn(process.execPath, [...WORKER_NODE_OPTIONS, script, ...args], {
      env: workerEnv(process.env),
      stdio: 'inherit',
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
    const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    process.exitCode = code;
  });

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    if (err instanceof PlanError) {
      process.stderr.write(`cutover: ${err.message}\n`);
      process.exit(1);
    }
    if (err instanceof UserError) {
      process.stderr.write(`cutover: ${err.message}\n`);
      process.exit(1);
    }
    if (/binary\/encrypted/.test((err as Error).message)) {
      process.stderr.write(
        "cutover: this cutover's payloads are encrypted: set CUTOVER_CODEC_KEY (and CUTOVER_CODEC_KEY_ID) to read them\n",
      );
      process.exit(1);
    }
    process.stderr.write(`cutover: unexpected error (a bug): ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
}

void main();
