// Sluice dashboard client: renders the JSON views the server pushes over server-sent events (the server
// watches the API; the page never polls). DOM is built with textContent only, never HTML strings from
// data; the CSP forbids inline scripts and eval. Actions are POSTs carrying the session's CSRF token,
// each behind a confirmation dialog.

const ACTION_LABELS = {
  promote: 'Promote',
  'promote-full': 'Promote full',
  abort: 'Abort',
  retry: 'Retry',
  restart: 'Restart',
  undo: 'Undo',
};
const ACTION_QUESTIONS = {
  promote: 'Promote {r}: resume it past the current pause or step?',
  'promote-full': 'Fully promote {r}: skip every remaining step, pause and analysis?',
  abort: 'Abort {r}: send all traffic back to the stable revision?',
  retry: 'Retry {r}: resume the aborted update?',
  restart: 'Restart the pods of {r}?',
  undo: 'Undo {r}: roll back to the previous revision?',
};

let session = { csrfToken: '', readOnly: true, actions: [], namespace: null, proxyStats: false };
let source;
let currentPage;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'onclick') el.addEventListener('click', v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function status(text) {
  return h('span', { class: `status s-${text || 'Unknown'}` }, text || '—');
}

function age(ts) {
  if (!ts) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function pct(v) {
  return v === undefined || v === null ? '—' : `${(v * 100).toFixed(1)}%`;
}

function ms(v) {
  return v === undefined || v === null ? '—' : `${v} ms`;
}

function setMain(...nodes) {
  const main = document.getElementById('main');
  main.replaceChildren(...nodes);
}

function setCrumbs(...nodes) {
  document.getElementById('crumbs').replaceChildren(...nodes);
}

function toast(text, isError) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.className = isError ? 'err' : '';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    t.hidden = true;
  }, 5000);
}

function connect(query, handlers) {
  if (source) source.close();
  const live = document.getElementById('live');
  source = new EventSource(`/api/stream?${new URLSearchParams(query)}`);
  source.onopen = () => {
    live.textContent = 'live';
    live.className = 'live on';
  };
  source.onerror = () => {
    live.textContent = 'reconnecting';
    live.className = 'live';
  };
  for (const [event, fn] of Object.entries(handlers)) {
    source.addEventListener(event, (e) => fn(JSON.parse(e.data)));
  }
}

// ---- the list ----

function weightsCell(r) {
  if (r.strategy !== 'Canary') return '—';
  return `${r.actualWeight || 0}% (set ${r.setWeight || 0}%)`;
}

