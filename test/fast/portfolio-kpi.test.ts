import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateTape } from '../../examples/portfolio-kpi/generate';
import { TapeError } from '../../examples/portfolio-kpi/kpis';
import { HAND_TAPE, HAND_V1, HAND_V2 } from '../../examples/portfolio-kpi/selftest';
import { runV1 } from '../../examples/portfolio-kpi/v1';
import { runV2 } from '../../examples/portfolio-kpi/v2';
import { tempDir } from '../helpers/harness';

const dir = tempDir('kpi-');
let n = 0;
function tape(text: string): string {
  const file = path.join(dir, `t${++n}.csv`);
  writeFileSync(file, text);
  return file;
}

const engines = [
  ['v1', runV1],
  ['v2', (f: string) => runV2(f)],
] as const;

describe('KPI formulas on a hand-computed tape', () => {
  test('V2 gives the figures of KPIS.md', async () => {
    const { metrics, rows } = await runV2(tape(HAND_TAPE));
    expect(rows).toBe(4);
    for (const [name, value] of Object.entries(HAND_V2))
      expect(metrics[name as keyof typeof metrics]).toBeCloseTo(value, 12);
  });

  test('V1 differs exactly as documented: the boundary day and the rounding of PortfolioHealth', async () => {
    const { metrics } = await runV1(tape(HAND_TAPE));
    for (const [name, value] of Object.entries(HAND_V1))
      expect(metrics[name as keyof typeof metrics]).toBeCloseTo(value, 12);
  });

  test.each(engines)(
    '%s reads columns in any order, quoted fields with commas and quotes, CRLF and extra columns',
    async (_e, run) => {
      const text = [
        'note,is_eligible,collected_amount,scheduled_payment,days_past_due,outstanding_principal,loan_id',
        '"a, ""b""",1,100.00,100.00,0,1000.00,A',
        'x,true,25.00,50.00,30,500.00,"B"',
        '"multi',
        'line",1,6.00,30.00,45,300.00,C',
        'y,0,0.00,20.00,120,200.00,D',
      ].join('\r\n');
      const { metrics, rows } = await run(tape(text));
      expect(rows).toBe(4);
      expect(metrics.TotalReceivable).toBeCloseTo(2000, 9);
      expect(metrics.CollectionRate).toBeCloseTo(131 / 200, 12);
    },
  );

  test('an empty portfolio has zero ratios, not NaN', async () => {
    for (const [, run] of engines) {
      const { metrics } = await run(
        tape('loan_id,outstanding_principal,days_past_due,scheduled_payment,collected_amount,is_eligible\n'),
      );
      expect(Object.values(metrics).every((v) => Number.isFinite(v))).toBe(true);
      expect(metrics.PAR30).toBe(0);
    }
  });
});

