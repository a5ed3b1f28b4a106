/**
 * Change calendars: when production may change. The workers' policy gives each pipeline its calendar (windows in
 * which production may change, in a named IANA zone, and freezes in which it may not); a plan may narrow it
 * (`production.window`), never widen it. The production deploy and the decommission wait for the next open
 * window (workflows/change-window.ts); a rollback never waits.
 *
 * Times are computed in the calendar's zone with the platform's Intl (the ICU time-zone database Node ships), so a
 * 09:00–15:00 Europe/London window is 08:00–14:00 UTC in summer and 09:00–15:00 in winter. Freezes are whole local
 * days. Pure: the workers compute a decision for an instant the workflow gives (its own clock), and the workflow
 * records the answer, so a replay never computes it again.
 *
 * A calendar may also ask for notice (production changes no sooner than that after the gate's approval, so the
 * people told see it coming) and name who may break the glass: move production while the calendar says no
 * (workflows/break-glass.ts).
 */
import { z } from 'zod';
import { DURATION_PATTERN, formatMs, toMs } from './duration';
import { decodePublicKey } from './keys';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Whether the platform knows `zone` (an IANA name such as Europe/London). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const clock = z
  .string()
  .regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, { error: 'expected a local time such as "09:00" (24:00 ends a day)' });
const localDate = z.iso.date({ error: 'expected a date such as 2026-12-25' });
const zone = z.string().refine(isTimeZone, { error: 'expected an IANA time zone such as Europe/London' });
const notice = z
  .string()
  .regex(DURATION_PATTERN, { error: 'expected a duration such as 1m, 2h or 1d' })
  .describe("How long after the gate's approval production may change at the earliest: the change board's notice.");
const personName = z.string().min(1).max(128);

const windowSchema = z
  .strictObject({
    days: z.array(z.enum(WEEKDAYS)).min(1).max(7).describe('The weekdays it opens on (mon … sun).'),
    from: clock.describe('When it opens, local time.'),
    to: clock.describe('When it closes, local time (24:00: midnight at the end of the day).'),
  })
  .refine((w) => minutes(w.from) < minutes(w.to), { error: 'expected from before to', path: ['to'] });

const freezeSchema = z
  .strictObject({
    name: z.string().min(1).max(100).describe('What the freeze is, as status and notifications name it.'),
    dates: z.array(localDate).max(1000).optional().describe('Single days.'),
    from: localDate.optional().describe('The first day of a range (with `to`; both included).'),
    to: localDate.optional().describe('The last day of a range.'),
    lastBusinessDays: z.int().min(1).max(15).optional().describe("The month's last N business days."),
    firstBusinessDays: z.int().min(1).max(15).optional().describe("The month's first N business days."),
  })
  .refine((f) => (f.from === undefined) === (f.to === undefined), { error: 'expected from and to together' })
  .refine((f) => f.from === undefined || f.to === undefined || f.from <= f.to, {
    error: 'expected from on or before to',
    path: ['to'],
  })
  .refine(
    (f) =>
      f.dates !== undefined ||
      f.from !== undefined ||
      f.lastBusinessDays !== undefined ||
      f.firstBusinessDays !== undefined,
    { error: 'expected dates, from/to, lastBusinessDays or firstBusinessDays' },
  );

/** A pipeline's calendar in the workers' policy. */
export const calendarSchema = z.strictObject({
  zone: zone.describe('The IANA time zone its windows and days are in.'),
  windows: z
    .array(windowSchema)
    .max(50)
    .optional()
    .describe('When production may change; without windows, at any time outside the freezes.'),
  freezes: z.array(freezeSchema).max(100).default([]).describe('Days production may not change.'),
  holidays: z
    .array(localDate)
    .max(1000)
    .default([])
    .describe('Days that are not business days (for the business-day rules), frozen as well.'),
  notice: notice.optional(),
  breakGlass: z
    .strictObject({
      role: z
        .string()
        .regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'expected a lower-case role name such as incident-commander' })
        .describe('The role one of the two must hold (incident-commander, say).'),
      approvers: z.array(personName).min(1).max(50).describe('Who holds it, as they sign.'),
      groups: z
        .array(z.string().min(1).max(200))
        .max(50)
        .default([])
        .describe("The login's groups whose members hold it in the approval app."),
      keys: z
        .record(
          personName,
          z.string().refine((key) => decodePublicKey(key) !== undefined, {
            error: 'expected an ed25519 public key (hex or base64), as `cutover keygen` prints it',
          }),
        )
        .optional()
        .describe(
          "The role holders' public keys, by name: a break-glass signed with one (`cutover break-glass --key FILE`) counts without the approval app.",
        ),
    })
    .optional()
    .describe(
      'Who may move production while the calendar says no: one of this role and a second person, attested, with a reason. Without it, nobody.',
    ),
});

