/**
 * The worker's configuration: read once from the environment, checked with zod, frozen. A bad value
 * stops the worker at start with one line naming the variable and what it expected.
 */
import path from 'node:path';
import { z } from 'zod';
import { envIssueLine } from '../common/env-issue';
import { DEFAULT_TASK_QUEUE } from '../shapes/queues';
import { toMs } from '../plan/duration';
import { ENVIRONMENTS, environmentQueues, type Environment, type EnvironmentQueues } from '../plan/environments';
import type { AttestationSettings } from '../activities';
import { curve, decodePublicKey, parseKeyPairs } from '../plan/keys';
import { readPrivateKeyFile } from '../common/key-file';
import type { SealKeys } from '../activities/seal';
import { parseRoleGroups, type RoleGroups } from '../plan/role-groups';
import type { ResolvedPolicy } from '../policy/schema';
import { loadPolicy, PolicyError } from '../policy/load';

const duration = z.string().refine((v) => toMs(v) > 0, { error: 'expected a duration such as 30s' });
const intFrom = (min: number, max: number) =>
  z.string().regex(/^\d+$/, { error: 'expected a whole number' }).transform(Number).pipe(z.int().min(min).max(max));

export const envSchema = z.object({
  CUTOVER_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE).describe('Task queue the worker polls'),
  CUTOVER_ENVIRONMENT: z
    .string()
    .regex(/^(all|orchestrator|staging|production|compute)(,(orchestrator|staging|production|compute))*$/, {
      error: 'expected all, or a comma-separated list of orchestrator, staging, production, compute',
    })
    .default('all')
    .describe(
      "What the worker serves: orchestrator (the workflows and the task queue's activities), and each environment's queue (`npm run worker -- --environment NAME`)",
    ),
  CUTOVER_DATA_DIR: z.string().min(1).default('.data').describe('Datasets and working files, one folder per cutover'),
  CUTOVER_LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])
    .default('info')
    .describe('pino log level'),
  CUTOVER_METRICS_PORT: intFrom(0, 65535).default(0).describe('Prometheus /metrics port on 127.0.0.1 (0: off)'),
  CUTOVER_SDK_METRICS_PORT: intFrom(0, 65535)
    .default(0)
    .describe("The Temporal SDK's own Prometheus endpoint on 127.0.0.1 (0: a free port, appended to /metrics)"),
  CUTOVER_MAX_ACTIVITIES: intFrom(1, 1000).default(8).describe('Activities run at once'),
  CUTOVER_MAX_WORKFLOW_TASKS: intFrom(1, 1000).default(20).describe('Workflow tasks run at once'),
  CUTOVER_MAX_CACHED_WORKFLOWS: intFrom(0, 100_000)
    .optional()
    .describe('Workflows kept in memory between tasks (default: the SDK picks from the memory available)'),
  CUTOVER_STICKY_TIMEOUT: duration
    .default('10s')
    .describe(
      "How long a cached cutover's next workflow task (and a query) waits for this worker before any worker may take it",
    ),
  CUTOVER_SHUTDOWN_GRACE: duration
    .default('30s')
    .describe('On SIGTERM, how long running activities may take to finish'),
  CUTOVER_POLICY: z
    .string()
    .min(1)
    .optional()
    .describe('The organisation policy file (YAML) that binds every plan; unset: plans are their own judge'),
  CUTOVER_ATTESTER_KEYS: z
    .string()
    .optional()
    .describe(
      'The approval apps whose attestations count: KEYID=PUBLICKEY pairs, comma-separated (ed25519, hex or base64)',
    ),
  CUTOVER_WORKER_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The workers' ed25519 private key (32 bytes, hex or base64): the plan check seals each plan it accepts with it; required with CUTOVER_POLICY on a worker that runs the workflows",
    ),
  CUTOVER_WORKER_KEY_ID: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, { error: 'expected a key id (letters, digits, . _ : -)' })
    .default('workers')
    .describe('The key id of CUTOVER_WORKER_KEY_FILE, named in every seal (a new id for a new key)'),
  CUTOVER_WORKER_KEYS: z
    .string()
    .optional()
    .describe(
      "Other workers' keys whose seals count: KEYID=PUBLICKEY pairs, comma-separated (the previous key while cutovers sealed with it run; an environment worker that holds no private key)",
    ),
  CUTOVER_REQUIRE_ATTESTED: z
    .enum(['true', 'false'])
    .default('false')
    .describe("true: only sign-offs attested by a trusted approval app or signed with the approver's key count"),
  CUTOVER_ROLE_GROUPS: z
    .string()
    .optional()
    .describe(
      "Which of the organisation's groups hold which sign-off role, for the approval app's login: role=group|group pairs, comma-separated (qa=risk-qa,business=biz-owners); the policy's roles.<role>.groups take a role over",
    ),
  CUTOVER_ATTESTATION_MAX_AGE: duration.default('10m').describe('How old an attestation may be when it arrives'),
  CUTOVER_APPROVAL_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
    .optional()
    .describe("The approval app's address: notifications link to <url>/cutovers/<workflow id>"),
  CUTOVER_DIFF_MEMORY: z
    .string()
    .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i, { error: 'expected a size such as 512MB or 2GB' })
    .default('1GB')
    .describe("DuckDB's memory_limit for output diffs: a larger diff spills to the cutover's work folder"),
  CUTOVER_DIFF_THREADS: intFrom(1, 256).default(2).describe('DuckDB threads for output diffs'),
  CUTOVER_ACTION_NICE: intFrom(0, 19)
    .default(0)
    .describe("Nice steps below the worker for the actions' processes but deploys and undos (0: the worker's)"),
  CUTOVER_WORKFLOW_BUNDLE: z
    .string()
    .optional()
    .describe('Prebuilt workflow bundle (default: dist/workflow-bundle.js when present)'),
});

