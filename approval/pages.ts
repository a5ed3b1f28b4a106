/**
 * The approval app's pages, rendered on the server as plain HTML (no build step). Everything that comes from
 * a plan, a cutover or a login is escaped; the only scripts are the report's charts and the live refresh.
 */
import { recordLineHtml, reportParts, REPORT_STYLE } from '../lib/html-report';
import type { RecordLine } from '../lib/record';
import { esc } from '../common/html';
import type { BreakGlassAnswer, SignOffAnswer } from '../workflows/messages';
import { canonicalName } from '../workflows/gate';
import { roleLabel } from '../workflows/output-lines';
import { describeWaitingForWindow, isFinal, type CutoverStatus } from '../shapes/status';
import { glassRolesFor, type Login, type RoleAnswer } from './identity';

const STYLE = `${REPORT_STYLE}
header.bar{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #d0d7de;padding-bottom:.5rem;margin-bottom:1rem}
header.bar form{display:inline}button{font:inherit;padding:.35rem .9rem;border-radius:4px;border:1px solid #8c959f;background:#f6f8fa;cursor:pointer}
button.approve{background:#137333;color:#fff;border-color:#137333}button.reject{background:#b3261e;color:#fff;border-color:#b3261e}
.answer{padding:.75rem 1rem;border-radius:6px;margin:1rem 0}.answer.ok{background:#e6f4ea;border:1px solid #137333}
.answer.refused{background:#fde7e4;border:1px solid #b3261e}.live{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem 1rem;border-radius:6px}
.signoff{border:1px solid #d0d7de;border-radius:6px;padding:1rem;margin:1rem 0;background:#fbfcfd}
textarea{width:100%;min-height:4rem;font:inherit;box-sizing:border-box}.muted{color:#57606a}`;

/** Who is looking, signed in, and the form token of their session (posts carry it). */
export interface Viewer {
  login: Login;
  csrf: string;
}

export function layout(title: string, viewer: Partial<Viewer> | undefined, body: string, script = ''): string {
  const { login, csrf } = viewer ?? {};
  const who = login
    ? `<span>Signed in as <b>${esc(login.user)}</b>${login.name ? ` (${esc(login.name)})` : ''} · <span class="muted">${esc(login.issuer)}</span></span>
<form method="post" action="/logout"><input type="hidden" name="_csrf" value="${esc(csrf)}"><button type="submit">Sign out</button></form>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head><body>
<header class="bar"><a href="/"><b>cutover</b> approvals</a>${who}</header>
${body}
${script}
</body></html>
`;
}

export interface ListedForApprover {
  workflowId: string;
  release?: string;
  phase?: string;
  state?: string;
  startTime: string;
}

export function listPage(viewer: Viewer, waiting: ListedForApprover[], running: ListedForApprover[]): string {
  const rows = (items: ListedForApprover[]) =>
    items.length
      ? `<table><tr><th>release</th><th>cutover</th><th>phase</th><th>state</th><th>started</th></tr>${items
          .map(
            (c) =>
              `<tr><td>${esc(c.release)}</td><td><a href="/cutovers/${encodeURIComponent(c.workflowId)}">${esc(c.workflowId)}</a></td><td>${esc(c.phase)}</td><td>${esc(c.state)}</td><td>${esc(c.startTime)}</td></tr>`,
          )
          .join('')}</table>`
      : '<p class="muted">None.</p>';
  return layout(
    'Cutovers waiting for sign-off',
    viewer,
    `<h1>Waiting for sign-off</h1>${rows(waiting)}<h2>Running</h2>${rows(running)}`,
    // The list follows the cutovers as they reach or leave their gates.
    `<script>setTimeout(() => location.reload(), 10000);</script>`,
  );
}

/** The gate's or the app's answer to a sign-off, shown above the cutover. */
export type Answer =
  | { kind: 'gate'; decision: 'approve' | 'reject'; role: string; answer: SignOffAnswer }
  | { kind: 'glass'; role: string; answer: BreakGlassAnswer }
  | { kind: 'app'; message: string; glass?: boolean };

