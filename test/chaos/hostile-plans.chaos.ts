/**
 * Hundreds of malformed plans, generated from the example plan: wrong types at every leaf, unknown keys in
 * every object, missing sections, huge values, unicode, deep nesting, duplicate keys, YAML anchors that
 * expand hugely, files that are not plans at all. Each goes through the real `cutover start` process against
 * a real dev server: every one is refused with exit 1 and a message naming where the problem is, the CLI
 * never crashes, and no workflow is ever started.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { startTestDevServer } from '../helpers/temporal';
import type { DevServer } from '../../toolchain/dev-server';
import { tempDir } from '../helpers/harness';
import { pathText, setAt, structuralMalformations, type Json, type Segment } from '../helpers/malformed-plans';
import { report } from './report';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'client', 'cli.js');
const EXAMPLE = path.join(ROOT, 'examples', 'portfolio-kpi', 'plan.yaml');

interface Malformed {
  name: string;
  text: string;
  /** What the error must name: a plan path, or a line/file position for text that is not a plan. */
  names: string | RegExp;
  ext?: 'yaml' | 'json';
}

function generate(): Malformed[] {
  const base = parse(readFileSync(EXAMPLE, 'utf8')) as Json;
  const out: Malformed[] = [];
  const asYaml = (name: string, value: Json, names: string | RegExp) =>
    out.push({ name, text: stringify(value), names });

  // Wrong types at every leaf, unknown keys in every object, each required section missing (shared with the
  // plan's JSON Schema test).
  for (const m of structuralMalformations(base)) asYaml(m.name, m.value, m.names);
  // Huge, negative, zero and non-finite values.
  const numeric: [string, Segment[], Json][] = [
    ['a trillion rows', ['shadow', 'datasets', 0, 'generate', 'rows'], 1e12],
    ['negative rows', ['shadow', 'datasets', 0, 'generate', 'rows'], -5],
    ['fractional rows', ['shadow', 'datasets', 0, 'generate', 'rows'], 2.5],
    ['a stress size of 1e15', ['stress', 'sizes', 0], 1e15],
    ['a billion iterations', ['stress', 'iterations'], 1e9],
    ['zero iterations', ['stress', 'iterations'], 0],
    ['negative noise runs', ['shadow', 'noiseRuns'], -1],
    ['a negative tolerance', ['shadow', 'tolerances', 'PAR30', 'relative'], -0.1],
    ['an error-rate trigger above 1', ['production', 'monitor', 'triggers', 'errorRate'], 7],
    ['a negative clean-day count', ['production', 'decommission', 'afterCleanDays'], -3],
    ['a zero monitor interval', ['production', 'monitor', 'interval'], '0s'],
    ['a monitor window of ten thousand years', ['production', 'monitor', 'window'], '87600000h'],
    ['a deadline in the past', ['signoff', 'deadline'], '-1h'],
    ['a duration without unit', ['signoff', 'deadline'], '72'],
    ['a rollback target of zero', ['rollback', 'target'], '0s'],
    ['a quorum of zero', ['signoff', 'quorum'], 0],
    ['a reconcile day count of a million', ['production', 'reconcile', 'days'], 1e6],
    ['a string where a number belongs', ['stress', 'iterations'], 'five'],
  ];
  for (const [name, at, value] of numeric)
    asYaml(
      name,
      setAt(base, at, () => value),
      pathText(at),
    );
  for (const [name, text] of [
    ['NaN rows', '.nan'],
    ['infinite rows', '.inf'],
    ['negative infinite rows', '-.inf'],
  ] as const) {
    out.push({
      name,
      text: stringify(base).replace(/rows: 20000/, `rows: ${text}`),
      names: 'shadow.datasets[0].generate.rows',
    });
  }
  asYaml(
    '100,000 stress sizes',
    setAt(base, ['stress', 'sizes'], () => Array.from({ length: 100_000 }, (_, i) => i + 1)),
    /stress\.sizes|\(file\)/,
  );
  asYaml(
    'a 3 MB description',
    setAt(base, ['description'], () => 'x'.repeat(3_000_000)),
    /\(file\)|description/,
  );
  // Unicode and odd strings where names must be simple.
  const names: [string, string][] = [
    ['an empty release', ''],
    ['a release with a space', 'portfolio kpi'],
    ['a release with a slash', 'a/b'],
    ['a release with NUL', 'v2\u0000'],
    ['a release with a right-to-left override', 'v2\u202egnp.exe'],
    ['an emoji release', '💥'],
    ['a release with a zero-width space', 'v\u200b2'],
    ['a release of 500 characters', 'r'.repeat(500)],
    ['a release with a newline', 'a\nb'],
    ['a release with a control character', 'a\u0007b'],
  ];
  for (const [name, value] of names)
    asYaml(
      name,
      setAt(base, ['release'], () => value),
      'release',
    );
  const approvers: [string, string][] = [
    ['an approver with a zero-width joiner', 'a\u200dna'],
    ['an approver in Cyrillic look-alikes', 'аna'],
    ['an empty approver', ''],
    ['an approver with a space', 'ana b'],
    ['an approver with an emoji', 'ana🙂'],
  ];
  for (const [name, value] of approvers) {
    asYaml(
      name,
      setAt(base, ['signoff', 'roles', 'engineering', 0], () => value),
      'signoff.roles.engineering[0]',
    );
  }
  asYaml(
    'an empty command',
    setAt(base, ['baseline', 'run'], () => []),
    'baseline.run',
  );
  asYaml(
    'a role with no approvers',
    setAt(base, ['signoff', 'roles', 'qa'], () => []),
    'signoff.roles.qa',
  );
  asYaml(
    'no roles at all',
    setAt(base, ['signoff', 'roles'], () => ({})),
    'signoff.roles',
  );
  asYaml(
    'no datasets',
    setAt(base, ['shadow', 'datasets'], () => []),
    'shadow.datasets',
  );
  // Deep nesting, in YAML flow style and in JSON.
  for (const depth of [100, 1000, 10_000, 100_000]) {
    out.push({
      name: `release nested ${depth} lists deep (YAML)`,
      text: `release: ${'['.repeat(depth)}${']'.repeat(depth)}\n`,
      names: /release|line \d+|\(file\)/,
    });
    out.push({
      name: `a plan nested ${depth} objects deep (JSON)`,
      text: `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
      names: /\(file\)|line \d+|a: unknown key|release/,
      ext: 'json',
    });
  }
  // Duplicate keys, at the top and deep inside.
  const yamlText = readFileSync(EXAMPLE, 'utf8');
  out.push({ name: 'release twice', text: `${yamlText}\nrelease: other\n`, names: /line \d+/ });
  out.push({
    name: 'a duplicate key inside production.monitor',
    text: yamlText.replace('    window: 2m\n', '    window: 2m\n    window: 3m\n'),
    names: /line \d+/,
  });
  out.push({
    name: 'a duplicate role',
    text: yamlText.replace('    qa: [bo]\n', '    qa: [bo]\n    qa: [cy]\n'),
    names: /line \d+/,
  });
  // Anchors that expand hugely (a "billion laughs"), and a merge of an alias into itself.
  const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const next = String.fromCharCode(97 + i);
    laughs.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(',')}]`);
  }
  out.push({ name: 'a billion laughs', text: `${laughs.join('\n')}\nrelease: *i\n`, names: /\(file\)|line \d+/ });
  out.push({
    name: 'an anchor used 1,000 times',
    text: `${yamlText}\nx: &x [1]\ny: [${Array(1000).fill('*x').join(',')}]\n`,
    names: /\(file\)|line \d+|y: unknown key|x: unknown key/,
  });
  out.push({ name: 'an alias to nothing', text: `${yamlText}\nz: *nothing\n`, names: /line \d+|\(file\)/ });
  // Files that are not plans.
  const notPlans: [string, string, string | RegExp, ('yaml' | 'json')?][] = [
    ['an empty file', '', /\(file\)|release|line/],
    ['only a comment', '# nothing here\n', /\(file\)|release|line/],
    ['a list', '- 1\n- 2\n', /\(file\)|expected|line/],
    ['a bare string', 'hello\n', /\(file\)|expected|line/],
    ['a number', '42\n', /\(file\)|expected|line/],
    ['null', 'null\n', /\(file\)|expected|line/],
    ['binary', '\u0000\u0001\u0002\u00ff\ufffe', /\(file\)|\(plan\)|line \d+/],
    ['a tab-indented map', 'release: x\nstaging:\n\tdeploy: []\n', /line \d+/],
    ['unclosed flow map', 'release: {a: 1\n', /line \d+/],
    ['unclosed quote', 'release: "abc\n', /line \d+/],
    // YAML reads this flow mapping happily: then the sections it lacks are named.
    ['JSON with a trailing comma', '{"release": "x",}', /line \d+|\(file\)|baseline/, 'json'],
    ['JSON cut in the middle', readFileSync(EXAMPLE, 'utf8').slice(0, 500), /line \d+|\(file\)|release|baseline/],
    ['a YAML tag for a JS function', 'release: !!js/function "function(){}"\n', /line \d+|\(file\)|release/],
    ['a custom tag', 'release: !shell "rm -rf /"\n', /line \d+|\(file\)|release/],
    ['a document stream of two plans', `${yamlText}\n---\n${yamlText}`, /line \d+|\(file\)/],
    [
      'windows-1252 bytes',
      Buffer.from([0x72, 0x65, 0x6c, 0x3a, 0x20, 0x93, 0x94]).toString('latin1'),
      /\(file\)|line|release/,
    ],
  ];
  for (const [name, text, namesWhat, ext] of notPlans)
    out.push({ name, text, names: namesWhat, ...(ext ? { ext } : {}) });
  return out;
}

let server: DevServer;

beforeAll(async () => {
  server = await startTestDevServer();
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

test('at least 200 malformed plans: every one refused by `cutover start` with its path named, none started', async () => {
  const plans = generate();
  expect(plans.length).toBeGreaterThanOrEqual(200);
  const dir = tempDir('hostile-plans-');
  const env = { ...process.env, TEMPORAL_ADDRESS: server.address, CUTOVER_TASK_QUEUE: 'hostile' };
  const failures: string[] = [];
  let refused = 0;
  let accepted = 0;
  let crashed = 0;

  const attempt = async (plan: Malformed, i: number): Promise<void> => {
    const file = path.join(dir, `plan-${i}.${plan.ext ?? 'yaml'}`);
    writeFileSync(file, plan.text);
    let code = 0;
    let stderr = '';
    try {
      await run(process.execPath, [CLI, 'start', file], { env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    } catch (err) {
      const e = err as { code: number | string; stderr: string; signal?: string };
      code = typeof e.code === 'number' ? e.code : -1;
      stderr = e.stderr ?? '';
    }
    if (code === 0) {
      accepted++;
      failures.push(`${plan.name}: accepted`);
      return;
    }
    if (code !== 1 || /unexpected error|a bug|\bat .*\.js:\d+/.test(stderr)) {
      crashed++;
      failures.push(`${plan.name}: exit ${code}: ${stderr.slice(0, 300)}`);
      return;
    }
    refused++;
    const named = typeof plan.names === 'string' ? stderr.includes(plan.names) : plan.names.test(stderr);
    if (!named || !stderr.startsWith(`cutover: ${file}`)) {
      failures.push(`${plan.name}: message does not name ${String(plan.names)}: ${stderr.slice(0, 300)}`);
    }
  };

  // Four CLI processes at a time.
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < plans.length) {
        const i = next++;
        await attempt(plans[i]!, i);
      }
    }),
  );

  // Nothing reached the server.
  const connection = await Connection.connect({ address: server.address });
  let started = 0;
  for await (const _ of new Client({ connection }).workflow.list()) started++;
  await connection.close();

  report({
    area: 'malformed plans (cutover start)',
    faults: plans.length,
    refused: `${refused} of ${plans.length}`,
    wronglyAccepted: accepted + started,
  });
  console.log(
    `malformed plans: ${plans.length}, refused ${refused}, crashed ${crashed}; problems: ${failures.join('\n')}`,
  );
  expect(failures).toEqual([]);
  expect(started).toBe(0);
  expect(refused).toBe(plans.length);
}, 600_000);
