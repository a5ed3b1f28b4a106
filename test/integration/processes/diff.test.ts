/**
 * The keyed diff on real DuckDB over real files: counts per class and column, tolerances, samples, duplicate
 * and missing keys, bad input named by output, dataset, file and column, Parquet and JSON lines, spilling under
 * a memory limit, and interruption.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  countLines,
  DiffCancelledError,
  DiffInputError,
  withDiffEngine,
  type DiffEngineOptions,
} from '../../../activities/diff-engine';
import { diffOutput } from '../../../activities/diff';
import { outputSpec, planSchema, type OutputSpec } from '../../../plan/schema';
import { makePlanInput } from '../../helpers/plans';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cutover-diff-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function spec(partial: Partial<OutputSpec> & { key: string[] }): OutputSpec {
  return { ...outputSpec({ key: partial.key }), ...partial };
}

async function csv(name: string, lines: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

function engine(extra: Partial<DiffEngineOptions> = {}): DiffEngineOptions {
  return { tempDirectory: path.join(dir, 'spill'), threads: 1, ...extra };
}

const diff = (s: OutputSpec, v1File: string, v2File: string, options = engine()) =>
  withDiffEngine(options, (session) =>
    diffOutput(session, { output: 'loans', dataset: 'd1', spec: s, v1File, v2File }),
  );

describe('keyed diff', () => {
  it('counts rows in both, only in V1, only in V2, and classifies every column', async () => {
    const v1 = await csv('v1.csv', [
      'id,bucket,amount,note',
      'a,current,100.00,x',
      'b,1-30,200.00,',
      'c,31-60,300.00,y',
      'd,current,0,z',
      'e,current,5.00,q',
    ]);
    const v2 = await csv('v2.csv', [
      'id,bucket,amount,note',
      'a,current,100.004,x',
      'b,31-60,200.00,',
      'c,31-60,330.00,',
      'd,current,0.01,z',
      'f,current,1.00,q',
    ]);
    const result = await diff(spec({ key: ['id'], tolerances: { amount: { absolute: 0.005 } } }), v1, v2);
    expect(result.rows).toEqual({ v1: 5, v2: 5, both: 4, onlyV1: 1, onlyV2: 1, differing: 3 });
    const byName = Object.fromEntries(result.columns.map((c) => [c.column, c]));
    expect(byName.bucket).toMatchObject({ equal: 3, differing: 1, withinTolerance: 0, nullOneSide: 0 });
    // 100 → 100.004 within 0.005; 300 → 330 and 0 → 0.01 are not.
    expect(byName.amount).toMatchObject({ equal: 1, withinTolerance: 1, differing: 2, nullOneSide: 0 });
    expect(byName.amount?.maxAbsolute).toBeCloseTo(30, 9);
    // Where V1 is 0 there is no relative difference: the largest is 30 / 300.
    expect(byName.amount?.maxRelative).toBeCloseTo(0.1, 9);
    // NULL on both sides (b) is equal; y → NULL is null on one side.
    expect(byName.note).toMatchObject({ equal: 3, nullOneSide: 1 });
    expect(result.verdict).toBe('fail');
    expect(result.failures.join('; ')).toMatch(
      /3 differing row\(s\), limit 0 \(by column: amount 2, bucket 1, note 1\)/,
    );
    expect(result.failures.join('; ')).toMatch(/1 only in V1, 1 only in V2/);
    expect(result.samples.map((s) => [s.key.id, s.presence, s.differs])).toEqual([
      ['b', 'both', ['bucket']],
      ['c', 'both', ['amount', 'note']],
      ['d', 'both', ['amount']],
      ['e', 'v1', []],
      ['f', 'v2', []],
    ]);
    expect(result.samples[0]).toMatchObject({ v1: { bucket: '1-30' }, v2: { bucket: '31-60' } });
    expect(result.samples[3]?.v2).toBeUndefined();
  });

  it('passes within the limits, and only an absolute tolerance passes a difference where V1 is 0', async () => {
    const v1 = await csv('v1.csv', ['id,amount', '1,0', '2,10']);
    const v2 = await csv('v2.csv', ['id,amount', '1,0.001', '2,10.001']);
    const relative = await diff(spec({ key: ['id'], tolerances: { amount: { relative: 0.5 } } }), v1, v2);
    expect(relative.columns[0]).toMatchObject({ withinTolerance: 1, differing: 1 });
    const absolute = await diff(spec({ key: ['id'], tolerances: { amount: { absolute: 0.01 } } }), v1, v2);
    expect(absolute.columns[0]).toMatchObject({ withinTolerance: 2, differing: 0 });
    expect(absolute.verdict).toBe('pass');
    const limited = await diff(
      spec({ key: ['id'], maxDifferingRows: 1, tolerances: { amount: { relative: 0.5 } } }),
      v1,
      v2,
    );
    expect(limited.verdict).toBe('pass');
  });

  it('joins on a key of several columns, compares text exactly unless trim/ignoreCase, and ignores what it is told', async () => {
    const v1 = await csv('v1.csv', ['product,month,name,score,extra', 'sme,2020-01,Ana ,1,a', 'sme,2020-02,bo,2,b']);
    const v2 = await csv('v2.csv', ['product,month,name,score,extra', 'sme,2020-01,ana,1,z', 'sme,2020-02,BO,9,b']);
    const exact = await diff(spec({ key: ['product', 'month'], ignore: ['score', 'extra'] }), v1, v2);
    expect(exact.columns.map((c) => c.column)).toEqual(['name']);
    expect(exact.columns[0]).toMatchObject({ differing: 2 });
    expect(exact.ignored).toEqual(['score', 'extra']);
    const loose = await diff(
      spec({
        key: ['product', 'month'],
        ignore: ['score', 'extra'],
        tolerances: { name: { trim: true, ignoreCase: true } },
      }),
      v1,
      v2,
    );
    expect(loose.columns[0]).toMatchObject({ withinTolerance: 2, differing: 0 });
    expect(loose.verdict).toBe('pass');
  });

  it('reports duplicate and NULL keys and fails on them, with no counts from a join that fanned out', async () => {
    const v1 = await csv('v1.csv', ['id,x', 'a,1', 'a,2', 'b,3']);
    const v2 = await csv('v2.csv', ['id,x', 'a,1', 'b,3', ',4']);
    const result = await diff(spec({ key: ['id'] }), v1, v2);
    expect(result.verdict).toBe('fail');
    expect(result.duplicates).toMatchObject({ v1: 1, v2: 0 });
    expect(result.duplicates.examples).toEqual([{ side: 'v1', id: 'a', copies: '2' }]);
    expect(result.failures).toEqual([
      "1 duplicate key(s) in V1's file (the join would fan out)",
      "1 row(s) with a NULL key in V2's file",
    ]);
    expect(result.rows.both).toBe(0);
  });

  it.each(['csv', 'parquet'] as const)(
    'finds a duplicate on V2 that fans the join out, and one among unmatched rows (%s)',
    async (format) => {
      const instance = await DuckDBInstance.create(':memory:');
      const connection = await instance.connect();
      const write = async (name: string, rows: string) => {
        const file = path.join(dir, `${name}.${format}`);
        await connection.run(
          `COPY (SELECT * FROM (VALUES ${rows}) t(id, x)) TO '${file}' (${format === 'parquet' ? 'FORMAT parquet' : 'HEADER'})`,
        );
        return file;
      };
      // V2 has "b" twice, matched by V1's one "b": the join would show V1's row twice.
      const fan = await diff(
        spec({ key: ['id'], format }),
        await write('f1', "('a', 1), ('b', 2)"),
        await write('f2', "('a', 1), ('b', 2), ('b', 3)"),
      );
      expect(fan).toMatchObject({ verdict: 'fail', duplicates: { v1: 0, v2: 1 } });
      expect(fan.duplicates.examples).toEqual([{ side: 'v2', id: 'b', copies: '2' }]);
      // V1 has "z" twice and V2 has no "z": no fan-out, still a duplicate key.
      const unmatched = await diff(
        spec({ key: ['id'], format, maxMissingRows: 5 }),
        await write('u1', "('a', 1), ('z', 2), ('z', 3)"),
        await write('u2', "('a', 1)"),
      );
      expect(unmatched).toMatchObject({ verdict: 'fail', duplicates: { v1: 1, v2: 0 } });
      expect(unmatched.failures).toEqual(["1 duplicate key(s) in V1's file (the join would fan out)"]);
      connection.closeSync();
      instance.closeSync();
    },
  );

  it('reports a column on one side only, and fails on it only when the plan names it', async () => {
    const v1 = await csv('v1.csv', ['id,x,old', 'a,1,q']);
    const v2 = await csv('v2.csv', ['id,x,new', 'a,1,r']);
    const quiet = await diff(spec({ key: ['id'] }), v1, v2);
    expect(quiet).toMatchObject({ verdict: 'pass', onlyInV1: ['old'], onlyInV2: ['new'] });
    const named = await diff(
      spec({ key: ['id'], columns: ['id', 'x', 'new'], tolerances: { gone: { absolute: 1 } } }),
      v1,
      v2,
    );
    expect(named.verdict).toBe('fail');
    expect(named.failures).toEqual([
      'column "new" only in V2\'s file (the plan names it)',
      'column "gone" is in neither file (the plan names it)',
    ]);
  });

  it('reads Parquet and JSON lines, and compares a number with a text as text', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    const parquet = path.join(dir, 'v2.parquet');
    const jsonl = path.join(dir, 'v1.jsonl');
    await connection.run(
      `COPY (SELECT * FROM (VALUES ('a', 1.5, 'x'), ('b', 2.0, 'y')) t(id, amount, code)) TO '${parquet}' (FORMAT parquet)`,
    );
    connection.closeSync();
    instance.closeSync();
    await writeFile(jsonl, '{"id":"a","amount":1.5,"code":"x"}\n{"id":"b","amount":2.5,"code":"y"}\n');
    const p = await diff(spec({ key: ['id'], format: 'parquet' }), parquet, parquet);
    expect(p).toMatchObject({ verdict: 'pass', rows: { both: 2 } });
    const j = await diff(spec({ key: ['id'], format: 'jsonl' }), jsonl, jsonl);
    expect(j).toMatchObject({ verdict: 'pass', rows: { both: 2 } });
    const mixedV1 = await csv('m1.csv', ['id,code', 'a,1', 'b,2']);
    const mixedV2 = await csv('m2.csv', ['id,code', 'a,1', 'b,two']);
    const mixed = await diff(spec({ key: ['id'] }), mixedV1, mixedV2);
    expect(mixed.columns[0]).toMatchObject({ type: 'BIGINT / VARCHAR', equal: 1, differing: 1 });
  });

  it.each([
    [
      'a missing file',
      async () => [path.join(dir, 'nope.csv'), await csv('v2.csv', ['id', 'a'])],
      spec({ key: ['id'] }),
      /output "loans", dataset d1, V1: no such file \(the pipeline did not write it\): .*nope\.csv/,
    ],
    [
      'a Parquet file declared csv',
      async () => {
        const f = path.join(dir, 'x.csv');
        await writeFile(f, Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(20)]));
        return [f, f];
      },
      spec({ key: ['id'] }),
      /V1: is a Parquet file, declared csv: .*x\.csv/,
    ],
    [
      'a CSV declared parquet',
      async () => [await csv('a.parquet', ['id', 'a']), await csv('b.parquet', ['id', 'a'])],
      spec({ key: ['id'], format: 'parquet' }),
      /V1: not a Parquet file \(declared parquet\)/,
    ],
    [
      'a CSV declared jsonl',
      async () => [await csv('a.jsonl', ['id', 'a']), await csv('b.jsonl', ['id', 'a'])],
      spec({ key: ['id'], format: 'jsonl' }),
      /V1: not JSON lines/,
    ],
    [
      'a key column missing on V2',
      async () => [await csv('v1.csv', ['id,x', 'a,1']), await csv('v2.csv', ['loan,x', 'a,1'])],
      spec({ key: ['id'] }),
      /output "loans", dataset d1, V2's file .*v2\.csv: no key column "id" \(columns: loan, x\)/,
    ],
    [
      'an empty output',
      async () => [await csv('v1.csv', ['id,x']), await csv('v2.csv', ['id,x', 'a,1'])],
      spec({ key: ['id'] }),
      /V1's file .*v1\.csv: 0 row\(s\), expected at least 1 \(empty output\)/,
    ],
  ])('refuses %s with a final error naming the output, dataset, file and column', async (_name, files, s, message) => {
    const [v1, v2] = await files();
    await expect(diff(s, v1 as string, v2 as string)).rejects.toThrow(DiffInputError);
    await expect(diff(s, v1 as string, v2 as string)).rejects.toThrow(message);
  });

  it('spills under a small memory limit, removes its spill folder, and is interrupted by the signal', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    const v1 = path.join(dir, 'big1.csv');
    const v2 = path.join(dir, 'big2.csv');
    const rows = 2_000_000;
    await connection.run(
      `COPY (SELECT 'L' || i AS id, i * 1.5 AS amount, 'seg' || (i % 7) AS seg FROM range(${rows}) t(i)) TO '${v1}' (HEADER)`,
    );
    await connection.run(
      `COPY (SELECT 'L' || i AS id, CASE WHEN i % 100 = 0 THEN i * 1.5 + 1 ELSE i * 1.5 END AS amount, 'seg' || (i % 7) AS seg FROM range(${rows}) t(i)) TO '${v2}' (HEADER)`,
    );
    connection.closeSync();
    instance.closeSync();
    // Watch the spill folder while the query runs: DuckDB writes there when the join outgrows its memory.
    let spilled = 0;
    const spill = path.join(dir, 'spill');
    const options = engine({
      memoryLimit: '160MB',
      threads: 2,
      tickMs: 20,
      onTick: () => {
        spilled = Math.max(spilled, existsSync(spill) ? readdirSync(spill).length : 0);
      },
    });
    const result = await diff(spec({ key: ['id'], maxDifferingRows: rows }), v1, v2, options);
    expect(result.rows).toMatchObject({ both: rows, differing: rows / 100 });
    expect(spilled).toBeGreaterThan(0);
    expect(await readdir(dir)).not.toContain('spill');

    const controller = new AbortController();
    let ticks = 0;
    const running = diff(spec({ key: ['id'], maxDifferingRows: rows }), v1, v2, {
      ...engine({ memoryLimit: '160MB', threads: 2 }),
      signal: controller.signal,
      tickMs: 20,
      onTick: () => {
        ticks++;
        if (ticks === 3) controller.abort();
      },
    });
    await expect(running).rejects.toThrow(DiffCancelledError);
    expect(await readdir(dir)).not.toContain('spill');
  }, 120_000);
});

describe('counting records by line ends', () => {
  it.each([
    ['a CSV with a header', 'id,x\na,1\nb,2\n', 'csv', 2],
    ['a CSV without a last line end', 'id,x\na,1\nb,2', 'csv', 2],
    ['CRLF line ends', 'id,x\r\na,1\r\nb,2\r\n', 'csv', 2],
    ['a header only', 'id,x\n', 'csv', 0],
    ['JSON lines', '{"id":"a"}\n{"id":"b"}\n{"id":"c"}', 'jsonl', 3],
    ['a CSV with a quote (a field may hold a line break)', 'id,x\n"a\nb",1\n', 'csv', undefined],
    ['a blank line', 'id,x\na,1\n\nb,2\n', 'csv', undefined],
    ['a blank CRLF line', 'id,x\r\na,1\r\n\r\nb,2\r\n', 'csv', undefined],
  ] as const)('%s', async (_name, text, format, expected) => {
    const file = path.join(dir, 'f');
    await writeFile(file, text);
    expect(await countLines(file, format)).toBe(expected);
  });

  it('counts across read chunks of 4 MiB, as DuckDB does', async () => {
    const rows = 400_000;
    const file = await csv('big.csv', ['id,x', ...Array.from({ length: rows }, (_, i) => `k${i},${i % 7}`)]);
    expect(await countLines(file, 'csv')).toBe(rows);
  });
});

describe('plan outputs', () => {
  const base = {
    baseline: { run: ['v1', '{dataset}', '--loans', '{output:loans}'] },
    candidate: { run: ['v2', '{dataset}', '--loans', '{output:loans}'] },
  };
  function check(outputs: unknown): string[] {
    const input = makePlanInput({ ...base });
    const plan = { ...input, shadow: { ...input.shadow, outputs } };
    const parsed = planSchema.safeParse(plan);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  }

  it('takes a declared output with its defaults', () => {
    const parsed = check({ loans: { key: ['loan_id'] } });
    expect(parsed).toEqual([]);
  });

  it.each([
    ['an output without a key', { loans: {} }, /shadow\.outputs\.loans\.key/],
    ['an empty key', { loans: { key: [] } }, /shadow\.outputs\.loans\.key: expected at least one key column/],
    [
      'an unknown format',
      { loans: { key: ['id'], format: 'xlsx' } },
      /shadow\.outputs\.loans\.format: expected csv, parquet or jsonl/,
    ],
    [
      'a key not among the declared columns',
      { loans: { key: ['id'], columns: ['loan_id', 'x'] } },
      /shadow\.outputs\.loans\.key\.0: no column "id" in shadow\.outputs\.loans\.columns/,
    ],
    [
      'a tolerance on an undeclared column',
      { loans: { key: ['id'], columns: ['id'], tolerances: { x: { absolute: 1 } } } },
      /shadow\.outputs\.loans\.tolerances\.x: no column "x"/,
    ],
    [
      'an ignored key column',
      { loans: { key: ['id'], ignore: ['id'] } },
      /shadow\.outputs\.loans\.ignore\.0: "id" is part of the key/,
    ],
    [
      'an empty tolerance',
      { loans: { key: ['id'], tolerances: { x: {} } } },
      /shadow\.outputs\.loans\.tolerances\.x: expected "absolute", "relative", "trim" or "ignoreCase"/,
    ],
    [
      'an output no pipeline writes',
      { loans: { key: ['id'] }, segments: { key: ['s'] } },
      /shadow\.outputs\.segments: the baseline never writes it/,
    ],
  ])('refuses %s by path', (_name, outputs, message) => {
    expect(check(outputs).join('\n')).toMatch(message);
  });

  it('refuses {output:NAME} that names no declared output', () => {
    expect(check({}).join('\n')).toMatch(/baseline\.run: \{output:loans\}: no output "loans" in shadow\.outputs/);
  });
});
