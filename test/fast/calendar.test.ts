/**
 * Change calendars (plan/calendar.ts): windows in their zone across daylight-saving changes, month-end freezes by
 * business days and holidays, a plan's narrowing, and the errors a bad calendar gets.
 */
import {
  calendarSchema,
  decideWindow,
  effectiveCalendar,
  planWindowSchema,
  shorterNotice,
  wideningWindows,
  type Calendar,
} from '../../plan/calendar';

const LONDON_DAYS: Calendar = calendarSchema.parse({
  zone: 'Europe/London',
  windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '15:00' }],
});
const at = (iso: string) => Date.parse(iso);
const decide = (calendar: Calendar, iso: string, plan?: unknown) =>
  decideWindow(effectiveCalendar(calendar, plan ? planWindowSchema.parse(plan) : undefined), at(iso));

describe('a 09:00–15:00 Europe/London window', () => {
  test('is 08:00–14:00 UTC in summer and 09:00–15:00 UTC in winter', () => {
    expect(decide(LONDON_DAYS, '2027-06-01T08:00:00Z')).toEqual({ open: true });
    expect(decide(LONDON_DAYS, '2027-06-01T13:59:00Z')).toEqual({ open: true });
    expect(decide(LONDON_DAYS, '2027-06-01T14:00:00Z')).toMatchObject({
      open: false,
      opensAt: '2027-06-02T08:00:00.000Z',
    });
    expect(decide(LONDON_DAYS, '2026-12-02T08:30:00Z')).toEqual({
      open: false,
      reason: 'outside the change windows (mon,tue,wed,thu,fri 09:00–15:00 Europe/London)',
      opensAt: '2026-12-02T09:00:00.000Z',
      local: 'Wed 2 Dec 2026, 09:00',
      zone: 'Europe/London',
    });
    expect(decide(LONDON_DAYS, '2026-12-02T14:59:59Z')).toEqual({ open: true });
  });

  test('across the spring change: closed on Friday in GMT, opens on Monday at 09:00 BST (08:00 UTC)', () => {
    expect(decide(LONDON_DAYS, '2027-03-26T15:30:00Z')).toMatchObject({
      opensAt: '2027-03-29T08:00:00.000Z',
      local: 'Mon 29 Mar 2027, 09:00',
    });
  });

  test('across the autumn change: closed on Friday in BST, opens on Monday at 09:00 GMT', () => {
    expect(decide(LONDON_DAYS, '2027-10-29T14:30:00Z')).toMatchObject({
      opensAt: '2027-11-01T09:00:00.000Z',
      local: 'Mon 1 Nov 2027, 09:00',
    });
  });

  test('inside a window it opens now; a window the plan narrows opens later', () => {
    const narrowed = { windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '13:00', to: '17:00' }] };
    expect(decide(LONDON_DAYS, '2027-06-01T09:00:00Z', narrowed)).toMatchObject({
      opensAt: '2027-06-01T12:00:00.000Z',
      reason:
        'outside the change windows (mon,tue,wed,thu,fri 09:00–15:00 within mon,tue,wed,thu,fri 13:00–17:00 Europe/London)',
    });
    // The plan's 15:00–17:00 is not the policy's: closed at 15:30 BST, after the intersection.
    expect(decide(LONDON_DAYS, '2027-06-01T14:30:00Z', narrowed)).toMatchObject({
      open: false,
      opensAt: '2027-06-02T12:00:00.000Z',
    });
  });

  test('another zone: New York’s window moves with its own change (14 Mar 2027), not London’s', () => {
    const newYork = calendarSchema.parse({ ...LONDON_DAYS, zone: 'America/New_York' });
    expect(decide(newYork, '2027-03-12T22:00:00Z')).toMatchObject({ opensAt: '2027-03-15T13:00:00.000Z' });
    expect(decide(newYork, '2027-03-11T13:30:00Z')).toMatchObject({ opensAt: '2027-03-11T14:00:00.000Z' });
  });
});

