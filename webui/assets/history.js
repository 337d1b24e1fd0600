// poolnsd status page, history and peers: polls /v1/history and /v1/peers
// and draws, in inline SVG made here (no library, nothing from elsewhere):
// the registrar's series (queries per second, answer latency, elements
// served, health changes, peers up), a peers panel (RTT, takeovers and
// hand-offs), and in each pool its series (answers per second and their
// latency among them), the share of first positions its policy gives,
// and one health band per element over the short window with the reason
// on hover.
// It leaves app.js's tables alone: it adds its own blocks beside them.
'use strict';

(function () {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const params = new URLSearchParams(location.search);
  const refreshMs = Math.min(60000, Math.max(1000, (Number(params.get('history_refresh')) || 2) * 1000));
  const windows = { '15m': '15 min', '1h': '1 h', '6h': '6 h', '24h': '24 h' };
  let windowKey = params.get('window') in windows ? params.get('window') : '15m';
  // Pools with more elements than this show bands only for the elements
  // that were not up the whole window.
  const allBandsMax = 40;
  const stateNames = { up: 'up', down: 'down', unknown: 'unknown', drained: 'drained', 'forced-down': 'forced down',
    reported: 'reported', disputed: 'disputed', gone: 'gone' };

  const el = (id) => document.getElementById(id);
  const collator = new Intl.Collator('en', { numeric: true });
  let lastHistory = null, lastPeers = null, lastTimelines = null;
  let timings = null;

  function h(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function s(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmtNum(v) {
    if (v === null || v === undefined) return '–';
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(a >= 1e5 ? 0 : 1) + 'k';
    if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
    return v.toFixed(a >= 10 ? 1 : 2);
  }
  function fmtDur(sec) {
    sec = Math.max(0, sec);
    if (sec < 60) return Math.round(sec) + ' s';
    const m = Math.floor(sec / 60), r = Math.round(sec % 60);
    if (m < 60) return m + 'm' + (r ? ' ' + r + 's' : '');
    return Math.floor(m / 60) + 'h ' + (m % 60) + 'm';
  }
  function fmtClock(ms) { return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }); }

  // ---- page skeleton (index.html has the two sections) ----
  const overview = el('overview');
  const peersEl = el('peers');
  const chartsEl = h('div', 'charts');
  const winEl = h('div', 'win');
  for (const k of Object.keys(windows)) {
    const b = h('button', 'win-b', windows[k]);
    b.type = 'button';
    b.dataset.window = k;
    b.addEventListener('click', () => { windowKey = k; markWindow(); poll(); });
    winEl.appendChild(b);
  }
  function markWindow() {
    for (const b of winEl.children) b.setAttribute('aria-pressed', String(b.dataset.window === windowKey));
  }
  markWindow();
  const ovHead = h('div', 'ov-head');
  ovHead.append(h('h2', '', 'History'), winEl, h('span', 'muted ov-note'));
  overview.append(ovHead, chartsEl);

  // ---- charts ----
  // chart draws one or more series of the same unit as lines (the first
  // filled) over the reply's time axis, with its last value, the range, and
  // a readout of the point under the pointer.
  function chart(key, title, unit, lines, rep, opts) {
    opts = opts || {};
    const W = opts.width || 260, H = opts.height || 64, padL = 2, padR = 2, padT = 4, padB = 4;
    const n = lines.reduce((m, l) => Math.max(m, l.values ? l.values.length : 0), 0);
    let max = opts.min0 === false ? -Infinity : 0, min = opts.min0 === false ? Infinity : 0, have = 0;
    for (const l of lines) for (const v of (l.values || [])) if (v !== null) { max = Math.max(max, v); min = Math.min(min, v); have++; }
    if (!have) { max = 1; min = 0; }
    if (max === min) max = min + 1;
    const x = (i) => padL + (n <= 1 ? 0 : i * (W - padL - padR) / (n - 1));
    const y = (v) => padT + (H - padT - padB) * (1 - (v - min) / (max - min));
    const box = h('figure', 'chart');
    box.dataset.series = key;
    const cap = h('figcaption');
    const lastV = lastValue(lines[0].values);
    const val = h('b', 'chart-val', fmtNum(lastV) + (unit ? ' ' + unit : ''));
    cap.append(h('span', 'chart-title', title), val);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'spark', role: 'img', 'aria-label': title });
    svg.dataset.points = String(have);
    lines.forEach((l, li) => {
      const vals = l.values || [];
      let d = '', fill = '', run = [];
      const flush = () => {
        if (run.length === 0) return;
        // A lone point is a dot (a round cap on a tiny segment).
        d += 'M' + run.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join('L') + (run.length === 1 ? 'h0.01' : '');
        if (li === 0 && l.fill !== false) {
          fill += 'M' + run[0][0].toFixed(1) + ',' + y(min).toFixed(1) + 'L' + run.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join('L') +
            'L' + run[run.length - 1][0].toFixed(1) + ',' + y(min).toFixed(1) + 'Z';
        }
        run = [];
      };
      vals.forEach((v, i) => { if (v === null) flush(); else run.push([x(i), y(v)]); });
      flush();
      if (fill) svg.appendChild(s('path', { d: fill, class: 'area ' + (l.cls || '') }));
      if (d) svg.appendChild(s('path', { d, class: 'line ' + (l.cls || ''), 'data-name': l.name }));
    });
    const cross = s('line', { x1: 0, x2: 0, y1: 0, y2: H, class: 'cross', visibility: 'hidden' });
    svg.appendChild(cross);
    const foot = h('div', 'chart-foot muted');
    const range = h('span', '', 'max ' + fmtNum(have ? max : null));
    const read = h('span', 'chart-read');
    foot.append(range, read);
    const t0 = Date.parse(rep.start), step = rep.step_s * 1000;
    svg.addEventListener('mousemove', (ev) => {
      const r = svg.getBoundingClientRect();
      const i = Math.max(0, Math.min(n - 1, Math.round((ev.clientX - r.left) / r.width * (n - 1))));
      cross.setAttribute('x1', x(i)); cross.setAttribute('x2', x(i)); cross.setAttribute('visibility', 'visible');
      read.textContent = fmtClock(t0 + i * step) + ': ' + lines.map((l) => (lines.length > 1 ? l.name + ' ' : '') + fmtNum((l.values || [])[i])).join(', ');
    });
    svg.addEventListener('mouseleave', () => { cross.setAttribute('visibility', 'hidden'); read.textContent = ''; });
    if (lines.length > 1) {
      const leg = h('div', 'chart-legend');
      for (const l of lines) { const sp = h('span', 'lg ' + (l.cls || ''), l.name); leg.appendChild(sp); }
      box.append(cap, svg, leg, foot);
    } else {
      box.append(cap, svg, foot);
    }
    return box;
  }
  function lastValue(vals) {
    if (!vals) return null;
    for (let i = vals.length - 1; i >= 0; i--) if (vals[i] !== null) return vals[i];
    return null;
  }

  function renderOverview(rep) {
    const g = rep.global;
    const charts = [
      chart('qps', 'queries / s', '', [{ name: 'qps', values: g.qps, cls: 'c-q' }], rep),
      chart('latency_us', 'answer latency (mean)', 'µs', [{ name: 'latency', values: g.latency_us, cls: 'c-l' }], rep),
      chart('served', 'elements served', '', [{ name: 'served', values: g.served, cls: 'c-up' }, { name: 'elements', values: g.elements, cls: 'c-all', fill: false }], rep),
      chart('changes', 'health changes', '', [{ name: 'changes', values: g.changes, cls: 'c-down' }], rep),
    ];
    if (lastPeers && lastPeers.peering) charts.push(chart('peers_up', 'peers up', '', [{ name: 'peers up', values: g.peers_up, cls: 'c-up' }], rep));
    chartsEl.replaceChildren(...charts);
    let note = 'every ' + fmtDur(rep.step_s) + ', last ' + fmtDur(rep.window_s);
    if (rep.untracked_pools) note += ' · ' + rep.untracked_pools + ' pools without history (limit)';
    if (rep.untracked_elements) note += ' · ' + rep.untracked_elements + ' elements without timeline (limit)';
    ovHead.querySelector('.ov-note').textContent = note;
  }

  // ---- per pool ----
  function poolBlock(sec) {
    let b = sec.querySelector(':scope > .pool-hist');
    if (!b) {
      b = h('div', 'pool-hist');
      const body = sec.querySelector(':scope > .pool-body');
      sec.insertBefore(b, body);
    }
    return b;
  }

  function renderPool(p, rep, tl) {
    const sec = document.querySelector('section.pool[data-pool="' + CSS.escape(p.name) + '"]');
    if (!sec) return false; // app.js has not drawn it yet
    // A closed or filtered-out pool is drawn when it opens (onOpen).
    if (sec.hidden || sec.classList.contains('collapsed')) return false;
    const b = poolBlock(sec);
    const row = h('div', 'ph-row');
    row.append(
      chart('pool-served', 'elements', '', [
        { name: 'served', values: p.series.served, cls: 'c-up' },
        { name: 'down', values: p.series.down, cls: 'c-down', fill: false },
        { name: 'all', values: p.series.elements, cls: 'c-all', fill: false }], rep, { width: 300 }),
      chart('pool-answers', 'answers / s', '', [{ name: 'answers', values: p.series.answers, cls: 'c-q' }], rep, { width: 200 }),
      chart('pool-latency', 'answer latency (mean)', 'µs', [{ name: 'latency', values: p.series.latency_us, cls: 'c-l' }], rep, { width: 200 }),
      chart('pool-changes', 'health changes', '', [{ name: 'changes', values: p.series.changes, cls: 'c-down' }], rep, { width: 160 }),
      shareBlock(p));
    const parts = [row];
    if (tl) parts.push(timelineBlock(tl.pool, tl));
    b.replaceChildren(...parts);
    return true;
  }

  // shareBlock draws how the first position of the pool's answers is
  // shared among its elements: what the policy should give among the
  // elements served now, and what the answers did over the last 10 s or
  // so and the last minute. An element keeps its colour in every bar.
  function shareBlock(p) {
    const box = h('figure', 'chart share');
    box.dataset.series = 'share';
    const ex = p.expected_share;
    const bases = { equal: 'equal shares', weight: 'by weight', priority: 'lowest priority value only' };
    const cap = h('figcaption');
    cap.append(h('span', 'chart-title', 'first answer: share by element (' + p.policy + ')'));
    box.appendChild(cap);
    const labels = new Set();
    for (const e of (ex && ex.elements) || []) labels.add(e.label);
    for (const a of p.actual_share || []) for (const e of a.elements) labels.add(e.label);
    const order = [...labels].sort(collator.compare);
    const colour = new Map(order.map((l, i) => [l, i % 6]));
    const W = 300, H = 12;
    const row = (kind, name, elements, note) => {
      const line = h('div', 'share-row');
      line.dataset.kind = kind;
      line.appendChild(h('span', 'share-name muted', name));
      if (!elements || elements.length === 0) {
        line.appendChild(h('span', kind === 'expected' ? 'fail' : 'muted', note));
        return line;
      }
      const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'sharebar' });
      let x = 0;
      for (const e of elements) {
        const w = e.share * W;
        // A gap between elements where they are wide enough to spare it.
        const r = s('rect', { x: x.toFixed(2), y: 0, width: (w > 4 ? w - 1 : w).toFixed(2), height: H, class: 'sh sh' + colour.get(e.label),
          'data-pe': e.id, 'data-label': e.label, 'data-share': e.share.toFixed(4) });
        r.appendChild(s('title', {}, e.label + ': ' + (e.share * 100).toFixed(1) + ' %' + (e.answers !== undefined ? ' (' + e.answers + ' answers)' : '')));
        svg.appendChild(r);
        x += w;
      }
      line.append(svg, h('span', 'share-note muted', note));
      return line;
    };
    if (ex && ex.omitted) {
      // More elements than the server lists shares for (MaxShareElements).
      const line = row('expected', 'policy', null, '');
      line.lastChild.className = 'muted';
      line.lastChild.textContent = bases[ex.basis] + ' among ' + fmtNum(ex.omitted) + ' elements served: too many to draw';
      box.appendChild(line);
    } else if (!ex || !ex.elements) {
      const why = { load: 'follows the elements\' load', client: 'follows each client\'s distance',
        distance: 'follows the elements\' load and distance penalties' };
      box.appendChild(row('expected', 'policy', null, 'no fixed share: ' + ((ex && why[ex.basis]) || 'depends on state')));
    } else {
      box.appendChild(row('expected', 'policy', ex.elements, ex.elements.length ? bases[ex.basis] : 'no element served: no answer'));
    }
    for (const a of p.actual_share || []) {
      const name = 'last ' + fmtDur(a.for_s);
      let note = a.answers ? fmtNum(a.answers) + ' answers' : 'no answer';
      if (a.window_s < a.for_s * 0.9) note += ' (history of ' + fmtDur(a.window_s) + ')';
      else note += ' in ' + fmtDur(a.window_s);
      box.appendChild(row(a.for_s < 30 ? 'recent' : 'minute', name, a.elements, note));
    }
    const leg = h('div', 'chart-legend');
    if (order.length <= 16) {
      for (const l of order) leg.appendChild(h('span', 'lg shc' + colour.get(l), l));
    } else {
      leg.appendChild(h('span', 'muted', order.length + ' elements: hover a bar for its element'));
    }
    box.appendChild(leg);
    return box;
  }

  // timelineBlock draws one band per element over the short window.
  function timelineBlock(p, tl) {
    const box = h('figure', 'timeline');
    const endMs = Date.parse(tl.time), win = tl.short_window_s * 1000, startMs = endMs - win;
    let els = p.timelines || [];
    const all = els.length;
    const steady = (t) => t.state === 'up' && t.spans.every((sp) => sp.state === 'up' || Date.parse(sp.to) <= startMs);
    let hidden = 0;
    if (all > allBandsMax) {
      const keep = els.filter((t) => !steady(t));
      hidden = all - keep.length;
      els = keep;
    }
    const cap = h('figcaption');
    cap.append(h('span', 'chart-title', 'health, last ' + fmtDur(tl.short_window_s)),
      h('span', 'muted', hidden ? ' · ' + hidden + ' of ' + all + ' elements up all the time, not drawn' : ''));
    box.appendChild(cap);
    if (els.length === 0) { box.appendChild(h('div', 'muted', all ? 'every element up the whole time' : 'no element')); return box; }
    const labelW = 110, W = 760, rowH = 14, gap = 3, axisH = 14;
    const H = els.length * (rowH + gap) + axisH;
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'tl' });
    svg.dataset.pool = p.name;
    const bw = W - labelW - 4;
    const xt = (ms) => labelW + Math.max(0, Math.min(1, (ms - startMs) / win)) * bw;
    // Time axis: ticks every few minutes, under the bands.
    const yAx = els.length * (rowH + gap) + 10;
    const tickEvery = win <= 20 * 60e3 ? 5 * 60e3 : win <= 2 * 3600e3 ? 15 * 60e3 : 3600e3;
    for (let ms = Math.ceil(startMs / tickEvery) * tickEvery; ms <= endMs; ms += tickEvery) {
      svg.appendChild(s('line', { x1: xt(ms), x2: xt(ms), y1: 0, y2: yAx - 8, class: 'tick' }));
      if (xt(ms) < W - 40) svg.appendChild(s('text', { x: xt(ms), y: yAx + 2, class: 'tick-l' }, fmtClock(ms).slice(0, 5)));
    }
    els.forEach((t, i) => {
      const y = i * (rowH + gap);
      const g = s('g', { class: 'tl-row', 'data-pe': t.id, 'data-state': t.state });
      const lbl = s('text', { x: labelW - 6, y: y + rowH - 3, class: 'tl-label' }, t.label);
      g.appendChild(lbl);
      const spans = t.spans.concat([{ from: t.since, to: tl.time, state: t.state, reason: t.reason, now: true }]);
      for (const sp of spans) {
        const f = Date.parse(sp.from), to = Date.parse(sp.to);
        if (to < startMs) continue;
        const x0 = xt(f), x1 = xt(to);
        const r = s('rect', { x: x0.toFixed(2), y, width: Math.max(1, x1 - x0).toFixed(2), height: rowH, class: 'st st-' + sp.state, 'data-state': sp.state });
        const dur = (to - f) / 1000;
        r.appendChild(s('title', {}, t.label + ' ' + (stateNames[sp.state] || sp.state) + ' ' + fmtClock(f) + '–' + (sp.now ? 'now' : fmtClock(to)) +
          ' (' + fmtDur(dur) + ')' + (sp.reason ? ': ' + sp.reason : '')));
        g.appendChild(r);
      }
      svg.appendChild(g);
    });
    svg.appendChild(s('text', { x: W - 2, y: yAx + 2, class: 'tick-l end' }, 'now'));
    box.appendChild(svg);
    return box;
  }

  // ---- peers ----
  function renderPeers(pr) {
    const head = h('div', 'ov-head');
    head.append(h('h2', '', 'Registrars'));
    if (!pr.peering) {
      head.append(h('span', 'muted', 'this registrar (' + pr.registrar + ', home of ' + pr.homed + ' elements) does not peer: enrp.listen is off'));
      peersEl.replaceChildren(head);
      return;
    }
    const up = pr.peers.filter((p) => p.state === 'up').length;
    head.append(h('span', 'muted', pr.peers.length + (pr.peers.length === 1 ? ' peer, ' : ' peers, ') + up + ' up'));
    const table = h('table', 'peers');
    const tr = h('tr');
    for (const c of ['state', 'registrar', 'address', 'last heard', 'rtt', 'home of', 'last sync', 'last takeover / hand-off']) {
      tr.appendChild(h('th', c === 'home of' || c === 'rtt' ? 'num' : '', c));
    }
    const thead = h('thead'); thead.appendChild(tr);
    const tbody = h('tbody');
    const self = h('tr', 'h-up self');
    self.dataset.peer = pr.registrar;
    const st = h('td', 'health'); st.append(h('span', 'dot'), 'this one');
    self.append(st, h('td', 'mono', pr.registrar), h('td', 'mono', pr.addr || ''), h('td', '', '—'), h('td', 'num', '—'), h('td', 'num', String(pr.homed)), h('td', '', ''), h('td', '', ''));
    tbody.appendChild(self);
    for (const p of pr.peers) {
      const cls = p.state === 'up' ? 'h-up' : p.state === 'dead' ? 'h-down' : p.state === 'left' ? 'h-left' : 'h-suspect';
      const r = h('tr', cls);
      r.dataset.peer = p.id;
      r.dataset.state = p.state;
      const sc = h('td', 'health'); sc.append(h('span', 'dot'), p.state);
      const heard = p.heard_ago_s === null ? 'never' : fmtAgo(p.heard_ago_s);
      const ev = (e) => e ? e.kind + (e.count ? ' (' + e.count + ')' : '') + ', ' + fmtAgo((Date.parse(pr.time) - Date.parse(e.at)) / 1000) : '—';
      const rtt = h('td', 'num rtt', p.rtt_ms === null || p.rtt_ms === undefined ? '?' : fmtMs(p.rtt_ms));
      if (p.rtt_ms !== null && p.rtt_ms !== undefined) {
        rtt.dataset.rttMs = String(p.rtt_ms);
        rtt.title = 'round-trip time of the peering connection (kernel, smoothed): ' + fmtMs(p.rtt_ms) + ' ± ' + fmtMs(p.rttvar_ms || 0);
      } else {
        rtt.title = 'not known: no peering connection up';
      }
      const ho = h('td', 'handover', ev(p.handover));
      if (p.handover) ho.dataset.kind = p.handover.kind;
      r.append(sc, h('td', 'mono', p.id), h('td', 'mono', p.addr || '?'), h('td', 'num', heard), rtt, h('td', 'num', String(p.homed)), h('td', '', ev(p.sync)), ho);
      tbody.appendChild(r);
    }
    table.append(thead, tbody);
    const evList = (cls, title, events, none) => {
      const box = h('div', 'events ' + cls);
      box.appendChild(h('div', 'chart-title', title));
      const list = h('ul', 'ev-list');
      for (const e of events) {
        const li = h('li', 'ev ev-' + e.kind);
        li.dataset.kind = e.kind;
        li.textContent = fmtClock(Date.parse(e.at)) + ' ' + e.kind + (e.peer ? ' peer ' + e.peer : '') + (e.target ? ' of ' + e.target : '') +
          (e.count ? ' (' + e.count + (e.count === 1 ? ' element)' : ' elements)') : '') + (e.detail ? ': ' + e.detail : '');
        list.appendChild(li);
      }
      if (!events.length) list.appendChild(h('li', 'muted', none));
      box.appendChild(list);
      return box;
    };
    const shown = pr.events.filter((e) => e.kind !== 'admin-request' && e.kind !== 'report-request').slice(0, 12);
    const wrap = h('div', 'peers-wrap');
    wrap.append(table,
      evList('handovers', 'takeovers and hand-offs', (pr.handovers || []).slice(0, 8), 'none since this registrar started'),
      evList('recent', 'recent peering events', shown, 'none since this registrar started'));
    peersEl.replaceChildren(head, wrap);
  }
  function fmtMs(ms) { return ms < 1 ? Math.round(ms * 1000) + ' µs' : (ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)) + ' ms'; }
  function fmtAgo(sec) { return sec < 1 ? Math.round(sec * 1000) + ' ms ago' : fmtDur(sec) + ' ago'; }

  // ---- polling ----
  let timer = 0;
  async function getJSON(url) {
    const r = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
    return r.json();
  }
  async function poll() {
    clearTimeout(timer);
    try {
      const t0 = performance.now();
      const short = windowKey === '15m';
      const [rep, pr, tl] = await Promise.all([
        getJSON('/v1/history?window=' + windowKey + (short ? '' : '&timelines=0')),
        getJSON('/v1/peers'),
        short ? Promise.resolve(null) : getJSON('/v1/history?window=1s'),
      ]);
      const t1 = performance.now();
      lastHistory = rep; lastPeers = pr;
      const tlRep = short ? rep : tl;
      lastTimelines = tlRep;
      renderPeers(pr);
      renderOverview(rep);
      drawPools();
      timings = { fetch_ms: t1 - t0, render_ms: performance.now() - t1 };
      overview.classList.remove('stale');
    } catch (err) {
      overview.classList.add('stale');
      ovHead.querySelector('.ov-note').textContent = 'history not available (' + err.message + ')';
    }
    if (!document.hidden) timer = setTimeout(poll, refreshMs);
  }
  // drawPools draws the open pools from the last replies.
  function drawPools() {
    const rep = lastHistory, tlRep = lastTimelines;
    if (!rep || !tlRep) return;
    const tlPools = new Map((tlRep.pools || []).map((p) => [p.name, p]));
    let drawn = 0;
    for (const p of rep.pools) {
      const tp = tlPools.get(p.name);
      if (renderPool(p, rep, tp ? { pool: tp, time: tlRep.time, short_window_s: tlRep.short_window_s } : null)) drawn++;
    }
    overview.dataset.pools = String(drawn);
  }
  // A pool opened (its header, expand all, a filter): draw it now, not at
  // the next refresh. app.js changes the classes in its own handlers, so
  // this looks once they have run.
  const onOpen = () => setTimeout(drawPools, 0);
  document.addEventListener('click', (ev) => { if (ev.target.closest('.pool-head, #expand')) onOpen(); });
  el('filter').addEventListener('input', onOpen);
  el('problems').addEventListener('change', onOpen);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });
  poll();
  // For tests and the curious.
  window.poolnsdHistory = () => lastHistory;
  window.poolnsdPeers = () => lastPeers;
  window.poolnsdHistoryTimings = () => timings;
})();
