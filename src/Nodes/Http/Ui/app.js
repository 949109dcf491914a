// The topology page: plain JS and SVG, served by the node (no CDN, no build step). It reads the API with the bearer
// token the user gives (kept in sessionStorage), then follows GET /api/v1/events (server-sent events, read with fetch
// so the token goes in the Authorization header, never in a URL) and redraws on every change.
'use strict';
(() => {
  const KEY = 'fabric-token';
  const state = { members: new Map(), networks: new Map(), endpoints: new Map(), alarms: new Map(), counters: new Map(), flood: new Map(), moved: new Set(), trace: null };
  let token = sessionStorage.getItem(KEY);
  let stream = null;
  let floodTimer = null;
  // Redraws asked by events are coalesced (at most one per part every 150 ms): a bulk load sends thousands of endpoint
  // events a second, and each full redraw is O(endpoints).
  const dirty = new Set();
  let drawTimer = null;
  // Beyond this many endpoints a network's table is folded (opened on demand, at most TableRows rows, with a filter):
  // a page that lays out 100,000 rows on every change is no page.
  // (?fold=N on the page's address sets the threshold: ?fold=0 folds every network.)
  const foldParam = new URLSearchParams(location.search).get('fold');
  const OpenBelow = foldParam !== null && /^\d+$/.test(foldParam) ? Number(foldParam) : 500, TableRows = 500;
  const opened = new Set();
  let filter = '';
  const $ = (s) => document.querySelector(s);
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };
  const svg = (tag, attrs = {}, text) => {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };

  class Refused extends Error {}

  async function api(path) {
    const r = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    if (r.status === 401 || r.status === 403) throw new Refused(await problem(r));
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await problem(r)}`);
    return r.json();
  }

  async function post(path, body) {
    const r = await fetch(path, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    // 403 here is a read token asking for a write (a trace sends frames): say so, keep the page open.
    if (r.status === 401) throw new Refused(await problem(r));
    if (!r.ok) throw new Error(await problem(r));
    return r.json();
  }

  async function problem(r) {
    try { const p = await r.json(); return p.detail || p.title || r.statusText; } catch { return r.statusText; }
  }

  function ask(message) {
    $('#app').hidden = true;
    $('#forget').hidden = true;
    const err = $('#login-error');
    err.hidden = !message;
    err.textContent = message ? `Token refused: ${message}` : '';
    const dialog = $('#login');
    if (!dialog.open) dialog.showModal();
    $('#token').focus();
  }

  async function open() {
    try {
      await load();
    } catch (e) {
      if (e instanceof Refused) { sessionStorage.removeItem(KEY); ask(e.message); return; }
      live(false, String(e.message || e));
      setTimeout(open, 3000);
      return;
    }
    $('#login').close();
    $('#app').hidden = false;
    $('#forget').hidden = false;
    follow();
  }

  async function load() {
    const [members, networks, endpoints, alarms] = await Promise.all([
      api('/cluster/members'), api('/api/v1/networks'), api('/api/v1/endpoints'), api('/api/v1/alarms')]);
    state.members = new Map(members.map((m) => [m.name, m]));
    state.networks = new Map(networks.map((n) => [n.id, n]));
    state.endpoints = new Map(endpoints.map((e) => [e.id, e]));
    state.alarms = new Map(alarms.map((a) => [alarmKey(a), a]));
    render();
    loadFloodGroups();
  }

  // The flood groups as each node has them (GET /api/v1/nodes/{node}/flood-groups): asked only for a small fabric (at
  // most 60 questions); beyond that the page derives them from where endpoints are, the rule the nodes follow.
  async function loadFloodGroups() {
    const nodes = [...state.members.values()].filter((m) => m.status === 'up');
    const nets = [...state.networks.values()];
    if (nodes.length * nets.length > 60) { state.flood = new Map(); renderTopology(); return; }
    const flood = new Map();
    await Promise.all(nodes.flatMap((m) => nets.map(async (n) => {
      try {
        const g = await api(`/api/v1/nodes/${encodeURIComponent(m.name)}/flood-groups?network=${encodeURIComponent(n.id)}`);
        flood.set(`${m.name}|${n.id}`, g.members);
      } catch { /* a node that does not answer: derived below */ }
    })));
    state.flood = flood;
    renderTopology();
  }

  function refreshFloodSoon() {
    clearTimeout(floodTimer);
    floodTimer = setTimeout(loadFloodGroups, 1000);
  }

  async function follow() {
    if (stream) stream.abort();
    const ctrl = new AbortController();
    stream = ctrl;
    try {
      const r = await fetch('/api/v1/events', { headers: { Authorization: `Bearer ${token}` }, signal: ctrl.signal });
      if (r.status === 401 || r.status === 403) { sessionStorage.removeItem(KEY); ask(await problem(r)); return; }
      if (!r.ok || !r.body) throw new Error(`events: ${r.status}`);
      live(true);
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const chunk = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          dispatch(chunk);
        }
      }
    } catch (e) {
      if (ctrl.signal.aborted) return;
    }
    // The stream ended (the node restarted, or dropped us as too slow): read everything again, then follow again.
    live(false, 'reconnecting');
    setTimeout(open, 2000);
  }

  function dispatch(chunk) {
    let type = 'message', data = '';
    for (const line of chunk.split('\n')) {
      if (line.startsWith('event: ')) type = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (!data) return;
    const d = JSON.parse(data);
    switch (type) {
      case 'hello':
        $('#served-by').textContent = `served by ${d.node}`;
        // The feed's topic subscriptions reach the other nodes with the next pub-sub gossip (1 s): read the state
        // once more after that, so nothing that changed between the first read and then is missed.
        setTimeout(() => load().catch(() => {}), 2500);
        break;
      case 'member': onMember(d); break;
      case 'endpoint': onEndpoint(d); break;
      case 'reload': load().catch(() => {}); break;
      case 'alarm-raised': state.alarms.set(alarmKey(d), d); renderAlarms(); renderTopology(); break;
      case 'alarm-cleared': state.alarms.delete(alarmKey(d)); renderAlarms(); renderTopology(); break;
      case 'counters': state.counters.set(d.node, d); renderCounters(); break;
    }
  }

  function onMember(m) {
    const had = state.members.get(m.name) || {};
    if (m.status === 'removed') state.members.delete(m.name);
    else state.members.set(m.name, { ...had, name: m.name, address: m.address, status: m.status, vtep: m.vtep ?? had.vtep, reachable: m.reachable });
    soon('nodes', 'topology');
  }

  function onEndpoint(c) {
    if (c.kind === 'removed') state.endpoints.delete(c.endpointId);
    else {
      const had = state.endpoints.get(c.endpointId) || {};
      state.endpoints.set(c.endpointId, { ...had, id: c.endpointId, name: c.name ?? had.name, network: c.network ?? had.network, node: c.node, mac: c.mac ?? had.mac, ip: c.ip ?? had.ip });
      if (c.kind === 'moved') { state.moved.add(c.endpointId); setTimeout(() => { state.moved.delete(c.endpointId); renderTopology(); }, 4000); }
    }
    if (c.network && !state.networks.has(c.network)) load().catch(() => {});
    soon('networks', 'nodes', 'topology');
    refreshFloodSoon();
  }

  const alarmKey = (a) => `${a.node}|${a.kind}|${a.key}`;

  function live(on, why) {
    const b = $('#live');
    b.className = `badge ${on ? 'on' : 'off'}`;
    b.textContent = on ? 'live' : (why || 'offline');
  }

  function soon(...parts) {
    for (const p of parts) dirty.add(p);
    if (drawTimer) return;
    drawTimer = setTimeout(() => {
      drawTimer = null;
      const now = [...dirty];
      dirty.clear();
      if (now.includes('nodes')) renderNodes();
      if (now.includes('networks')) renderNetworks();
      if (now.includes('topology')) renderTopology();
    }, 150);
  }

  // Endpoints grouped once per redraw (by node or network): O(endpoints), not O(endpoints × groups).
  function groupBy(key) {
    const groups = new Map();
    for (const e of state.endpoints.values()) {
      const k = e[key];
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(e);
    }
    return groups;
  }

  function render() {
    renderNodes();
    renderNetworks();
    renderAlarms();
    renderCounters();
    renderTopology();
  }

  const statusClass = (m) => (!m.reachable ? 'unreachable' : m.status === 'up' ? 'up' : m.status === 'down' ? 'down' : 'other');

  function renderNodes() {
    const body = $('#nodes tbody');
    const byNode = groupBy('node');
    body.replaceChildren(...[...state.members.values()].sort((a, b) => a.name.localeCompare(b.name)).map((m) =>
      el('tr', { 'data-node': m.name },
        el('td', {}, m.name),
        el('td', { class: `status-${statusClass(m)}` }, m.reachable ? m.status : `${m.status}, unreachable`),
        el('td', { class: 'mono' }, m.vtep || ''),
        el('td', {}, (byNode.get(m.name) || []).length))));
  }

  function renderNetworks() {
    const root = $('#networks');
    const nets = [...state.networks.values()].sort((a, b) => a.vni - b.vni);
    if (nets.length === 0) { root.replaceChildren(el('p', { class: 'muted' }, 'No networks yet.')); return; }
    const byNetwork = groupBy('network');
    const large = state.endpoints.size > OpenBelow;
    const f = filter.trim().toLowerCase();
    const matches = (e) => !f || [e.name, e.id, e.ip, e.mac, e.node].some((v) => v && String(v).toLowerCase().includes(f));
    const search = el('input', { id: 'endpoint-filter', type: 'search', placeholder: 'filter endpoints: name, IP, MAC or node', value: filter });
    search.addEventListener('input', () => {
      filter = search.value;
      renderNetworks();
      const again = $('#endpoint-filter');
      again.focus();
      again.setSelectionRange(again.value.length, again.value.length);
    });
    const sections = nets.map((n) => {
      const all = byNetwork.get(n.id) || [];
      const eps = all.filter(matches).sort((a, b) => (a.name || '').localeCompare(b.name || ''));
      const title = el('h3', {}, `${n.name} `, el('span', {}, `VNI ${n.vni}, ${n.kind}${n.cidr ? `, ${n.cidr}` : ''}, ${all.length} endpoints`));
      if (f && eps.length === 0) return null;
      const table = () => eps.length === 0 ? el('p', { class: 'muted' }, 'no endpoints') :
        el('table', { class: 'endpoints' },
          el('thead', {}, el('tr', {}, el('th', {}, 'endpoint'), el('th', {}, 'IP'), el('th', {}, 'MAC'), el('th', {}, 'node'))),
          el('tbody', {}, ...eps.slice(0, TableRows).map((e) => el('tr', { 'data-endpoint': e.id, class: state.moved.has(e.id) ? 'moved' : '' },
            el('td', {}, e.name || e.id), el('td', { class: 'mono' }, e.ip || ''), el('td', { class: 'mono' }, e.mac || ''),
            el('td', { class: 'node' }, e.node || '')))),
          eps.length > TableRows ? el('caption', { class: 'muted' }, `first ${TableRows} of ${eps.length}: filter to narrow`) : '');
      if (!large) return el('div', { class: 'network', 'data-network': n.id }, title, table());
      // A large fabric: each network folded until opened (or until a filter picks its endpoints).
      const box = el('details', { class: 'network', 'data-network': n.id }, el('summary', {}, title));
      if (opened.has(n.id) || f) { box.open = true; box.append(table()); }
      box.addEventListener('toggle', () => {
        if (box.open) { opened.add(n.id); if (box.children.length === 1) box.append(table()); }
        else opened.delete(n.id);
      });
      return box;
    }).filter((x) => x);
    root.replaceChildren(...(large ? [search] : []), ...sections);
  }

  function renderAlarms() {
    const list = $('#alarms');
    const alarms = [...state.alarms.values()].sort((a, b) => String(a.since).localeCompare(String(b.since)));
    $('#alarm-count').textContent = alarms.length;
    if (alarms.length === 0) { list.replaceChildren(el('li', { class: 'none' }, 'No alarms.')); return; }
    list.replaceChildren(...alarms.map((a) => el('li', { 'data-kind': a.kind, 'data-node': a.node },
      el('span', { class: 'kind' }, a.kind), el('strong', {}, a.node), ': ', a.detail,
      el('span', { class: 'muted' }, ` since ${new Date(a.since).toLocaleTimeString()}`))));
  }

  function renderCounters() {
    const root = $('#counters');
    const rows = [...state.counters.values()].sort((a, b) => a.node.localeCompare(b.node));
    if (rows.length === 0) { root.replaceChildren(el('p', { class: 'muted' }, 'Waiting for the first counters…')); return; }
    const sum = (sets, f) => sets.reduce((s, x) => s + (x[f] || 0), 0);
    root.replaceChildren(el('table', { id: 'counter-table' },
      el('thead', {}, el('tr', {}, ...['node', 'rx', 'tx', 'encap', 'decap', 'flooded', 'drops by reason'].map((h) => el('th', {}, h)))),
      el('tbody', {}, ...rows.map((c) => {
        const drops = {};
        // A frame dropped in a network is counted on its port too: the networks' and the global drops, not the ports'.
        for (const set of c.networks) for (const [r, v] of Object.entries(set.drops || {})) drops[r] = (drops[r] || 0) + v;
        for (const [r, v] of Object.entries(c.globalDrops || {})) drops[r] = (drops[r] || 0) + v;
        const text = Object.entries(drops).sort((a, b) => b[1] - a[1]).map(([r, v]) => `${r} ${v}`).join(', ') || '—';
        return el('tr', { 'data-node': c.node }, el('td', {}, c.node), el('td', {}, sum(c.networks, 'rxPackets')), el('td', {}, sum(c.networks, 'txPackets')),
          el('td', {}, sum(c.networks, 'encapsulated')), el('td', {}, sum(c.networks, 'decapsulated')), el('td', {}, sum(c.networks, 'flooded')),
          el('td', { class: 'drops' }, text));
      }))));
  }

  // Nodes on a ring, their endpoints around them; a line between two nodes for every network whose flood group joins
  // them (from the nodes' own flood groups when asked, else from where the network's endpoints are).
  function layout() {
    const nodes = [...state.members.values()].sort((a, b) => a.name.localeCompare(b.name));
    const cx = 400, cy = 280, r = nodes.length <= 1 ? 0 : Math.min(210, 60 + 40 * nodes.length);
    const pos = new Map();
    nodes.forEach((m, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, nodes.length);
      pos.set(m.name, { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a), a });
    });
    return { nodes, pos };
  }

  function floodPairs(nodes) {
    const byVtep = new Map(nodes.map((m) => [String(m.vtep || ''), m.name]));
    const pairs = new Map();
    const add = (a, b, net) => {
      if (a === b) return;
      const k = a < b ? `${a}|${b}` : `${b}|${a}`;
      if (!pairs.has(k)) pairs.set(k, new Set());
      pairs.get(k).add(net);
    };
    const byNetwork = groupBy('network');
    for (const n of state.networks.values()) {
      let asked = false;
      for (const m of nodes) {
        const members = state.flood.get(`${m.name}|${n.id}`);
        if (!members) continue;
        asked = true;
        for (const v of members) if (byVtep.has(v)) add(m.name, byVtep.get(v), n.name);
      }
      if (asked) continue;
      const hosts = [...new Set((byNetwork.get(n.id) || []).map((e) => e.node))];
      for (let i = 0; i < hosts.length; i++) for (let j = i + 1; j < hosts.length; j++) add(hosts[i], hosts[j], n.name);
    }
    return pairs;
  }

  function renderTopology() {
    const { nodes, pos } = layout();
    const edges = $('#edges'), layer = $('#nodes-layer');
    edges.replaceChildren();
    layer.replaceChildren();
    for (const [k, nets] of floodPairs(nodes)) {
      const [a, b] = k.split('|');
      const p = pos.get(a), q = pos.get(b);
      if (!p || !q) continue;
      edges.append(svg('line', { class: 'flood', x1: p.x, y1: p.y, x2: q.x, y2: q.y, 'data-flood': k }));
      edges.append(svg('text', { class: 'flood-label', x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 - 4, 'text-anchor': 'middle' }, [...nets].join(', ')));
    }
    const alarmed = new Set([...state.alarms.values()].map((a) => a.node));
    const byNode = groupBy('node');
    for (const m of nodes) {
      const p = pos.get(m.name);
      const g = svg('g', { class: `node ${statusClass(m) === 'up' ? '' : statusClass(m)} ${alarmed.has(m.name) ? 'alarm' : ''}`, 'data-node': m.name, transform: `translate(${p.x},${p.y})` });
      g.append(svg('circle', { class: 'body', r: 44 }));
      g.append(svg('text', { 'text-anchor': 'middle', y: -2 }, m.name));
      g.append(svg('text', { class: 'small', 'text-anchor': 'middle', y: 13 }, m.vtep || ''));
      const eps = byNode.get(m.name) || [];
      // The endpoints that just moved first: the page shows a move where it lands even on a crowded node.
      const shown = [...eps.filter((e) => state.moved.has(e.id)), ...eps.filter((e) => !state.moved.has(e.id))].slice(0, 12);
      shown.forEach((e, i) => {
        const a = p.a + (i - (shown.length - 1) / 2) * 0.32;
        const ex = 70 * Math.cos(a), ey = 70 * Math.sin(a);
        const dot = svg('g', { class: `ep ${state.moved.has(e.id) ? 'moved' : ''}`, 'data-endpoint': e.id, transform: `translate(${ex},${ey})` });
        dot.append(svg('circle', { r: 6 }));
        dot.append(svg('title', {}, `${e.name} ${e.ip || ''} ${e.mac || ''}`));
        dot.append(svg('text', { class: 'small', x: ex >= 0 ? 9 : -9, y: 4, 'text-anchor': ex >= 0 ? 'start' : 'end' }, e.name || e.id));
        g.append(dot);
      });
      if (eps.length > shown.length) g.append(svg('text', { class: 'small', 'text-anchor': 'middle', y: 62 }, `+${eps.length - shown.length} more`));
      layer.append(g);
    }
    fillTraceEndpoints();
    drawTrace(state.trace);
  }

  // Trace hops as a path over the topology: [{ node, stage, decision, snapshotVersion, atUs }] in order (API.md,
  // POST /api/v1/trace). Consecutive hops on one node stay there; the path goes node to node in the order crossed.
  function drawTrace(hops) {
    state.trace = hops || null;
    const layer = $('#trace');
    layer.replaceChildren();
    const list = $('#trace-hops');
    list.replaceChildren();
    if (!hops || hops.length === 0) return;
    const { pos } = layout();
    if (!$('#arrow')) {
      const defs = svg('defs');
      const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' });
      marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#ff7b72' }));
      defs.append(marker);
      $('#topology').prepend(defs);
    }
    const path = [];
    for (const h of hops) if (pos.has(h.node) && path[path.length - 1] !== h.node) path.push(h.node);
    for (let i = 1; i < path.length; i++) {
      const p = pos.get(path[i - 1]), q = pos.get(path[i]);
      // From ring to ring (r 50), so the arrow head and the node names stay visible.
      const dx = q.x - p.x, dy = q.y - p.y, len = Math.hypot(dx, dy) || 1, ux = dx / len * 50, uy = dy / len * 50;
      layer.append(svg('line', { class: 'hop', x1: p.x + ux, y1: p.y + uy, x2: q.x - ux, y2: q.y - uy, 'data-hop': i }));
    }
    // Every node the packet was seen on gets a ring, so a trace that ends where it began still shows.
    for (const n of new Set(path)) {
      const p = pos.get(n);
      layer.append(svg('circle', { class: 'hop-node', cx: p.x, cy: p.y, r: 50, 'data-trace-node': n }));
    }
    for (const h of hops) {
      const d = typeof h.decision === 'string' ? h.decision : (h.decision.summary || h.decision.kind);
      list.append(el('li', { 'data-kind': h.decision.kind || '' }, `${h.reply ? 'answer · ' : ''}${h.node} · ${h.stage}: ${d}`));
    }
  }

  function fillTraceEndpoints() {
    const sel = $('#trace-endpoint');
    const chosen = sel.value;
    const eps = [...state.endpoints.values()].filter((e) => e.ip).sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id));
    sel.replaceChildren(...eps.map((e) => el('option', { value: e.id }, `${e.name || e.id} (${e.ip}, ${e.node})`)));
    if (chosen && state.endpoints.has(chosen)) sel.value = chosen;
  }

  function verdict(leg) {
    const last = leg.hops.length ? leg.hops[leg.hops.length - 1].decision.kind : '';
    if (leg.verdict === 'delivered' && last === 'stopped') return `reached ${leg.port} on ${leg.node}, stopped there (not delivered)`;
    if (leg.verdict === 'delivered' && last === 'absorbed') return `reached ${leg.port} on ${leg.node}, kept from the VM`;
    if (leg.verdict === 'delivered') return `delivered on ${leg.node} to ${leg.port}`;
    if (leg.verdict === 'external') return `sent to external VTEP ${leg.vtep} by ${leg.node}`;
    return `dropped${leg.node ? ' on ' + leg.node : ''}: ${leg.reason}`;
  }

  async function runTrace(ev) {
    ev.preventDefault();
    const protocol = $('#trace-protocol').value;
    const body = { endpoint: $('#trace-endpoint').value, destination: $('#trace-destination').value.trim(), protocol };
    if (protocol !== 'icmp') body.port = Number($('#trace-port').value);
    if ($('#trace-no-deliver').checked) body.stopAtLastHop = true;
    const note = $('#trace-note');
    note.textContent = 'tracing…';
    try {
      const t = await post('/api/v1/trace', body);
      const probe = t.probes[0];
      drawTrace(probe.hops);
      // The answer's hops are listed under the probe's (the path drawn is the probe's).
      if (probe.reply) for (const h of probe.reply.hops) $('#trace-hops').append(el('li', { 'data-kind': h.decision.kind, 'data-reply': 'yes' }, `answer · ${h.node} · ${h.stage}: ${h.decision.summary}`));
      note.textContent = `probe ${verdict(probe)}${probe.reply ? '; answer ' + verdict(probe.reply) : ''} (${Math.round(t.elapsedMs)} ms)`;
      note.dataset.verdict = probe.verdict;
    } catch (e) {
      if (e instanceof Refused) { sessionStorage.removeItem(KEY); ask(e.message); return; }
      note.textContent = `trace refused: ${e.message || e}`;
      note.dataset.verdict = 'error';
    }
  }

  window.fabricUi = { drawTrace, state };

  document.addEventListener('DOMContentLoaded', () => {
    $('#login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      token = $('#token').value.trim();
      if (!token) return;
      sessionStorage.setItem(KEY, token);
      open();
    });
    $('#trace-form').addEventListener('submit', runTrace);
    $('#forget').addEventListener('click', () => {
      sessionStorage.removeItem(KEY);
      if (stream) stream.abort();
      ask('');
    });
    if (token) open(); else ask('');
  });
})();