/** Whom a policy lets break the glass (calendarSchema's `breakGlass`). */
export type BreakGlassGrant = { role: string; approvers: string[]; groups?: string[]; keys?: Record<string, string> };

/** What a plan may add to its pipeline's calendar: narrower windows and more freezes, in the calendar's zone. */
export const planWindowSchema = z.strictObject({
  zone: zone
    .optional()
    .describe("Where the workers' policy has no calendar, the zone of these windows (default UTC); else its zone."),
  windows: z.array(windowSchema).max(50).optional().describe("Within the policy's windows: narrows them."),
  freezes: z.array(freezeSchema).max(100).default([]).describe('More freezes.'),
  notice: notice.optional().describe("The notice after the gate's approval; no shorter than the policy's."),
});

export type Calendar = z.infer<typeof calendarSchema>;
export type PlanWindow = z.infer<typeof planWindowSchema>;
export type ChangeWindow = z.infer<typeof windowSchema>;

/** Whether production may change now, and if not, why and when it next may. */
export type WindowDecision =
  | { open: true }
  | {
      open: false;
      /** Why not now: outside the windows, or the freeze. */
      reason: string;
      /** When it next may (ISO, UTC); absent when no window opens within a year. */
      opensAt?: string;
      /** `opensAt` as people there read it: "Mon 29 Mar 2027, 09:00". */
      local?: string;
      zone: string;
      /** Whom the policy lets move production now all the same; absent: nobody. */
      breakGlass?: BreakGlassGrant;
    };

function minutes(clockTime: string): number {
  const [h, m] = clockTime.split(':').map(Number);
  return (h as number) * 60 + (m as number);
}

const MINUTE = 60_000;
const DAY_MINUTES = 24 * 60;
/** How far ahead the next opening is looked for. */
const HORIZON_DAYS = 400;