describe('freezes', () => {
  const monthEnd = calendarSchema.parse({
    ...LONDON_DAYS,
    freezes: [{ name: 'month-end close', lastBusinessDays: 2, firstBusinessDays: 3 }],
  });

  test('the last 2 business days of March and the first 3 of April: open again on the 4th business day', () => {
    expect(decide(monthEnd, '2027-03-29T10:00:00Z')).toEqual({ open: true });
    // Without windows, a weekend day outside the freeze is open.
    const noWindows = calendarSchema.parse({ zone: 'Europe/London', freezes: monthEnd.freezes });
    expect(decide(noWindows, '2027-03-31T10:00:00Z')).toMatchObject({ local: 'Sat 3 Apr 2027, 00:00' });
    expect(decide(monthEnd, '2027-03-30T10:00:00Z')).toEqual({
      open: false,
      reason: 'the freeze "month-end close" (2027-03-30)',
      // Thu 1, Fri 2 and Mon 5 April are the first three (no window at the weekend): Tuesday 6 April, 09:00 BST.
      opensAt: '2027-04-06T08:00:00.000Z',
      local: 'Tue 6 Apr 2027, 09:00',
      zone: 'Europe/London',
    });
  });

  test('a holiday is no business day: with Good Friday off, the freeze reaches one day further', () => {
    const withHoliday = { ...monthEnd, holidays: ['2027-04-02'] };
    expect(decide(withHoliday, '2027-04-05T10:00:00Z')).toMatchObject({
      reason: 'the freeze "month-end close" (2027-04-05)',
    });
    expect(decide(withHoliday, '2027-03-31T10:00:00Z')).toMatchObject({ opensAt: '2027-04-07T08:00:00.000Z' });
    expect(decide(withHoliday, '2027-04-02T10:00:00Z')).toMatchObject({ reason: 'the freeze "holiday" (2027-04-02)' });
  });

  test('dates and ranges, whole local days, with the windows after them', () => {
    const calendar = calendarSchema.parse({
      ...LONDON_DAYS,
      freezes: [
        { name: 'year end', from: '2026-12-21', to: '2027-01-04' },
        { name: 'audit day', dates: ['2027-01-05'] },
      ],
    });
    expect(decide(calendar, '2026-12-18T10:00:00Z')).toEqual({ open: true });
    expect(decide(calendar, '2026-12-21T10:00:00Z')).toMatchObject({
      reason: 'the freeze "year end" (2026-12-21)',
      opensAt: '2027-01-06T09:00:00.000Z',
    });
  });

  test('a plan adds freezes of its own', () => {
    const plan = { freezes: [{ name: 'launch week', from: '2027-06-01', to: '2027-06-04' }] };
    expect(decide(LONDON_DAYS, '2027-06-01T09:00:00Z', plan)).toMatchObject({
      reason: 'the freeze "launch week" (2027-06-01)',
      opensAt: '2027-06-07T08:00:00.000Z',
    });
  });
});

test('a plan may narrow the windows, never widen them: each widening window is named by index', () => {
  const plan = planWindowSchema.parse({
    windows: [
      { days: ['tue'], from: '10:00', to: '12:00' },
      { days: ['mon', 'sat'], from: '10:00', to: '12:00' },
      { days: ['wed'], from: '08:00', to: '10:00' },
    ],
  });
  expect(wideningWindows(LONDON_DAYS, plan)).toEqual([
    {
      index: 1,
      message:
        "sat 10:00–12:00 is outside the policy's change windows (mon,tue,wed,thu,fri 09:00–15:00 Europe/London): a plan may narrow them, never widen them",
    },
    { index: 2, message: expect.stringMatching(/^wed 08:00–10:00 is outside/) },
  ]);
  // A policy with no windows allows any time: any plan window narrows it.
  expect(wideningWindows(calendarSchema.parse({ zone: 'UTC' }), plan)).toEqual([]);
});