/** What changes the page when it changes: the live refresh compares it. */
export function liveVersion(s: CutoverStatus): string {
  const signed = s.gate.roles.map((r) => `${r.role}:${r.approvedBy.join('+')}`).join(',');
  return [
    s.phase,
    s.state,
    s.evidenceDigest ?? '',
    s.gate.status,
    signed,
    s.phases.length,
    s.waitingForWindow?.opensAt ?? '',
    s.breakGlass?.length ?? 0,
  ].join('|');
}

/**
 * The gate's part of the cutover page: the answer to a sign-off, who has signed and who is missing, and the
 * form. The form posts in place (a fetch that swaps this section) so that the answer shows without loading
 * the evidence again; without scripts it posts as a plain form and the whole page comes back.
 */
export function gateSection(s: CutoverStatus, { login, csrf }: Viewer, roles: RoleAnswer[], answer?: Answer): string {
  const id = encodeURIComponent(s.workflowId);
  const may = roles.filter((r) => r.may);
  const open = s.gate.status === 'open';
  let signing: string;
  if (!open) {
    signing = `<p class="muted">The gate is ${esc(s.gate.status)}: there is nothing to sign${s.gate.status === 'closed' && !isFinal(s.state) ? ' yet; this page follows the cutover and shows the form when the gate opens' : ''}.</p>`;
  } else if (!s.evidenceDigest) {
    signing = '<p class="muted">The gate has no evidence yet.</p>';
  } else if (may.length === 0) {
    signing = `<div class="answer refused" id="not-an-approver"><b>You cannot sign this cutover.</b><ul>${roles
      .map((r) => (r.may ? '' : `<li>${esc(r.why)}</li>`))
      .join('')}</ul></div>`;
  } else {
    const roleField =
      may.length === 1
        ? `<input type="hidden" name="role" value="${esc(may[0]?.role)}"><p>You sign as <b>${esc(login.user)}</b> for <b>${esc(may[0]?.role)}</b>.</p>`
        : `<p>You sign as <b>${esc(login.user)}</b> for <select name="role">${may.map((r) => `<option>${esc(r.role)}</option>`).join('')}</select></p>`;
    signing = `<form method="post" action="/cutovers/${id}/signoff" class="signoff" id="signoff">
<input type="hidden" name="_csrf" value="${esc(csrf)}">
<input type="hidden" name="evidenceDigest" value="${esc(s.evidenceDigest)}">
${roleField}
<p>On the evidence <code>${esc(s.evidenceDigest)}</code> shown below.</p>
<label>Comment <textarea name="comment" maxlength="2000" placeholder="What you checked; required to reject"></textarea></label>
<p><button type="submit" name="decision" value="approve" class="approve">Approve</button>
<button type="submit" name="decision" value="reject" class="reject">Reject</button></p></form>`;
  }
  const roleRows = s.gate.roles
    .map(
      (r) =>
        `<tr><td>${esc(roleLabel(r))}</td><td>${esc(r.approvers.join(', '))}</td><td>${esc(r.approvedBy.join(', ') || '-')}</td><td${r.missing ? ' class="failed"' : ''}>${r.missing ? `missing ${r.missing}` : r.required === 0 ? 'not awaited' : 'signed'}</td></tr>`,
    )
    .join('');
  const signed = s.gate.roles.length
    ? `<table id="roles"><tr><th>role</th><th>approvers</th><th>signed by</th><th></th></tr>${roleRows}</table>`
    : '';
  return `<section id="gate" data-version="${esc(liveVersion(s))}">
${answer ? answerBanner(answer) : ''}
<h2>Sign-off: gate ${esc(s.gate.status)}</h2>
${s.gate.deadline ? `<p>Deadline ${esc(s.gate.deadline)}</p>` : ''}
${signed}
${signing}
</section>`;
}

/** What the cutover page shows besides the cutover: the viewer's roles, the answer to a post, the record's line. */
export interface Shown {
  roles: RoleAnswer[];
  answer?: Answer | undefined;
  record?: RecordLine | undefined;
}

