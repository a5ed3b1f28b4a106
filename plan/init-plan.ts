/**
 * The plan `cutover plan init` writes: every section with a comment saying what it is for, commands that a
 * team replaces with its own, and settings that validate as they stand (a test holds it to the schema).
 */
export function initPlan(release: string): string {
  return `# yaml-language-server: $schema=./cutover-plan.schema.json
# (the editor's schema: \`cutover plan schema --out cutover-plan.schema.json\` writes it beside this file)
# A cutover plan: V1 (baseline) to V2 (candidate). Replace the commands with your own; paths are relative to
# this file's folder. \`cutover plan validate\` lists every problem by its path.
release: ${release}
description: what V2 changes, in one line

# Writes a dataset of {rows} rows from {seed} to {dataset} (for shadow, stress and reconciliation).
generator: { run: [./generate.sh, '{rows}', '{seed}', '{dataset}'] }
# Each prints {"metrics": {...}, "rows": N} for {dataset}; {output:NAME} is where it writes an output table.
baseline: { run: [./pipeline-v1.sh, '{dataset}', '{output:rows}'] }
candidate: { run: [./pipeline-v2.sh, '{dataset}', '{output:rows}'] }

staging:
  deploy: [{ run: [./deploy.sh, staging, v2] }]
  tests: { run: [./smoke-tests.sh, staging] }
  healthChecks: [{ http: 'http://127.0.0.1:8080/health' }]
  healthTimeout: 2m

shadow:
  datasets: [{ generate: { rows: 100000, seed: 1 } }]
  noiseRuns: 1
  # Each metric V2 prints may differ from V1's by this much (relative to V1, or absolute).
  tolerances:
    total: { relative: 1.0e-9 }
  # The output tables, diffed row by row on their key (DuckDB).
  outputs:
    rows:
      key: [id]
      maxDifferingRows: 0
      maxMissingRows: 0

stress:
  sizes: [10000, 100000]
  warmup: 1
  iterations: 5
  # V2 against V1, pair by pair: at most 10 % slower and 20 % hungrier, at 95 % confidence.
  compare: { maxSlowdown: 10%, maxMemoryGrowth: 20%, confidence: 0.95, minRuns: 10, maxRuns: 40 }
  thresholds: { latencyP99: 5s, errorRate: 0 }

# Rehearsed in staging, timed against its target.
rollback: { run: [./deploy.sh, staging, v1], target: 300s }

signoff:
  roles:
    engineering: [an-engineer]
    qa: [a-tester]
    architecture: [an-architect]
    operations: [an-operator]
    business: [a-business-owner]
  quorum: 1
  deadline: 72h
  escalate: { run: [./notify.sh, 'sign-off overdue for {release}'] }
  escalationWindow: 24h
  separationOfDuties: true

production:
  deploy: { run: [./deploy.sh, production, v2] }
  undo: { run: [./deploy.sh, production, v1] }
  monitor:
    window: 24h
    interval: 1m
    # Prints {"metrics": {...}, "errorRate": n}.
    probe: { run: [./probe.sh, production] }
    triggers: { errorRate: 0.01, kpiDrift: 0.05, failedProbes: 3 }
  reconcile: { every: 24h, days: 7 }
  decommission: { run: [./decommission.sh, v1], afterCleanDays: 7 }
`;
}