export type WorkerConfig = Readonly<z.infer<typeof envSchema>> & {
  dataDir: string;
  /** Whether this worker runs the workflows and polls CUTOVER_TASK_QUEUE. */
  orchestrator: boolean;
  /** The environments whose queues this worker polls, with only their activities. */
  environments: readonly Environment[];
  /** Every environment's queue (the policy's, else `<CUTOVER_TASK_QUEUE>-<name>`). */
  queues: EnvironmentQueues;
  /** The trusted attesters and whether sign-offs must be attested (CUTOVER_ATTESTER_KEYS, …). */
  attestation: AttestationSettings;
  /** The policy of CUTOVER_POLICY, read and checked at start. */
  policy?: ResolvedPolicy;
  /** The workers' seal keys (CUTOVER_WORKER_KEY_FILE, CUTOVER_WORKER_KEYS); none when neither is set. */
  seals?: SealKeys;
  /** The databases plans' outputs may name, by name: their URLs (CUTOVER_DATABASE_<NAME>), never in a plan. */
  databases: Record<string, string>;
};

/** A variable with a bad value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(envIssueLine(envSchema, env, parsed.error));
  let policy: ResolvedPolicy | undefined;
  if (parsed.data.CUTOVER_POLICY !== undefined) {
    try {
      policy = loadPolicy(parsed.data.CUTOVER_POLICY);
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      const problems = err.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
      throw new ConfigError(`CUTOVER_POLICY=${JSON.stringify(parsed.data.CUTOVER_POLICY)}: ${problems}`);
    }
  }
  const queues = environmentQueues(parsed.data.CUTOVER_TASK_QUEUE, policy?.policy.environments);
  for (const environment of ENVIRONMENTS) {
    if (queues[environment] === parsed.data.CUTOVER_TASK_QUEUE) {
      throw new ConfigError(
        `CUTOVER_POLICY=${JSON.stringify(parsed.data.CUTOVER_POLICY)}: environments.${environment}.taskQueue is CUTOVER_TASK_QUEUE ("${queues[environment]}"): an environment needs a queue of its own`,
      );
    }
  }
  const attesterKeys = keyPairs('CUTOVER_ATTESTER_KEYS', parsed.data.CUTOVER_ATTESTER_KEYS);
  const roleGroups = parseRoleGroups(parsed.data.CUTOVER_ROLE_GROUPS);
  if ('error' in roleGroups) throw new ConfigError(`CUTOVER_ROLE_GROUPS: ${String(roleGroups.error)}`);
  const served = parsed.data.CUTOVER_ENVIRONMENT.split(',');
  const all = served.includes('all');
  const orchestrator = all || served.includes('orchestrator');
  const seals = sealKeys(parsed.data, orchestrator && policy !== undefined, policy !== undefined);
  return Object.freeze({
    ...parsed.data,
    orchestrator,
    environments: ENVIRONMENTS.filter((environment) => all || served.includes(environment)),
    queues,
    attestation: {
      keys: attesterKeys,
      require: parsed.data.CUTOVER_REQUIRE_ATTESTED === 'true',
      maxAge: parsed.data.CUTOVER_ATTESTATION_MAX_AGE,
      roleGroups: roleGroups as RoleGroups,
    },
    dataDir: path.resolve(parsed.data.CUTOVER_DATA_DIR),
    databases: databasesFrom(env),
    ...(policy ? { policy } : {}),
    ...(seals ? { seals } : {}),
  });
}

/**
 * The databases of CUTOVER_DATABASE_<NAME>=postgres://user:password@host:port/db: a plan names one as `name`
 * (lower case), and only the workers hold its URL and credentials.
 */
