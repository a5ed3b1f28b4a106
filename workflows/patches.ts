/**
 * The `patched()` ids of cutoverWorkflow, each defined once, with when it may be retired.
 *
 * A patch's life: `patched(id)` while cutovers started before the change may still be open; then
 * `deprecatePatch(id)` with only the new branch once none of them is (a cutover lives at most its sign-off
 * deadline + escalation window + monitoring window + reconciliation days: for the example's production plan,
 * about 12 days); then the call is removed once no open cutover started before `deprecatePatch` shipped.
 * Each step keeps the replay fixtures of the generations it still supports (test/replay/histories).
 */
export const Patch = {
  /**
   * The plan is checked by the `checkPlan` activity, not by zod inside the workflow (2026-11).
   * Old branch: the lazy `require('../plan/shape-check')` in cutover.ts (zod's check until 2026-11-26; the
   * zod-free twin is held to it by test/unit/shape-check.test.ts), replayed by the ungenerated fixtures
   * (`happy-path.json`…). Deprecate when no cutover started before 2026-11 is open; retire, with those
   * fixtures, plan/shape-check.ts, plan/plan-shape.json and the lint exception for the lazy require, one
   * release later.
   */
  PlanCheckedByActivity: 'plan-checked-by-activity',
  /**
   * The V1 reference probe before the production deploy runs as a local activity (2026-11).
   * Old branch: a normal `probe` activity. Same retirement as PlanCheckedByActivity (same fixtures).
   */
  ReferenceProbeLocal: 'reference-probe-local',
  /**
   * A sign-off may carry an `attestation` (2026-11-26). Asked only when a payload has one, so a
   * cutover's history has the marker only if someone sent one. Old branch: the field is unknown and the
   * sign-off refused as malformed. Deprecate when no cutover started before this is open.
   */
  SignOffAttestation: 'signoff-attestation',
  /**
   * On one queue too, the V1 reference reading is taken inside the production deploy's activity
   * (`deployProduction`), as with a production environment, instead of as a local activity in the last
   * approval's workflow task (2026-11-26: the busy sign-off reaction, bench/README.md). Old branch:
   * ReferenceProbeLocal's. Replayed by the `.2026-11-26-deploy` fixtures. A cutover that reaches production
   * after this shipped takes the new branch, wherever it started; deprecate when no cutover that reached production
   * before it is open.
   */
  ReferenceInDeploy: 'reference-in-deploy',
  /**
   * monitorWorkflow runs only as the monitoring child of the cutover its input names (2026-12-01, the workers'
   * doors): started on its own, its probe (any action, any queue, any cutover's work folder) was run with no
   * plan check. Old branch: no check (a monitor that continues as new takes the new one, and passes it, since
   * a continued child keeps its parent). Deprecate when no monitor started before this is open.
   */
  MonitorNeedsParent: 'monitor-needs-parent',
  /**
   * The gate compares approvers' names by canonical form (NFC; lower case where e-mail-like: gate.ts
   * canonicalName) (2026-12-01). Asked only when a sign-off's spelling differs from a name it is compared with,
   * so a cutover's history has the marker only if one did. Old branch: names compared as typed. Deprecate when
   * no cutover started before this is open.
   */
  CanonicalIdentity: 'canonical-identity',
  /**
   * The monitor samples on a fixed cadence, at multiples of the interval since its window started, instead of
   * sleeping a whole interval after each probe (2026-12-01: the probes' round trips drifted a 24 h window a sample
   * short on a busy machine). Old branch: the interval after each probe. Deprecate when no monitor started
   * before this is open.
   */
  MonitorCadence: 'monitor-cadence',
  /**
   * The production deploy and the decommission wait for the change calendar's next open window (2026-12-02:
   * plan/calendar.ts, workflows/change-window.ts). Asked only where a calendar can apply (the workers hold a
   * policy, or the plan has `production.window`), so other cutovers' histories carry no marker. Old branch: no
   * wait. Deprecate when no cutover that reached production before this shipped is open.
   */
  ChangeWindows: 'change-windows',
} as const;