function renderList(rows) {
  const byNs = new Map();
  for (const r of rows) {
    if (!byNs.has(r.namespace)) byNs.set(r.namespace, []);
    byNs.get(r.namespace).push(r);
  }
  const title = h('h1', {}, 'Rollouts');
  if (rows.length === 0) {
    setMain(
      title,
      h('p', { class: 'muted', id: 'empty' }, 'No Rollouts in ', session.namespace || 'any namespace', '.'),
    );
    return;
  }
  const sections = [];
  for (const [ns, list] of byNs) {
    sections.push(h('div', { class: 'ns' }, 'namespace ', h('b', {}, ns)));
    sections.push(
      h(
        'table',
        { class: 'rollouts', 'data-namespace': ns },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Name', 'Status', 'Strategy', 'Step', 'Canary weight', 'Ready', 'Images'].map((c) =>
              h('th', {}, c),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          list.map((r) =>
            h(
              'tr',
              { 'data-rollout': `${r.namespace}/${r.name}` },
              h('td', {}, h('a', { href: `#/rollouts/${r.namespace}/${r.name}` }, r.name)),
              h(
                'td',
                { class: 'phase' },
                status(r.status),
                r.aborted ? h('span', { class: 'tag' }, 'aborted') : null,
              ),
              h('td', {}, r.strategy || '—'),
              h('td', { class: 'step' }, r.step || '—'),
              h('td', { class: 'weight' }, weightsCell(r)),
              h('td', {}, `${r.ready}/${r.desired}`),
              h(
                'td',
                {},
                r.images.map((i) =>
                  h(
                    'div',
                    {},
                    i.image,
                    i.tags.map((t) => h('span', { class: `tag ${t}` }, t)),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }
  setMain(title, ...sections);
}

function showList() {
  currentPage = undefined;
  setCrumbs(session.namespace ? `namespace ${session.namespace}` : 'all namespaces');
  connect(session.namespace ? { namespace: session.namespace } : {}, { list: renderList });
}

// ---- one rollout ----

function confirmAction(action, ns, name) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = ACTION_QUESTIONS[action].replace(
    '{r}',
    `${ns}/${name}`,
  );
  const ok = document.getElementById('confirm-ok');
  ok.textContent = ACTION_LABELS[action];
  dialog.onclose = async () => {
    if (dialog.returnValue !== 'ok') return;
    try {
      const res = await fetch(`/api/rollouts/${ns}/${name}/actions/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-sluice-csrf': session.csrfToken },
        body: '{}',
      });
      const body = await res.json();
      toast(res.ok ? body.message : `${ACTION_LABELS[action]} failed: ${body.error}`, !res.ok);
    } catch (e) {
      toast(`${ACTION_LABELS[action]} failed: ${e}`, true);
    }
  };
  dialog.returnValue = '';
  dialog.showModal();
}

function replicaSetNode(rs) {
  const tags = ['stable', 'canary', 'active', 'preview'].filter((t) => rs[t]);
  return h(
    'div',
    { class: 'rs', 'data-rs': rs.name },
    h(
      'div',
      {},
      h('b', {}, rs.name),
      ' ',
      status(rs.status),
      tags.map((t) => h('span', { class: `tag ${t}` }, t)),
      h(
        'span',
        { class: 'muted' },
        `  ${rs.available}/${rs.replicas} available · ${rs.images.join(', ')} · ${age(rs.creationTimestamp)}`,
      ),
    ),
    h(
      'div',
      { class: 'pods' },
      rs.pods.map((p) =>
        h(
          'span',
          { class: 'pod', title: p.name },
          `${p.name.slice(-5)} `,
          status(p.status),
          ` ${p.ready}`,
          p.restarts ? ` ↻${p.restarts}` : '',
        ),
      ),
    ),
  );
}

function metricNode(m) {
  const cond = [];
  if (m.successCondition) cond.push(h('div', { class: 'cond' }, 'success: ', m.successCondition));
  if (m.failureCondition) cond.push(h('div', { class: 'cond' }, 'failure: ', m.failureCondition));
  const limits = [
    m.failureLimit && `failureLimit ${m.failureLimit}`,
    m.count && `count ${m.count}`,
    m.interval && `interval ${m.interval}`,
  ]
    .filter(Boolean)
    .join(' · ');
  return h(
    'div',
    { class: 'metric', 'data-metric': m.name },
    h(
      'div',
      {},
      h('b', {}, m.name),
      ' ',
      status(m.phase),
      h(
        'span',
        { class: 'muted' },
        ` ${m.provider} · ✔${m.successful} ✖${m.failed} ?${m.inconclusive} ⚠${m.error}${limits ? ` · ${limits}` : ''}`,
      ),
    ),
    cond,
    m.message ? h('div', { class: 'msg' }, m.message) : null,
    m.measurements.length === 0
      ? null
      : h(
          'table',
          { class: 'meas' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['#', 'Phase', 'Value', 'Finished', 'Message'].map((c) => h('th', {}, c)),
            ),
          ),
          h(
            'tbody',
            {},
            m.measurements.map((x, i) =>
              h(
                'tr',
                {},
                h('td', {}, i + 1),
                h('td', {}, status(x.phase)),
                h('td', { class: 'value' }, x.value),
                h('td', {}, age(x.finishedAt)),
                h('td', {}, x.message),
              ),
            ),
          ),
        ),
  );
}

function runNode(run) {
  return h(
    'div',
    { class: 'run', 'data-run': run.name },
    h('h3', {}, 'AnalysisRun ', run.name, ' ', status(run.status)),
    run.message ? h('div', { class: 'msg' }, run.message) : null,
    run.metrics.map(metricNode),
  );
}

function renderProxy(stats, page) {
  const box = document.getElementById('proxy');
  if (!box) return;
  if (stats.error) {
    box.replaceChildren(h('p', { class: 'muted' }, stats.error));
    return;
  }
  const revisionOf = (hash) => (page && page.hashes[hash] !== undefined ? `rev ${page.hashes[hash]}` : '');
  box.replaceChildren(
    h(
      'p',
      { class: 'muted', id: 'proxy-window' },
      `route ${stats.namespace}/${stats.route}, ${stats.windowMs > 0 ? `last ${(stats.windowMs / 1000).toFixed(0)} s` : 'since the proxy started'}`,
    ),
    h(
      'table',
      { class: 'proxy-stats' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Revision', 'Role', 'Req/s', 'Success', 'p50', 'p95', 'p99'].map((c) => h('th', {}, c)),
        ),
      ),
      h(
        'tbody',
        {},
        stats.revisions.map((r) =>
          h(
            'tr',
            { 'data-revision': r.revision },
            h('td', {}, r.revision, ' ', h('span', { class: 'muted' }, revisionOf(r.revision))),
            h('td', {}, r.role),
            h('td', {}, r.requestsPerSecond),
            h('td', { class: 'success' }, pct(r.successRate)),
            h('td', {}, ms(r.p50Ms)),
            h('td', {}, ms(r.p95Ms)),
            h('td', {}, ms(r.p99Ms)),
          ),
        ),
      ),
    ),
  );
}

function renderRollout(page) {
  if (page.notFound) {
    setMain(
      h('h1', {}, page.namespace, '/', page.name),
      h('p', { class: 'muted' }, 'This Rollout does not exist (or was deleted).'),
    );
    return;
  }
  const proxyBox = document.getElementById('proxy');
  currentPage = page;
  const r = page.row;
  const actions = session.readOnly
    ? h('p', { class: 'muted', id: 'read-only' }, 'Read-only: actions are disabled.')
    : h(
        'div',
        { class: 'actions' },
        session.actions.map((a) =>
          h(
            'button',
            {
              id: `action-${a}`,
              class: a === 'abort' ? 'danger' : '',
              onclick: () => confirmAction(a, r.namespace, r.name),
            },
            ACTION_LABELS[a],
          ),
        ),
      );
  const w = page.weights;
  const traffic = h(
    'div',
    { class: 'card' },
    h('h2', {}, 'Traffic'),
    w
      ? [
          h('div', { class: 'bar' }, h('div', { class: 'st', style: null }), h('div', { class: 'c' })),
          h(
            'dl',
            { class: 'kv' },
            h('dt', {}, 'canary'),
            h('dd', { id: 'weight-canary' }, `${w.canary}%`),
            h('dt', {}, 'stable'),
            h('dd', { id: 'weight-stable' }, `${w.stable}%`),
            h('dt', {}, 'verified'),
            h('dd', {}, w.verified === undefined ? '—' : String(w.verified)),
          ),
        ]
      : h(
          'p',
          { class: 'muted' },
          r.strategy === 'Canary'
            ? `canary weight ${r.actualWeight || 0}% (set ${r.setWeight || 0}%)`
            : 'no traffic weights',
        ),
    page.proxyRoute
      ? [
          h('h3', {}, 'Proxy, per revision'),
          proxyBox ||
            h(
              'div',
              { id: 'proxy' },
              h(
                'p',
                { class: 'muted' },
                session.proxyStats
                  ? 'waiting for the first scrape…'
                  : "start the dashboard with --proxy-admin HOST:PORT to see the proxy's numbers",
              ),
            ),
        ]
      : null,
  );
  const bar = traffic.querySelector('.bar');
  if (bar && w) {
    // Widths through the CSSOM (the CSP forbids style attributes in markup, not this).
    bar.children[0].style.width = `${w.stable}%`;
    bar.children[1].style.width = `${w.canary}%`;
  }
  const steps = h(
    'div',
    { class: 'card' },
    h('h2', {}, 'Steps'),
    page.steps.length === 0
      ? h('p', { class: 'muted' }, 'no steps')
      : h(
          'ol',
          { class: 'steps', start: 0 },
          page.steps.map((s) => h('li', { class: s.state, 'data-step': s.index }, s.text)),
        ),
  );
  const tree = h(
    'div',
    { class: 'card' },
    h('h2', {}, 'Revisions'),
    page.revisions.map((rev) =>
      h(
        'div',
        { class: 'rev', 'data-revision': rev.revision },
        h('h3', {}, `revision ${rev.revision}`),
        rev.replicaSets.map(replicaSetNode),
        rev.analysisRuns.map(runNode),
      ),
    ),
  );
  setMain(
    h(
      'h1',
      {},
      r.name,
      ' ',
      h('span', { id: 'phase' }, status(r.status)),
      r.aborted ? h('span', { class: 'tag', id: 'aborted' }, 'aborted') : null,
    ),
    r.message ? h('p', { class: 'msg', id: 'message' }, r.message) : null,
    h(
      'dl',
      { class: 'kv card' },
      h('dt', {}, 'namespace'),
      h('dd', {}, r.namespace),
      h('dt', {}, 'strategy'),
      h('dd', {}, r.strategy || '—'),
      h('dt', {}, 'step'),
      h('dd', { id: 'step' }, r.step || '—'),
      h('dt', {}, 'replicas'),
      h(
        'dd',
        {},
        `${r.desired} desired · ${r.updated} updated · ${r.ready} ready · ${r.available} available`,
      ),
      h('dt', {}, 'images'),
      h(
        'dd',
        {},
        r.images.map((i) =>
          h(
            'div',
            {},
            i.image,
            i.tags.map((t) => h('span', { class: `tag ${t}` }, t)),
          ),
        ),
      ),
    ),
    actions,
    h('div', { class: 'grid' }, h('div', {}, steps, traffic), tree),
  );
}

function showRollout(ns, name) {
  currentPage = undefined;
  setCrumbs(h('a', { href: '#/' }, 'rollouts'), ` / ${ns} / ${name}`);
  setMain(h('p', { class: 'muted' }, 'Loading…'));
  connect(
    { namespace: ns, rollout: name },
    {
      rollout: renderRollout,
      proxy: (stats) => renderProxy(stats, currentPage),
    },
  );
}

function route() {
  const m = /^#\/rollouts\/([a-z0-9.-]+)\/([a-z0-9.-]+)$/.exec(location.hash);
  if (m) showRollout(m[1], m[2]);
  else showList();
}

async function start() {
  const res = await fetch('/api/session');
  session = await res.json();
  window.addEventListener('hashchange', route);
  route();
}

start().catch((e) => setMain(h('p', { class: 'msg' }, `The dashboard failed to start: ${e}`)));
