/**
 * Pipelines that print garbage: not JSON, NaN, Infinity, negative totals, missing or extra metrics, the wrong
 * shapes, gigabytes. Through the real shadow and probe activities, each is a clear failure (of the phase, or
 * of the probe, or a trigger that fires) with a reason, never a pass.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { ProbeResult } from '../../shapes/evidence';
import { tempDir } from '../helpers/harness';
import { makePlan, makePlanInput, nodeRun } from '../helpers/plans';
import { report } from './report';

const activities = createActivities({ dataDir: tempDir('outputs-') });
const identity = { workflowId: 'chaos-outputs', release: 'r', key: 'chaos-outputs/run/shadow' };
const GOOD = { TotalReceivable: 1000, PAR30: 0.1 };

/** Each case: what the candidate prints (a node script), and what the failure must say. */
const CASES: [string, string, RegExp][] = [
  ['plain text', `process.stdout.write('all good')`, /not JSON/],
  ['nothing at all', `/* prints nothing */`, /not JSON|no output|empty/],
  ['a bare NaN', `process.stdout.write('NaN')`, /not JSON/],
  ['NaN inside JSON', `process.stdout.write('{"metrics": {"TotalReceivable": NaN, "PAR30": 0.1}}')`, /not JSON/],
  [
    'Infinity as 1e999',
    `process.stdout.write('{"metrics": {"TotalReceivable": 1e999, "PAR30": 0.1}}')`,
    /finite|Infinity|TotalReceivable/,
  ],
  [
    'a number as a string',
    `process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: '1000', PAR30: 0.1 } }))`,
    /TotalReceivable|number/,
  ],
  [
    'a negative total',
    `process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: -1000, PAR30: 0.1 } }))`,
    /TotalReceivable/,
  ],
  ['PAR30 above 1', `process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 7 } }))`, /PAR30/],
  ['a missing metric', `process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: 1000 } }))`, /PAR30/],
  ['no metrics key', `process.stdout.write(JSON.stringify({ TotalReceivable: 1000, PAR30: 0.1 }))`, /metrics/],
  ['metrics as a list', `process.stdout.write(JSON.stringify({ metrics: [1000, 0.1] }))`, /metrics/],
  ['metrics as null', `process.stdout.write(JSON.stringify({ metrics: null }))`, /metrics/],
  ['a JSON array', `process.stdout.write('[1, 2, 3]')`, /metrics|expected/],
  ['a JSON string', `process.stdout.write('"ok"')`, /metrics|expected/],
  [
    'two JSON documents',
    `process.stdout.write(JSON.stringify({ metrics: ${JSON.stringify(GOOD)} }) + JSON.stringify({}))`,
    /not JSON/,
  ],
  [
    'a metric that is an object',
    `process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: { v: 1000 }, PAR30: 0.1 } }))`,
    /TotalReceivable/,
  ],
  ['negative rows', `process.stdout.write(JSON.stringify({ metrics: ${JSON.stringify(GOOD)}, rows: -3 }))`, /rows/],
  [
    '64 MiB of output',
    `const b = Buffer.alloc(1 << 20, 'x'); for (let i = 0; i < 64; i++) process.stdout.write(b)`,
    /too large/,
  ],
  [
    '2 GiB of output',
    `const b = Buffer.alloc(1 << 24, '{'); let i = 0; (function w() { while (i < 128) { i++; if (!process.stdout.write(b)) return process.stdout.once('drain', w); } })()`,
    /too large/,
  ],
  [
    'JSON nested 100,000 deep',
    `process.stdout.write('{"metrics":' + '['.repeat(100000) + ']'.repeat(100000) + '}')`,
    /metrics|not JSON|too large/,
  ],
];

test('bad pipeline outputs fail the shadow phase with a reason and fail the probe, never a pass', async () => {
  const problems: string[] = [];
  let refused = 0;
  for (const [name, script, reason] of CASES) {
    const base = makePlanInput();
    const plan = makePlan({
      candidate: { run: nodeRun(script) },
      shadow: {
        ...base.shadow,
        ranges: { TotalReceivable: { min: 0 }, PAR30: { min: 0, max: 1 } },
      },
    });
    const outcome = await new MockActivityEnvironment().run(activities.runShadow, { ...identity, plan }).then(
      (result) => ({ passed: true as const, result }),
      (err: unknown) => ({ passed: false as const, err }),
    );
    if (outcome.passed) {
      problems.push(`shadow passed on ${name}`);
      continue;
    }
    const err = outcome.err as ApplicationFailure;
    if (!(err instanceof ApplicationFailure) || !err.nonRetryable || !reason.test(err.message)) {
      problems.push(`shadow on ${name}: ${String(err?.message).slice(0, 200)} (nonRetryable ${err?.nonRetryable})`);
      continue;
    }
    // The same output from the production probe: a failed probe, never a healthy sample.
    const probe = (await new MockActivityEnvironment().run(activities.probe, {
      ...identity,
      key: 'chaos-outputs/run/probe',
      probe: { run: nodeRun(script) },
      triggers: base.production.monitor.triggers,
      reference: GOOD,
      consecutiveFailures: 0,
    })) as ProbeResult;
    // A failed sample, or a trigger that fires: anything but a healthy sample.
    if (probe.ok && !probe.breach) {
      problems.push(`probe healthy on ${name}`);
      continue;
    }
    refused++;
  }
  report({
    area: 'bad pipeline outputs',
    faults: CASES.length,
    refused: `${refused} of ${CASES.length}`,
    wronglyAccepted: CASES.length - refused,
  });
  console.log(`pipeline outputs: ${CASES.length}, refused ${refused}; problems: ${problems.join('\n')}`);
  expect(problems).toEqual([]);
}, 300_000);