interface LocalDay {
  y: number;
  m: number;
  d: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function partsIn(zoneName: string, instant: number): LocalDay & { hh: number; mm: number; ss: number } {
  let format = formatters.get(zoneName);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zoneName,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zoneName, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  return {
    y: Number(parts.year),
    m: Number(parts.month),
    d: Number(parts.day),
    hh: Number(parts.hour),
    mm: Number(parts.minute),
    ss: Number(parts.second),
  };
}

/** The zone's offset from UTC at `instant`, in ms (positive east of Greenwich). */
function offsetAt(zoneName: string, instant: number): number {
  const p = partsIn(zoneName, instant);
  const seconds = Math.floor(instant / 1000) * 1000;
  return Date.UTC(p.y, p.m - 1, p.d, p.hh, p.mm, p.ss) - seconds;
}

/**
 * The instant of local `minute` (0–1440) on `day` in the zone. A local time that does not exist (the hour skipped
 * when clocks go forward) comes out as the same wall time with the earlier offset, which is after the jump.
 */
function instantOf(zoneName: string, day: LocalDay, minute: number): number {
  const wall = Date.UTC(day.y, day.m - 1, day.d) + minute * MINUTE;
  const first = wall - offsetAt(zoneName, wall);
  return wall - offsetAt(zoneName, first);
}

const dayKey = (day: LocalDay) => `${day.y}-${String(day.m).padStart(2, '0')}-${String(day.d).padStart(2, '0')}`;

function addDays(day: LocalDay, n: number): LocalDay {
  const t = new Date(Date.UTC(day.y, day.m - 1, day.d + n));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

const weekday = (day: LocalDay): Weekday =>
  WEEKDAYS[new Date(Date.UTC(day.y, day.m - 1, day.d)).getUTCDay()] as Weekday;

/** The calendar a cutover obeys: the policy's (if any) with the plan's narrowing. */
export interface EffectiveCalendar {
  zone: string;
  /** Each list of windows narrows the ones before it: a minute is open only inside one window of every list. */
  windowLists: ChangeWindow[][];
  freezes: z.infer<typeof freezeSchema>[];
  holidays: string[];
  /** How long after the gate's approval production may change at the earliest (the longer of policy and plan). */
  noticeMs: number;
  breakGlass?: BreakGlassGrant;
}

/** The policy's calendar narrowed by the plan's `production.window`; undefined when neither has one. */
export function effectiveCalendar(
  policy: Calendar | undefined,
  plan: PlanWindow | undefined,
): EffectiveCalendar | undefined {
  if (!policy && !plan) return undefined;
  return {
    zone: policy?.zone ?? plan?.zone ?? 'UTC',
    windowLists: [policy?.windows, plan?.windows].filter((w): w is ChangeWindow[] => w !== undefined),
    freezes: [...(policy?.freezes ?? []), ...(plan?.freezes ?? [])],
    holidays: policy?.holidays ?? [],
    noticeMs: Math.max(toMs(policy?.notice ?? '0s'), toMs(plan?.notice ?? '0s')),
    ...(policy?.breakGlass ? { breakGlass: policy.breakGlass } : {}),
  };
}

function isBusinessDay(calendar: EffectiveCalendar, day: LocalDay): boolean {
  const w = weekday(day);
  return w !== 'sat' && w !== 'sun' && !calendar.holidays.includes(dayKey(day));
}

/** The business days of `day`'s month, in order. */
function businessDaysOfMonth(calendar: EffectiveCalendar, day: LocalDay): string[] {
  const out: string[] = [];
  for (let d = 1; d <= 31; d++) {
    const candidate = { y: day.y, m: day.m, d };
    if (new Date(Date.UTC(day.y, day.m - 1, d)).getUTCMonth() !== day.m - 1) break;
    if (isBusinessDay(calendar, candidate)) out.push(dayKey(candidate));
  }
  return out;
}

/** The freeze `day` falls in, by name, or undefined. */
function freezeOn(calendar: EffectiveCalendar, day: LocalDay): string | undefined {
  const key = dayKey(day);
  if (calendar.holidays.includes(key)) return 'holiday';
  let business: string[] | undefined;
  for (const freeze of calendar.freezes) {
    if (freeze.dates?.includes(key)) return freeze.name;
    if (freeze.from !== undefined && freeze.to !== undefined && freeze.from <= key && key <= freeze.to)
      return freeze.name;
    if (freeze.lastBusinessDays !== undefined || freeze.firstBusinessDays !== undefined) {
      business ??= businessDaysOfMonth(calendar, day);
      const at = business.indexOf(key);
      if (at >= 0 && freeze.firstBusinessDays !== undefined && at < freeze.firstBusinessDays) return freeze.name;
      if (at >= 0 && freeze.lastBusinessDays !== undefined && at >= business.length - freeze.lastBusinessDays)
        return freeze.name;
    }
  }
  return undefined;
}

type Interval = [number, number];

/** The open minutes of a weekday: inside a window of every list (the whole day where there are none). */
function openMinutes(calendar: EffectiveCalendar, w: Weekday): Interval[] {
  let open: Interval[] = [[0, DAY_MINUTES]];
  for (const list of calendar.windowLists) {
    const windows = list.filter((x) => x.days.includes(w)).map((x): Interval => [minutes(x.from), minutes(x.to)]);
    open = open.flatMap(([a, b]) =>
      windows.map(([c, d]): Interval => [Math.max(a, c), Math.min(b, d)]).filter(([c, d]) => c < d),
    );
  }
  return merge(open);
}

function merge(intervals: Interval[]): Interval[] {
  const sorted = [...intervals].sort((x, y) => x[0] - y[0]);
  const out: Interval[] = [];
  for (const [a, b] of sorted) {
    const last = out.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** `instant` as people in the zone read it: "Mon 29 Mar 2027, 09:00". */
export function localTime(zoneName: string, instant: number): string {
  const p = partsIn(zoneName, instant);
  const month = new Date(Date.UTC(p.y, p.m - 1, 1)).toLocaleString('en-GB', { month: 'short', timeZone: 'UTC' });
  const w = weekday(p);
  return `${w[0]?.toUpperCase()}${w.slice(1)} ${p.d} ${month} ${p.y}, ${String(p.hh).padStart(2, '0')}:${String(p.mm).padStart(2, '0')}`;
}

/** Whether the calendar lets production change at `at` (ms since the epoch), and if not, why not. */
function closedBecause(calendar: EffectiveCalendar, at: number): string | undefined {
  const today = partsIn(calendar.zone, at);
  const frozen = freezeOn(calendar, today);
  if (frozen) return `the freeze "${frozen}" (${dayKey(today)})`;
  const nowMinute = today.hh * 60 + today.mm;
  const insideWindow = openMinutes(calendar, weekday(today)).some(([a, b]) => a <= nowMinute && nowMinute < b);
  return insideWindow ? undefined : `outside the change windows (${describeWindows(calendar)})`;
}

/**
 * Whether production may change at `at` (ms since the epoch) under `calendar`, and if not, when it next may.
 * `approvedAt`: when the gate approved (the notice counts from it).
 */
export function decideWindow(calendar: EffectiveCalendar | undefined, at: number, approvedAt?: number): WindowDecision {
  if (!calendar) return { open: true };
  const noticeEnds = approvedAt !== undefined ? approvedAt + calendar.noticeMs : at;
  const closed = closedBecause(calendar, at);
  if (closed === undefined && noticeEnds <= at) return { open: true };
  const reason =
    closed ??
    `the notice of ${formatMs(calendar.noticeMs)} after the gate's approval (${new Date(approvedAt ?? at).toISOString()})`;
  const decision = nextOpening(calendar, Math.max(at, noticeEnds), reason);
  return calendar.breakGlass ? { ...decision, breakGlass: calendar.breakGlass } : decision;
}

/** The first open minute at or after `from`, as a closed decision for `reason`. */
function nextOpening(
  calendar: EffectiveCalendar,
  at: number,
  reason: string,
): Extract<WindowDecision, { open: false }> {
  const today = partsIn(calendar.zone, at);
  for (let n = 0; n <= HORIZON_DAYS; n++) {
    const day = addDays(today, n);
    if (freezeOn(calendar, day)) continue;
    for (const [a, b] of openMinutes(calendar, weekday(day))) {
      const start = instantOf(calendar.zone, day, a);
      const end = instantOf(calendar.zone, day, b);
      const opens = Math.max(start, at);
      if (opens < end) {
        return {
          open: false,
          reason,
          opensAt: new Date(opens).toISOString(),
          local: localTime(calendar.zone, opens),
          zone: calendar.zone,
        };
      }
    }
  }
  return { open: false, reason: `${reason}; no window opens within ${HORIZON_DAYS} days`, zone: calendar.zone };
}

/** The windows in a few words: "mon–fri 09:00–15:00 Europe/London". */
export function describeWindows(calendar: EffectiveCalendar): string {
  const lists = calendar.windowLists.map((list) => list.map((w) => `${w.days.join(',')} ${w.from}–${w.to}`).join('; '));
  return `${lists.length ? lists.join(' within ') : 'any time'} ${calendar.zone}`;
}

/** Where a plan asks for less notice than its policy: the problem, or undefined. */
export function shorterNotice(policy: Calendar | undefined, plan: PlanWindow | undefined): string | undefined {
  if (!policy?.notice || !plan?.notice) return undefined;
  return toMs(plan.notice) < toMs(policy.notice)
    ? `${plan.notice} is less notice than the policy's ${policy.notice}: a plan may ask for more, never less`
    : undefined;
}

/**
 * Where a plan's windows reach outside the policy's: a problem per window (by its index) with a minute outside
 * every policy window on one of its days. A plan narrows; it never widens.
 */
export function wideningWindows(
  policy: Calendar | undefined,
  plan: PlanWindow | undefined,
): { index: number; message: string }[] {
  if (!policy?.windows || !plan?.windows) return [];
  const policyOnly = effectiveCalendar(policy, undefined) as EffectiveCalendar;
  const problems: { index: number; message: string }[] = [];
  for (const [index, w] of plan.windows.entries()) {
    for (const day of w.days) {
      const allowed = openMinutes(policyOnly, day);
      const [a, b] = [minutes(w.from), minutes(w.to)];
      if (!allowed.some(([c, d]) => c <= a && b <= d)) {
        problems.push({
          index,
          message: `${day} ${w.from}–${w.to} is outside the policy's change windows (${describeWindows(policyOnly)}): a plan may narrow them, never widen them`,
        });
        break;
      }
    }
  }
  return problems;
}