/** The whole cutover page: the gate's section, then the evidence (the html report's content). */
export function cutoverPage(s: CutoverStatus, viewer: Viewer, { roles, answer, record }: Shown): string {
  const { body, script } = reportParts(s);
  const id = encodeURIComponent(s.workflowId);
  return layout(
    `${s.release}: cutover approvals`,
    viewer,
    `<h1>${esc(s.release)}</h1>
<p>Cutover <code>${esc(s.workflowId)}</code> · state <b id="state">${esc(s.state)}</b> (phase ${esc(s.phase)}) · started ${esc(s.startedAt)}${s.endedAt ? ` · ended ${esc(s.endedAt)}` : ''}${s.initiator ? ` · by ${esc(s.initiator)}` : ''}</p>
<p class="live" id="live" hidden></p>
${s.waitingForWindow ? `<p class="waiting" id="window">${esc(describeWaitingForWindow(s.waitingForWindow))}</p>` : ''}
${glassSection(s, viewer, answer && isGlass(answer) ? answer : undefined)}
${record ? recordLineHtml(record) : ''}
${gateSection(s, viewer, roles, answer && !isGlass(answer) ? answer : undefined)}
${body}`,
    // After a plain post, reloading shows the cutover, not the form's answer again.
    `${answer ? `<script>history.replaceState(null, '', '/cutovers/${id}');</script>` : ''}${chartsScript(script)}${IN_PLACE_SCRIPT}${isFinal(s.state) ? '' : liveScript(id)}`,
  );
}

/** The charts come after the first paint: the answer and the tables show first, Chart.js loads then. */
const chartsScript = (script: string) => `<script>
requestAnimationFrame(() => setTimeout(() => {
  const chartJs = document.createElement('script');
  chartJs.src = '/assets/chart.js';
  chartJs.onload = () => {
${script}
  };
  document.head.append(chartJs);
}));
</script>`;

/**
 * Sign in place: post the form with fetch and swap the gate's section for the answer. Anything but a section (a
 * refused CSRF token, a lost session) replaces the page, as a plain post would.
 */
const IN_PLACE_SCRIPT = `<script>
document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (form.id !== 'signoff') return;
  event.preventDefault();
  performance.mark('submit');
  const body = new URLSearchParams(new FormData(form, event.submitter));
  for (const button of form.querySelectorAll('button')) button.disabled = true;
  try {
    const res = await fetch(form.action, { method: 'POST', body, headers: { 'x-cutover-fragment': 'gate' } });
    const html = await res.text();
    if (res.headers.get('x-cutover-fragment') !== 'gate') {
      document.open();
      document.write(html);
      document.close();
      return;
    }
    document.getElementById('gate').outerHTML = html;
    requestAnimationFrame(() => setTimeout(() => performance.mark('answer-shown')));
  } catch {
    form.submit();
  }
});
</script>`;

/** Follow the cutover: reload when it moves on, unless the approver is writing a comment. */
const liveScript = (id: string) => `<script>
(() => {
  const banner = document.getElementById('live');
  const tick = async () => {
    try {
      const res = await fetch('/cutovers/${id}/live', { headers: { accept: 'application/json' } });
      if (res.ok) {
        const now = await res.json();
        if (now.version !== document.getElementById('gate').dataset.version) {
          const comment = document.querySelector('textarea[name=comment]');
          if (!comment || (comment.value === '' && document.activeElement !== comment)) return location.replace('/cutovers/${id}');
          banner.hidden = false;
          banner.textContent = 'The cutover moved on (' + now.phase + ', ' + now.state + '): reload to see the evidence it has now.';
        }
      }
    } catch {}
    setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
})();
</script>`;

const isGlass = (answer: Answer) => answer.kind === 'glass' || (answer.kind === 'app' && answer.glass === true);

/**
 * The break-glass form, while a change waits for the calendar and the policy names a break-glass role: for whoever
 * holds that role or a role of the plan (the second person), with a reason. The app attests it like a sign-off.
 */
