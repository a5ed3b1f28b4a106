/**
 * The `patched()` ids of the workflows, each defined once, with when it may be retired. None since 1.0.0.
 *
 * 1.0.0 is the history baseline: the compatibility code for cutovers started before it (0.x, never released) is
 * gone, and the replay fixtures were recorded anew at it (test/workflows/replay/histories/*.1.0.json). From then on, every
 * change to workflow code that a running cutover would replay differently goes behind a patch id here (or a
 * worker version), with a new generation of fixtures beside the older ones; every generation from the baseline
 * on must still replay (docs/operating.md, "Upgrading workflow code").
 *
 * A patch's life: `patched(id)` while cutovers started before the change may still be open; then
 * `deprecatePatch(id)` with only the new branch once none of them is (a cutover lives at most its sign-off
 * deadline + escalation window + monitoring window + reconciliation days: for the example's production plan,
 * about 12 days); then the call is removed once no open cutover started before `deprecatePatch` shipped.
 */
export const Patch = {} as const satisfies Record<string, string>;

/** A patch id: what a phase module added after the baseline names as its `since`. */
export type PatchId = (typeof Patch)[keyof typeof Patch];