export function databasesFrom(env: NodeJS.ProcessEnv): Record<string, string> {
  const databases: Record<string, string> = {};
  for (const [variable, value] of Object.entries(env)) {
    const match = /^CUTOVER_DATABASE_([A-Z][A-Z0-9_]{0,31})$/.exec(variable);
    if (!match || value === undefined) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError(`${variable}: expected a PostgreSQL URL such as postgres://user:password@host:5432/db`);
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new ConfigError(`${variable}: expected a postgres:// URL, not ${url.protocol}//`);
    }
    databases[(match[1] as string).toLowerCase()] = value;
  }
  return databases;
}

/** KEYID=PUBLICKEY pairs, comma-separated, as `variable` holds them; a bad pair is a ConfigError. */
function keyPairs(variable: string, text: string | undefined): Record<string, string> {
  try {
    return parseKeyPairs(variable, text);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/**
 * The workers' seal keys. A worker that holds a policy must seal (when it checks plans) and check seals (when it
 * runs actions): without them, whoever can start a workflow or poll the orchestrator's queue could hand an
 * environment's worker an action no plan check saw.
 */
function sealKeys(env: z.infer<typeof envSchema>, mustSign: boolean, mustVerify: boolean): SealKeys | undefined {
  const trusted: Record<string, Uint8Array> = {};
  for (const [id, key] of Object.entries(keyPairs('CUTOVER_WORKER_KEYS', env.CUTOVER_WORKER_KEYS))) {
    trusted[id] = decodePublicKey(key) as Uint8Array;
  }
  let signer: SealKeys['signer'];
  if (env.CUTOVER_WORKER_KEY_FILE !== undefined) {
    const read = readPrivateKeyFile('CUTOVER_WORKER_KEY_FILE', env.CUTOVER_WORKER_KEY_FILE);
    if ('problem' in read) throw new ConfigError(read.problem);
    signer = { keyId: env.CUTOVER_WORKER_KEY_ID, privateKey: read.key };
    trusted[env.CUTOVER_WORKER_KEY_ID] = curve().getPublicKey(read.key);
  }
  if (mustSign && !signer) {
    throw new ConfigError(
      "CUTOVER_WORKER_KEY_FILE: required with CUTOVER_POLICY on a worker that runs the workflows: its plan check seals every plan it accepts, and the environments' workers run nothing unsealed (docs/security.md)",
    );
  }
  if (mustVerify && Object.keys(trusted).length === 0) {
    throw new ConfigError(
      "CUTOVER_WORKER_KEY_FILE or CUTOVER_WORKER_KEYS: required with CUTOVER_POLICY: the worker runs only actions the workers' plan check sealed (docs/security.md)",
    );
  }
  return Object.keys(trusted).length > 0 ? { ...(signer ? { signer } : {}), trusted } : undefined;
}