describe('V1 against V2 on generated tapes', () => {
  test.each([
    [2000, 1],
    [50_000, 7],
  ])('%d rows (seed %d): money agrees to the cent, PAR within the boundary-day effect', async (rows, seed) => {
    const file = path.join(dir, `gen-${rows}.csv`);
    await generateTape(rows, seed, file);
    const [v1, v2] = await Promise.all([runV1(file), runV2(file)]);
    expect(v1.rows).toBe(rows);
    expect(v2.rows).toBe(rows);
    for (const m of ['TotalReceivable', 'CashAvailable', 'TotalEligible', 'CollectionRate'] as const) {
      expect(Math.abs(v1.metrics[m] - v2.metrics[m]) / Math.abs(v2.metrics[m])).toBeLessThan(1e-9);
    }
    // V1 counts day 30 and day 90: its PAR is a little higher, never lower.
    expect(v1.metrics.PAR30).toBeGreaterThanOrEqual(v2.metrics.PAR30);
    expect((v1.metrics.PAR30 - v2.metrics.PAR30) / v2.metrics.PAR30).toBeLessThan(0.03);
    expect((v1.metrics.PAR90 - v2.metrics.PAR90) / v2.metrics.PAR90).toBeLessThan(0.05);
    expect(Math.abs(v1.metrics.PortfolioHealth - v2.metrics.PortfolioHealth)).toBeLessThan(0.1);
    // A real-looking portfolio: most loans current, a tail of delinquency.
    expect(v2.metrics.PAR30).toBeGreaterThan(0.03);
    expect(v2.metrics.PAR30).toBeLessThan(0.3);
    expect(v2.metrics.PAR90).toBeLessThan(v2.metrics.PAR30);
  });

  test('V2 gives the same answer when every record is split across reads', async () => {
    const file = path.join(dir, 'gen-2000.csv');
    const whole = await runV2(file);
    for (const chunkBytes of [7, 64, 1000]) expect(await runV2(file, { chunkBytes })).toEqual(whole);
    const tricky = tape(
      [
        'loan_id,note,outstanding_principal,days_past_due,scheduled_payment,collected_amount,is_eligible',
        'A,"x, ""y""\r\nz",10.00,31,1.00,1.00,1',
        '',
        'B,plain,20.00,0,2.00,1.00,0',
      ].join('\r\n'),
    );
    const reference = await runV2(tricky);
    expect(reference.rows).toBe(2);
    for (const chunkBytes of [3, 5, 11]) expect(await runV2(tricky, { chunkBytes })).toEqual(reference);
  });

  test("V2's fast path and its general path agree: quoting every field, or odd spellings, change nothing", async () => {
    // Plain records take V2's one-pass path; a quoted field (or a space, `true`, a bare CR) sends a record
    // through the general RFC 4180 path. Both must give the same sums to the cent.
    const generated = readFileSync(path.join(dir, 'gen-2000.csv'), 'utf8').trimEnd().split('\n');
    const header = 'loan_id,outstanding_principal,days_past_due,scheduled_payment,collected_amount,is_eligible';
    const odd = [
      'E1,-12.345,31,.5,5.,1',
      'E2,1.005,91,2.9999,0.004,0',
      'E3,100,30,7.10,7.1,1',
      'E4,0.995,90,-0.005,1.0049,1',
      'E5,123456789.99,400,1,2,0',
    ];
    const plain = [header, ...odd].join('\n') + '\n';
    const quote = (line: string) =>
      line
        .split(',')
        .map((f) => `"${f}"`)
        .join(',');
    const spelled = [
      header,
      'E1, -12.345 ,31,.5,5.,true',
      '"E2",1.005,"91",2.9999,0.004,FALSE',
      'E3,100,30,7.10,7.1,1\r',
      'E4,0.995,90,-0.005,1.0049, 1',
      'E5,123456789.99,400,1,2,"0"',
    ].join('\n');
    const fast = await runV2(tape(plain));
    expect(fast.rows).toBe(5);
    expect(await runV2(tape([header, ...odd].map(quote).join('\n')))).toEqual(fast);
    expect(await runV2(tape(spelled))).toEqual(fast);
    // The first rounds half away from zero per row: -12.345 → -12.35, 1.005 → 1.01, 0.995 → 1.00 …
    expect(fast.metrics.TotalReceivable).toBe(123456879.65);
    // The generated tape (quoted names and all), every field quoted, CRLF line ends.
    const many = await runV2(path.join(dir, 'gen-2000.csv'));
    const allQuoted = generated.map((line) => (line.includes('"') ? line : quote(line))).join('\r\n');
    expect(await runV2(tape(allQuoted))).toEqual(many);
  });

  test('the generator is seeded: same seed, same tape', async () => {
    await generateTape(500, 3, path.join(dir, 'a.csv'));
    await generateTape(500, 3, path.join(dir, 'b.csv'));
    await generateTape(500, 4, path.join(dir, 'c.csv'));
    const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
    expect(read('a.csv')).toBe(read('b.csv'));
    expect(read('a.csv')).not.toBe(read('c.csv'));
  });

  test('the fault switch makes V2 wrong enough for shadow mode to notice', async () => {
    const file = path.join(dir, 'gen-2000.csv');
    const good = await runV2(file);
    const bad = await runV2(file, { fault: true });
    expect((bad.metrics.PAR90 - good.metrics.PAR90) / good.metrics.PAR90).toBeGreaterThan(0.2);
  });
});

describe('bad input names the row and the column', () => {
  const header = 'loan_id,outstanding_principal,days_past_due,scheduled_payment,collected_amount,is_eligible';
  test.each([
    [
      'a missing column',
      'loan_id,outstanding_principal\nA,1\n',
      'row 1, column days_past_due: missing column days_past_due',
    ],
    [
      'a non-numeric value',
      `${header}\nA,1.00,0,1,1,1\nB,abc,0,1,1,1\n`,
      'row 3, column outstanding_principal: not a number: "abc"',
    ],
    ['an empty number', `${header}\nA,1.00,,1,1,1\n`, 'row 2, column days_past_due: not a number: ""'],
    ['a ragged row', `${header}\nA,1.00,0,1,1,1\nB,1.00,0,1\n`, 'row 3: expected 6 fields, found 4'],
    [
      'a bad flag',
      `${header}\nA,1.00,0,1,1,yes\n`,
      'row 2, column is_eligible: expected 1, 0, true or false, found "yes"',
    ],
  ])('%s', async (_name, text, message) => {
    const file = tape(text);
    for (const [, run] of engines) {
      const err = await run(file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TapeError);
      expect((err as TapeError).message).toBe(message);
    }
  });

  test('an empty file', async () => {
    const file = tape('');
    for (const [, run] of engines) await expect(run(file)).rejects.toThrow('empty file: expected a header row');
  });
});
