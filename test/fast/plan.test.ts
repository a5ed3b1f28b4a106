/* eslint-disable @typescript-eslint/no-explicit-any -- these tests break plans on purpose, through untyped JSON */
import path from 'node:path';
import { loadPlan, parsePlanText, planFromDocument, PlanError } from '../../plan/load';
import { validatePlan } from '../../plan/schema';
import { toMs } from '../../plan/duration';
import { expand } from '../../plan/placeholders';
import { makePlanInput } from '../helpers/plans';
import { ed25519 } from '@noble/curves/ed25519';

/** The problems of a plan built from the test plan with `mutate` applied. */
function problems(mutate: (p: Record<string, any>) => void): string[] {
  const plan = JSON.parse(JSON.stringify(makePlanInput())) as Record<string, any>;
  mutate(plan);
  const result = validatePlan(plan);
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('plan validation', () => {
  test('the test plan and both example plans are valid', async () => {
    expect(problems(() => undefined)).toEqual([]);
    for (const file of ['plan.yaml', 'plan.production.yaml']) {
      const plan = await loadPlan(path.join(__dirname, '..', '..', 'examples', 'portfolio-kpi', file));
      expect(plan.release).toBe('portfolio-kpi-v2');
    }
  });

  test.each([
    ['an unknown key', (p: any) => (p.stagin = {}), '(plan): unknown key "stagin"'],
    [
      'a role with no approver',
      (p: any) => (p.signoff.roles.qa = []),
      'signoff.roles.qa: expected at least 1 approver',
    ],
    [
      'a quorum above its approvers',
      (p: any) => (p.signoff.quorum = 2),
      'signoff.quorum: quorum 2 is more than the 1 approver(s) of role "engineering"',
    ],
    [
      'a tolerance for a metric never produced',
      (p: any) => ((p.shadow.metrics = ['PAR30']), (p.shadow.tolerances = { PAR60: { relative: 0.1 } })),
      'shadow.tolerances.PAR60: no pipeline produces "PAR60"',
    ],
    ['a zero duration', (p: any) => (p.signoff.deadline = '0s'), 'signoff.deadline: must be greater than zero'],
    [
      'a negative duration',
      (p: any) => (p.production.monitor.window = '-5m'),
      'production.monitor.window: expected a duration',
    ],
    [
      'a monitor interval longer than its window',
      (p: any) => (p.production.monitor.interval = '2h'),
      'production.monitor.interval: interval 2h is longer than the window 10m',
    ],
    [
      'an invalid ed25519 key',
      (p: any) => (p.signoff.keys = { ana: 'abc', bo: 'x', cy: 'y', di: 'z', ed: 'w' }),
      'signoff.keys.ana: expected a valid ed25519 public key',
    ],
    ['a wrong type', (p: any) => (p.stress.sizes = ['ten']), 'stress.sizes[0]: '],
    ['a missing section', (p: any) => delete p.production, 'production: '],
    [
      'an action with neither run nor http',
      (p: any) => (p.staging.deploy = [{ name: 'x' }]),
      'staging.deploy[0].run: ',
    ],
    [
      'an http action with a bad URL',
      (p: any) => (p.staging.healthChecks = [{ http: 'ftp://x' }]),
      'staging.healthChecks[0].http: expected an http:// or https:// URL',
    ],
    [
      'more clean days than reconciliation days',
      (p: any) => (p.production.decommission.afterCleanDays = 9),
      'production.decommission.afterCleanDays: needs 9 clean days',
    ],
    ['a bad release name', (p: any) => (p.release = 'a b'), 'release: expected letters, digits'],
  ])('refuses %s, naming its path', (_name, mutate, expected) => {
    const found = problems(mutate);
    expect(found.some((p) => p.startsWith(expected))).toBe(true);
  });

  test('lists every problem, not only the first', () => {
    const found = problems((p) => {
      p.signoff.roles.qa = [];
      p.production.monitor.interval = '2h';
      p.extra = true;
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^signoff\.roles\.qa: /),
        expect.stringMatching(/^\(plan\): unknown key "extra"/),
      ]),
    );
    expect(found.length).toBeGreaterThanOrEqual(2);
  });

  test('separation of duties: a plan is refused exactly when no one-role-per-approver assignment fills every quorum', () => {
    const roles = (p: any, r: Record<string, string[]>) => (p.signoff.roles = r);
    // ana is the only engineering approver and also listed for QA, where bo can sign: satisfiable.
    expect(
      problems((p) => roles(p, { engineering: ['ana'], qa: ['ana', 'bo'], architecture: ['cy'], operations: ['di'] })),
    ).toEqual([]);
    // Three roles, two people: each role alone looks fine, together they cannot be filled.
    const three = { engineering: ['ana', 'bo'], qa: ['ana', 'bo'], architecture: ['ana', 'bo'] };
    expect(problems((p) => roles(p, three))).toEqual([
      'signoff.roles: with separation of duties each approver signs for one role, and the approvers listed can fill only 2 of the 3 places the quorums need (roles sharing approvers: engineering, qa, architecture)',
    ]);
    // Without separation of duties the same roles are fine.
    expect(problems((p) => (roles(p, three), (p.signoff.separationOfDuties = false)))).toEqual([]);
    // Quorums count as places: QA needs two of ana, bo, cy, and engineering takes one of ana, bo.
    const quorum = (p: any, q: Record<string, number>) => (p.signoff.quorum = q);
    const shared = { engineering: ['ana', 'bo'], qa: ['ana', 'bo', 'cy'] };
    expect(problems((p) => (roles(p, shared), quorum(p, { qa: 2 })))).toEqual([]);
    expect(problems((p) => (roles(p, shared), quorum(p, { qa: 2, engineering: 2 })))).toEqual([
      'signoff.roles: with separation of duties each approver signs for one role, and the approvers listed can fill only 3 of the 4 places the quorums need (roles sharing approvers: engineering, qa)',
    ]);
  });

  test('accepts valid approver keys and refuses keys for strangers', () => {
    const key = Buffer.from(ed25519.getPublicKey(ed25519.utils.randomPrivateKey())).toString('hex');
    const keys = { ana: key, bo: key, cy: key, di: key, ed: key };
    expect(problems((p) => (p.signoff.keys = keys))).toEqual([]);
    expect(problems((p) => (p.signoff.keys = { ...keys, eve: key }))).toEqual([
      'signoff.keys.eve: "eve" is not an approver of any role',
    ]);
  });
});