function glassSection(s: CutoverStatus, { login, csrf }: Viewer, answer?: Answer): string {
  const w = s.waitingForWindow;
  if (!w?.breakGlass || !s.evidenceDigest) return answer ? answerBanner(answer) : '';
  const given = w.glassGiven ?? [];
  const signed = given.filter((g) => canonicalName(g.approver) === canonicalName(login.user));
  const may = glassRolesFor(login, s).filter((r) => r.may);
  const list = given.length
    ? `<p id="glass-given">Broken so far by ${given.map((g) => `<b>${esc(g.approver)}</b> (${esc(g.role)}, ${esc(g.at)})`).join(', ')}.</p>`
    : '';
  const form = signed.length
    ? `<p id="glass-signed">You broke the glass as ${esc(signed.map((g) => g.role).join(', '))}: ${esc(w.what)} goes once the ${esc(w.breakGlass)} and a second person have.</p>`
    : may.length
      ? `<form method="post" action="/cutovers/${encodeURIComponent(s.workflowId)}/break-glass" class="signoff" id="break-glass">
<input type="hidden" name="_csrf" value="${esc(csrf)}">
<input type="hidden" name="evidenceDigest" value="${esc(s.evidenceDigest)}">
<input type="hidden" name="change" value="${esc(w.change ?? '')}">
<p>You break the glass as <b>${esc(login.user)}</b> for <select name="role">${may.map((r) => `<option>${esc(r.role)}</option>`).join('')}</select>: ${esc(w.what)} goes now, inside ${esc(w.reason)}, once the ${esc(w.breakGlass)} and a second person have.</p>
<label>Reason <textarea name="reason" maxlength="2000" required placeholder="The incident, and why it cannot wait"></textarea></label>
<p><button type="submit" class="reject">Break the glass</button></p></form>`
      : `<p class="muted" id="no-glass">Only the ${esc(w.breakGlass)} (${esc((w.breakGlassBy?.approvers ?? []).join(', '))}) and a second person of this cutover may break the glass.</p>`;
  return `<section id="glass"><h2>Break-glass</h2>${answer ? answerBanner(answer) : ''}${list}${form}</section>`;
}

function answerBanner(answer: Answer): string {
  if (answer.kind === 'glass') {
    const a = answer.answer;
    return a.accepted
      ? `<div class="answer ok" id="glass-answer" role="status"><b>Counted:</b> your break-glass as ${esc(answer.role)}. ${a.broken ? 'The glass is broken: the change goes now.' : 'It takes a second person too.'}</div>`
      : `<div class="answer refused" id="glass-answer" role="alert"><b>Refused</b> (rule <code>${esc(a.rule)}</code>): ${esc(a.reason)}</div>`;
  }
  if (answer.kind === 'app') {
    return `<div class="answer refused" id="answer" role="alert"><b>Not submitted.</b> ${esc(answer.message)}</div>`;
  }
  const { answer: a, role, decision } = answer;
  if (a.accepted) {
    const missing = a.gate.roles.filter((r) => r.missing > 0).map((r) => r.role);
    return `<div class="answer ok" id="answer" role="status"><b>Counted:</b> your ${esc(decision)} for ${esc(role)}. Gate ${esc(a.gate.status)}${missing.length ? `; still missing: ${esc(missing.join(', '))}` : ''}.</div>`;
  }
  const stale = a.rule === 'stale-evidence';
  return `<div class="answer refused" id="answer" role="alert"><b>Refused by the gate</b> (rule <code id="rule">${esc(a.rule)}</code>): ${esc(a.reason)}${stale ? '<br>The evidence changed after this page showed it: review the evidence below, then sign again.' : ''}</div>`;
}

export function messagePage(title: string, message: string, viewer?: Partial<Viewer>): string {
  return layout(
    title,
    viewer,
    `<h1>${esc(title)}</h1><p id="message">${esc(message)}</p><p><a href="/">Back to the list</a></p>`,
  );
}
