// poolnsd status page: polls /v1/status and updates the page in place (no
// reload, no framework, no network but this server). Rows are keyed by
// pool and element, and a cell is written only when its text changes, so
// a thousand elements refresh every second without redrawing the page.
'use strict';

(function () {
  const params = new URLSearchParams(location.search);
  const refreshMs = Math.min(60000, Math.max(200, (Number(params.get('refresh')) || 1) * 1000));
  const store = window.localStorage;
  const collapsedKey = 'poolnsd.collapsed';
  // Pools the user opened or closed, by name: true collapsed, false open.
  let userCollapsed = {};
  try { userCollapsed = JSON.parse(store.getItem(collapsedKey) || '{}') || {}; } catch (e) { userCollapsed = {}; }

  const el = (id) => document.getElementById(id);
  const poolsEl = el('pools');
  const filterEl = el('filter');
  const problemsEl = el('problems');
  const pools = new Map(); // name -> pool view state
  let last = null;         // last good reply
  let lastOK = 0;          // when it came (client clock)
  let failures = 0;
  let timings = null;
  let bigDefault = false;  // collapse pools by default (many elements)

  el('every').textContent = fmtSecs(refreshMs / 1000);
  const collator = new Intl.Collator('en', { numeric: true });

  function h(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function setText(e, t) { if (e.textContent !== t) e.textContent = t; }
  function setClass(e, c) { if (e.className !== c) e.className = c; }
  function setTitle(e, t) { if (e.title !== t) e.title = t; }

  function fmtSecs(s) {
    if (s === null || s === undefined) return '';
    if (s < 1) return (Math.round(s * 1000)) + ' ms';
    if (s < 60) return (Math.round(s * 10) / 10) + ' s';
    const m = Math.floor(s / 60), r = Math.round(s % 60);
    if (m < 60) return m + 'm ' + r + 's';
    const hh = Math.floor(m / 60);
    if (hh < 48) return hh + 'h ' + (m % 60) + 'm';
    return Math.floor(hh / 24) + 'd ' + (hh % 24) + 'h';
  }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '';
    if (ms < 1) return ms.toFixed(3) + ' ms';
    if (ms < 100) return ms.toFixed(1) + ' ms';
    return Math.round(ms) + ' ms';
  }
  function addrText(e) {
    const a = (e.addresses || []).map((x) => x.includes(':') ? '[' + x + ']' : x);
    if (a.length === 0) return ':' + e.port;
    return a[0] + ':' + e.port + (a.length > 1 ? ' +' + (a.length - 1) : '');
  }
  function probeText(p) {
    if (!p) return 'no probe';
    let t = p.kind + (p.target ? ':' + p.target : '');
    if (p.kind !== 'none') t += ' every ' + fmtSecs(p.interval_ms / 1000) + ', rise ' + p.rise + ' fall ' + p.fall;
    return t;
  }

  // The columns of an element row: header, class, and the cell's text and
  // title from an element (e), its pool (p) and the reply (s).
  const columns = [
    { th: 'health', cls: 'health', text: (e) => e.disputed ? e.health + ', disputed' : e.health,
      klass: (e) => e.disputed ? 'disputed' : '' },
    { th: 'element', cls: '', text: (e) => e.label, title: (e) => e.name },
    { th: 'id', cls: 'mono', text: (e) => e.id },
    { th: 'address', cls: 'mono', text: addrText, title: (e) => (e.addresses || []).join(' ') + ' port ' + e.port + ' ' + e.transport },
    { th: 'served', cls: '', text: (e) => e.served ? (e.last ? 'yes, last here' : 'yes') : 'no',
      title: (e) => e.disputed ? 'disputed: ' + (e.vantage || []).map((v) => v.registrar + ' sees it ' + v.health).join(', ') : '' },
    { th: 'admin', cls: '', text: (e) => e.admin === 'auto' ? (e.reported ? 'reported' : 'auto') : e.admin + (e.reported ? ', reported' : ''),
      klass: (e) => e.admin === 'drain' ? 'adm-drain' : e.admin === 'force-down' ? 'adm-force-down' : e.reported ? 'rep' : '' },
    { th: 'last probe', cls: '', text: (e, p, s) => {
        const lp = e.last_probe;
        if (!lp) return (e.probe && e.probe.kind === 'none') || (!e.probe && !p.probe) ? '—' : 'not yet';
        const ago = (Date.parse(s.time) - Date.parse(lp.at)) / 1000;
        return (lp.ok ? 'pass' : 'fail') + ', ' + fmtSecs(Math.max(0, ago)) + ' ago';
      },
      klass: (e) => e.last_probe ? (e.last_probe.ok ? 'ok' : 'fail') : '',
      title: (e, p) => probeText(e.probe || p.probe) + (e.last_probe ? ' · took ' + fmtMs(e.last_probe.rtt_ms) : '') },
    { th: 'error', cls: 'err', text: (e) => e.last_probe && !e.last_probe.ok ? e.last_probe.error : '' },
    { th: 'RTT', cls: 'num', text: (e) => fmtMs(e.rtt_ms) },
    { th: 'load', cls: 'num', text: (e) => Math.round(e.load * 1000) / 10 + ' %' },
    { th: 'weight / prio', cls: 'num', text: (e) => e.weight + ' / ' + e.priority },
    { th: 'site', cls: '', text: (e) => e.site || '' },
    { th: 'home', cls: 'mono', text: (e, p, s) => e.home === s.registrar ? e.home + ' (here)' : e.home },
    { th: 'lease left', cls: 'num', text: (e) => e.lease_left_s === null || e.lease_left_s === undefined ? (e.static ? 'zone file' : '') : fmtSecs(e.lease_left_s) },
  ];

  function rowClass(e) {
    let c = 'h-' + e.health;
    if (!e.served) c += ' not-served';
    if (e.admin !== 'auto') c += ' a-' + e.admin;
    if (e.reported) c += ' reported';
    return c;
  }
  function problem(e) { return e.health !== 'up' || !e.served || e.admin !== 'auto' || e.reported || !!e.disputed; }
  function haystack(e, p) {
    return [p.name, e.label, e.name, e.id, (e.addresses || []).join(' '), ':' + e.port, e.site, e.health,
      e.admin, e.reported ? 'reported' : '', e.served ? 'served' : 'unserved', e.home, e.disputed ? 'disputed' : '',
      e.last_probe && !e.last_probe.ok ? e.last_probe.error : ''].join(' ').toLowerCase();
  }

  function makePool(p) {
    const sec = h('section', 'pool');
    sec.dataset.pool = p.name;
    const head = h('button', 'pool-head');
    head.type = 'button';
    const caret = h('span', 'caret', '▸');
    const name = h('span', 'pool-name', p.name);
    const meta = h('span', 'pool-meta');
    const counts = h('span', 'pool-counts');
    const bar = h('span', 'bar');
    const segs = {};
    for (const k of ['up', 'out', 'unknown', 'down']) { segs[k] = h('i', 'b-' + k); bar.appendChild(segs[k]); }
    head.append(caret, name, meta, counts, bar);
    const body = h('div', 'pool-body');
    const table = h('table');
    const thead = h('thead');
    const tr = h('tr');
    for (const c of columns) tr.appendChild(h('th', c.cls === 'num' ? 'num' : '', c.th));
    thead.appendChild(tr);
    const tbody = h('tbody');
    table.append(thead, tbody);
    body.appendChild(table);
    sec.append(head, body);
    const st = { sec, head, meta, counts, bar, segs, tbody, rows: new Map(), order: '', data: p };
    head.addEventListener('click', () => {
      const now = !sec.classList.contains('collapsed');
      userCollapsed[p.name] = now;
      try { store.setItem(collapsedKey, JSON.stringify(userCollapsed)); } catch (e) { /* private mode */ }
      applyVisibility();
    });
    return st;
  }

  function makeRow(e, p) {
    const tr = h('tr');
    tr.dataset.pe = p.name + '/' + e.id;
    const cells = columns.map((c) => {
      const td = h('td', c.cls);
      tr.appendChild(td);
      return td;
    });
    cells[0].prepend(h('span', 'dot'));
    cells[0].appendChild(h('span', 'htext'));
    return { tr, cells, hay: '', prob: false };
  }

  function updateRow(r, e, p, s) {
    setClass(r.tr, rowClass(e));
    columns.forEach((c, i) => {
      const td = r.cells[i];
      const text = c.text(e, p, s);
      if (i === 0) setText(td.lastChild, text); else setText(td, text);
      if (c.klass) setClass(td, (c.cls + ' ' + c.klass(e)).trim());
      if (c.title) setTitle(td, c.title(e, p));
    });
    r.hay = haystack(e, p);
    r.prob = problem(e);
  }

  function updatePool(st, p, s) {
    st.data = p;
    const c = p.counts;
    let meta = p.policy + ' · TTL ' + p.ttl + ' s · ' + p.answers + (p.answers === 1 ? ' answer' : ' answers');
    if (p.service) meta += ' · ' + p.service;
    meta += ' · ' + probeText(p.probe);
    if (p.alldown === 'all') meta += ' · fails open';
    if (!p.static) meta += ' · registered';
    setText(st.meta, meta);
    const parts = [c.served + '/' + c.elements + ' served', c.up + ' up'];
    if (c.down) parts.push(c.down + ' down');
    if (c.unknown) parts.push(c.unknown + ' unknown');
    if (c.drained) parts.push(c.drained + ' drained');
    if (c.forced_down) parts.push(c.forced_down + ' forced down');
    if (c.reported) parts.push(c.reported + ' reported');
    if (c.disputed) parts.push(c.disputed + ' disputed');
    if (p.fail_open) parts.push('FAIL OPEN');
    setText(st.counts, parts.join(' · '));
    const upServed = c.served;
    st.segs.up.style.flexGrow = upServed;
    st.segs.out.style.flexGrow = Math.max(0, c.up - upServed);
    st.segs.unknown.style.flexGrow = c.unknown;
    st.segs.down.style.flexGrow = c.down;
    setClass(st.sec, 'pool' + (c.elements > 0 && c.served === 0 ? ' pool-bad' : '') + (st.sec.classList.contains('collapsed') ? ' collapsed' : ''));

    // By name, numbers by value (web2 before web10), as poolnsd status lists them.
    const els = (p.elements || []).slice().sort((a, b) => collator.compare(a.label, b.label) || (a.id < b.id ? -1 : 1));
    const seen = new Set();
    for (const e of els) {
      let r = st.rows.get(e.id);
      if (!r) { r = makeRow(e, p); st.rows.set(e.id, r); }
      updateRow(r, e, p, s);
      seen.add(e.id);
    }
    for (const [id, r] of st.rows) if (!seen.has(id)) { r.tr.remove(); st.rows.delete(id); }
    const order = els.map((e) => e.id).join(',');
    if (order !== st.order) {
      for (const e of els) st.tbody.appendChild(st.rows.get(e.id).tr);
      st.order = order;
    }
  }

  function render(s) {
    const seen = new Set();
    let total = 0;
    for (const p of s.pools) total += p.counts.elements;
    bigDefault = total > 300;
    let prev = null;
    for (const p of s.pools) {
      let st = pools.get(p.name);
      if (!st) { st = makePool(p); pools.set(p.name, st); }
      updatePool(st, p, s);
      // Keep the reply's order.
      const want = prev ? prev.sec.nextSibling : poolsEl.firstChild;
      if (want !== st.sec) poolsEl.insertBefore(st.sec, want);
      prev = st;
      seen.add(p.name);
    }
    for (const [name, st] of pools) if (!seen.has(name)) { st.sec.remove(); pools.delete(name); }
    el('empty').hidden = s.pools.length > 0;

    const t = s.totals;
    const tot = el('totals');
    tot.replaceChildren();
    const item = (n, label, cls) => { const sp = h('span', cls); sp.append(h('b', '', String(n)), ' ' + label); tot.appendChild(sp); };
    item(s.pools.length, 'pools');
    item(t.elements, 'elements');
    item(t.served, 'served', 'h-up');
    if (t.down) item(t.down, 'down', 'fail');
    if (t.unknown) item(t.unknown, 'unknown', 'muted');
    if (t.drained) item(t.drained, 'drained', 'adm-drain');
    if (t.forced_down) item(t.forced_down, 'forced down', 'adm-force-down');
    if (t.reported) item(t.reported, 'reported', 'rep');
    if (t.disputed) item(t.disputed, 'disputed', 'disputed');
    setText(el('registrar'), s.registrar ? 'registrar ' + s.registrar : '');
    const bad = t.down + t.unknown;
    document.title = (bad ? bad + ' not up · ' : '') + 'poolnsd';
    applyVisibility();
  }

  // applyVisibility shows the rows that pass the filter and the pools that
  // have any, and opens or closes pools.
  function applyVisibility() {
    const words = filterEl.value.toLowerCase().split(/\s+/).filter(Boolean);
    const onlyProblems = problemsEl.checked;
    const filtering = words.length > 0 || onlyProblems;
    let shownRows = 0, allRows = 0, shownPools = 0;
    for (const st of pools.values()) {
      let n = 0;
      for (const r of st.rows.values()) {
        const ok = (!onlyProblems || r.prob) && words.every((w) => r.hay.includes(w));
        if (r.tr.hidden === ok) r.tr.hidden = !ok;
        if (ok) n++;
        allRows++;
      }
      const poolMatch = words.length > 0 && !onlyProblems && words.every((w) => st.data.name.includes(w));
      if (poolMatch) {
        for (const r of st.rows.values()) if (r.tr.hidden) { r.tr.hidden = false; n++; }
      }
      const show = !filtering || n > 0 || poolMatch;
      if (st.sec.hidden === show) st.sec.hidden = !show;
      if (show) shownPools++;
      shownRows += n;
      let collapsed = st.data.name in userCollapsed ? userCollapsed[st.data.name] : bigDefault && st.data.counts.served > 0;
      if (filtering) collapsed = false; // a filter opens the pools it shows
      st.sec.classList.toggle('collapsed', collapsed);
      st.head.setAttribute('aria-expanded', String(!collapsed));
    }
    setText(el('shown'), filtering ? shownRows + ' of ' + allRows + ' elements in ' + shownPools + ' pools' : '');
  }

  function setConn(cls, text) {
    setClass(el('conn'), 'conn ' + cls);
    setText(el('conn-text'), text);
  }

  let timer = 0;
  async function poll() {
    clearTimeout(timer);
    try {
      const t0 = performance.now();
      const resp = await fetch('/v1/status', { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (!resp.ok) throw new Error('HTTP ' + resp.status);
      const s = await resp.json();
      const t1 = performance.now();
      last = s;
      lastOK = Date.now();
      failures = 0;
      render(s);
      timings = { fetch_ms: t1 - t0, render_ms: performance.now() - t1 };
      setConn('conn-live', 'live · updated ' + new Date(s.time).toLocaleTimeString());
    } catch (err) {
      failures++;
      const age = lastOK ? ' · data ' + fmtSecs((Date.now() - lastOK) / 1000) + ' old' : '';
      setConn('conn-stale', 'cannot reach the server (' + err.message + '), retrying' + age);
    }
    if (!document.hidden) timer = setTimeout(poll, failures ? Math.min(refreshMs * (1 + failures), 10000) : refreshMs);
  }

  filterEl.addEventListener('input', applyVisibility);
  problemsEl.addEventListener('change', applyVisibility);
  el('expand').addEventListener('click', () => { for (const n of pools.keys()) userCollapsed[n] = false; saveAndApply(); });
  el('collapse').addEventListener('click', () => { for (const n of pools.keys()) userCollapsed[n] = true; saveAndApply(); });
  function saveAndApply() {
    try { store.setItem(collapsedKey, JSON.stringify(userCollapsed)); } catch (e) { /* private mode */ }
    applyVisibility();
  }
  document.addEventListener('keydown', (ev) => {
    if (ev.key === '/' && document.activeElement !== filterEl) { ev.preventDefault(); filterEl.focus(); }
    if (ev.key === 'Escape' && document.activeElement === filterEl) { filterEl.value = ''; applyVisibility(); }
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });
  if (params.get('filter')) filterEl.value = params.get('filter');
  poll();
  // For tests and the curious: the last reply, and how long the last
  // refresh took to fetch and to render.
  window.poolnsdStatus = () => last;
  window.poolnsdTimings = () => timings;
})();