describe('plan files', () => {
  test('duplicate keys in YAML are refused with their line', () => {
    expect(() => parsePlanText('release: a\nrelease: b\n', 'p.yaml')).toThrow(PlanError);
    try {
      parsePlanText('release: a\nrelease: b\n', 'p.yaml');
    } catch (err) {
      expect((err as PlanError).problems[0]?.path).toMatch(/^line 2/);
    }
  });

  test('a YAML alias bomb is refused, not expanded', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefghi'[i]}`).join(', ')}]`),
    ].join('\n');
    expect(() => parsePlanText(bomb, 'bomb.yaml')).toThrow(/alias|Excessive/i);
  });

  test('a non-mapping document is refused', () => {
    expect(() => planFromDocument([1, 2], 'p.json', '/tmp')).toThrow(/expected a mapping/);
  });

  test('the loader sets baseDir to the plan folder', () => {
    const plan = planFromDocument({ ...makePlanInput(), baseDir: undefined }, 'p.json', '/srv/plans');
    expect(plan.baseDir).toBe('/srv/plans');
  });
});

describe('durations and placeholders', () => {
  test.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['72h', 259_200_000],
    ['1.5d', 129_600_000],
  ])('%s is %d ms', (text, ms) => expect(toMs(text)).toBe(ms));

  test.each(['', '5', 'five minutes', '-1s', '1w'])('%p is not a duration', (text) => expect(toMs(text)).toBeNaN());

  test('expands known placeholders and leaves the rest', () => {
    expect(
      expand('{dataset}:{rows}:{release}:{unknown}:{"json": 1}', { dataset: '/d.csv', rows: 10, release: 'r' }),
    ).toBe('/d.csv:10:r:{unknown}:{"json": 1}');
  });
});