test('a bad calendar names what is wrong, where', () => {
  const problems = (value: unknown) =>
    calendarSchema.safeParse(value).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  expect(problems({ zone: 'Europe/Londn' })).toEqual(['zone: expected an IANA time zone such as Europe/London']);
  expect(problems({ zone: 'UTC', windows: [{ days: ['mon'], from: '15:00', to: '09:00' }] })).toEqual([
    'windows.0.to: expected from before to',
  ]);
  expect(problems({ zone: 'UTC', windows: [{ days: ['monday'], from: '9:00', to: '15:00' }] })).toEqual([
    expect.stringMatching(/^windows\.0\.days\.0: /),
    'windows.0.from: expected a local time such as "09:00" (24:00 ends a day)',
  ]);
  expect(problems({ zone: 'UTC', freezes: [{ name: 'x' }] })).toEqual([
    'freezes.0: expected dates, from/to, lastBusinessDays or firstBusinessDays',
  ]);
  expect(problems({ zone: 'UTC', freezes: [{ name: 'x', from: '2027-01-02', to: '2027-01-01' }] })).toEqual([
    'freezes.0.to: expected from on or before to',
  ]);
});

describe("the notice: production changes no sooner than the calendar's notice after the gate's approval", () => {
  const NOTICE = calendarSchema.parse({ zone: 'Europe/London', notice: '1m' });
  const approved = at('2027-06-01T10:00:20Z');

  test('closed until a minute after the approval, then open; a closed window after it counts from there', () => {
    const calendar = effectiveCalendar(NOTICE, undefined);
    expect(decideWindow(calendar, at('2027-06-01T10:00:30Z'), approved)).toEqual({
      open: false,
      reason: "the notice of 1m 0s after the gate's approval (2027-06-01T10:00:20.000Z)",
      opensAt: '2027-06-01T10:01:20.000Z',
      local: 'Tue 1 Jun 2027, 11:01',
      zone: 'Europe/London',
    });
    expect(decideWindow(calendar, at('2027-06-01T10:01:20Z'), approved)).toEqual({ open: true });
    // Without an approval time (an older worker's question), the notice cannot count: only the windows do.
    expect(decideWindow(calendar, at('2027-06-01T10:00:30Z'))).toEqual({ open: true });
    // Approved at 14:59:30 London time (BST) in a window that ends at 15:00: the notice runs past it, so Wednesday.
    const windowed = effectiveCalendar({ ...LONDON_DAYS, notice: '1m' }, undefined);
    expect(decideWindow(windowed, at('2027-06-01T13:59:45Z'), at('2027-06-01T13:59:30Z'))).toMatchObject({
      open: false,
      opensAt: '2027-06-02T08:00:00.000Z',
    });
  });

  test('a plan may ask for more notice, never less (by path at the plan check)', () => {
    expect(effectiveCalendar(NOTICE, planWindowSchema.parse({ notice: '1h' }))?.noticeMs).toBe(3_600_000);
    expect(shorterNotice(NOTICE, planWindowSchema.parse({ notice: '30s' }))).toBe(
      "30s is less notice than the policy's 1m: a plan may ask for more, never less",
    );
    expect(shorterNotice(NOTICE, planWindowSchema.parse({ notice: '2m' }))).toBeUndefined();
    expect(calendarSchema.safeParse({ zone: 'UTC', notice: 'a minute' }).error?.issues[0]?.message).toBe(
      'expected a duration such as 1m, 2h or 1d',
    );
  });

  test("a closed decision names whom the policy lets break the glass, and only a policy's calendar can", () => {
    const glass = calendarSchema.parse({
      ...LONDON_DAYS,
      breakGlass: { role: 'incident-commander', approvers: ['ivy'] },
    });
    expect(decideWindow(effectiveCalendar(glass, undefined), at('2027-06-05T10:00:00Z'))).toMatchObject({
      open: false,
      breakGlass: { role: 'incident-commander', approvers: ['ivy'], groups: [] },
    });
    expect(planWindowSchema.safeParse({ breakGlass: { role: 'x', approvers: ['me'] } }).success).toBe(false);
  });
});
