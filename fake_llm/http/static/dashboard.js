// fake-llm dashboard: the live journal, the scenario switcher and a streaming chat box, on the /_fake/ admin API.
// Plain JS, no framework, no build step. Everything from the server (request bodies included) goes into the page
// as text, never as HTML.
'use strict';

(() => {
  // The live journal polls every 500 ms; `?poll=MS` (50 to 10000) changes that, e.g. for a slow machine.
  const POLL_MS = Math.min(10000, Math.max(50, Number(new URLSearchParams(location.search).get('poll')) || 500));
  const SLOW_EVERY = 4; // health, scenarios and journal restarts every SLOW_EVERY polls
  const MAX_ROWS = 500; // rows kept on the page (the server keeps its own --journal-size)
  const TOKEN_KEY = 'fake-llm-admin-token';

  // The admin API lives next to the page (/_fake/), the provider API one level up: relative URLs keep the page
  // working behind a proxy that mounts the server under a prefix.
  const script = document.currentScript;
  const ADMIN = new URL('../', script && script.src ? script.src : new URL('static/', location.href));
  const CHAT_URL = new URL('../v1/chat/completions', ADMIN);
  const MODELS_URL = new URL('../v1/models', ADMIN);

  const $ = (id) => document.getElementById(id);

  /** An element with attributes and children (strings become text nodes, never HTML). */
  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const pad = (n, width = 2) => String(n).padStart(width, '0');
  function clock(unixSeconds) {
    const d = new Date(unixSeconds * 1000);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }
  function ms(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return '—';
    if (value < 1000) return `${Math.round(value)} ms`;
    return `${(value / 1000).toFixed(value < 10000 ? 2 : 1)} s`;
  }
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const clip = (text, limit) => (text.length <= limit ? text : `${text.slice(0, limit - 1)}…`);

  let toastTimer = 0;
  function notify(message, bad = false) {
    const toast = $('toast');
    toast.textContent = message;
    toast.classList.toggle('bad', bad);
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toast.hidden = true; }, bad ? 8000 : 3000);
  }

  // ------------------------------------------------------------------ the admin token

  let memoryToken = null; // when sessionStorage is unavailable
  function getToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) ?? memoryToken; } catch { return memoryToken; }
  }
  function setToken(token) {
    memoryToken = token;
    try { sessionStorage.setItem(TOKEN_KEY, token); } catch { /* kept in memory only */ }
  }
  /** `?token=` is read once, kept for this tab, and removed from the address bar (and so from the history). */
  function takeTokenFromUrl() {
    const url = new URL(location.href);
    if (!url.searchParams.has('token')) return;
    const token = url.searchParams.get('token');
    if (token) setToken(token);
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  }

  class AuthError extends Error {}
  const state = {
    needsToken: false,
    online: null,
    lastSeq: 0,
    entries: new Map(), // seq -> journal entry
    rows: new Map(), // seq -> <tr>
    selected: null,
    paused: false,
    filter: '',
    timeScale: null, // from /_fake/health when the server reports it
    scenarios: [],
    scenariosJson: '',
    tick: 0,
    showRaw: false, // the detail panel's stream events: raw `data:` payloads too
    rulesOpen: new Map(), // scenario name -> whether its rules are unfolded
  };

  async function errorText(response) {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      const error = body.error ?? body;
      return (typeof error === 'string' ? error : error.message) || text;
    } catch {
      return text || response.statusText;
    }
  }

  /** Call the admin API (with the token when there is one); throws AuthError on a 401. */
  async function admin(path, { method = 'GET', guarded = true } = {}) {
    const headers = { Accept: 'application/json' };
    const token = getToken();
    if (token) headers['X-Fake-LLM-Admin-Token'] = token;
    let response;
    try {
      response = await fetch(new URL(path, ADMIN), { method, headers, cache: 'no-store' });
    } catch (error) {
      setOnline(false);
      throw error;
    }
    setOnline(true);
    if (response.status === 401) {
      showAuth(await errorText(response), Boolean(token));
      throw new AuthError('admin token needed');
    }
    // A degraded server's health (failed reload) is a 503 with the usual report: its load errors are the news.
    const degraded = path === 'health' && response.status === 503;
    if (!response.ok && !degraded) {
      throw new Error(`${method} /_fake/${path}: ${response.status} ${await errorText(response)}`);
    }
    if (guarded && state.needsToken) hideAuth();
    return response.json();
  }

  function showAuth(message, tokenWasSent) {
    state.needsToken = true;
    $('auth-message').textContent = tokenWasSent
      ? `The admin token this tab sent was refused (${message}). Enter the right one, or open the page as ` +
        '/_fake/?token=YOUR_TOKEN.'
      : `${message}. Open the page as /_fake/?token=YOUR_TOKEN, or enter the token here (kept for this tab only).`;
    $('auth-banner').hidden = false;
    updateLive();
  }
  function hideAuth() {
    state.needsToken = false;
    $('auth-banner').hidden = true;
    updateLive();
  }

  function setOnline(online) {
    if (state.online === online) return;
    state.online = online;
    updateLive();
  }
  function updateLive() {
    const dot = $('live-dot');
    let text = 'live';
    let cls = 'on';
    if (state.online === false) { text = 'server unreachable, retrying…'; cls = 'off'; }
    else if (state.needsToken) { text = 'waiting for the admin token'; cls = 'off'; }
    else if (state.paused) { text = 'paused'; cls = 'paused'; }
    else if (state.online === null) { text = 'connecting…'; cls = ''; }
    $('live-status').textContent = text;
    dot.className = `dot ${cls}`;
  }

  // ------------------------------------------------------------------ health and load errors

  async function refreshHealth() {
    const health = await admin('health', { guarded: false });
    $('version').textContent = health.version ? `v${health.version}` : '';
    if (typeof health.time_scale === 'number') state.timeScale = health.time_scale;
    const scale = state.timeScale === null || state.timeScale === 1 ? '' : ` · time_scale ${state.timeScale}`;
    $('summary').textContent =
      `${plural(health.rules, 'rule')} in ${plural((health.scenarios || []).length, 'scenario')}${scale} · ` +
      `API at ${new URL('../v1', ADMIN).href}`;
    $('base-url').textContent = new URL('../v1', ADMIN).href;
    const errors = health.load_errors || [];
    const list = $('load-errors-list');
    const shown = [...list.children].map((li) => li.textContent);
    if (shown.join('\n') !== errors.join('\n')) list.replaceChildren(...errors.map((e) => h('li', { text: e })));
    $('load-errors').hidden = errors.length === 0;
  }

  // ------------------------------------------------------------------ the journal

  const OUTCOME_LABELS = {
    unmatched: 'no match',
    rejected: 'rejected',
    mismatch: 'reply mismatch',
    error: 'fake-llm error',
    reloaded: 'scenarios reloaded',
    reload_error: 'reload failed',
  };

  /** Planned duration: the scripted delay, then the last stream event (ms before time_scale, as journaled). */
  function plannedMs(entry) {
    const last = entry.schedule && entry.schedule.length ? Math.max(...entry.schedule) : 0;
    return (entry.delay_ms || 0) + last;
  }
  function durationText(entry) {
    const planned = plannedMs(entry);
    if (state.timeScale !== null && state.timeScale !== 1) return ms(planned * state.timeScale);
    return ms(planned);
  }

  function statusClass(status) {
    if (!status) return '';
    if (status < 300) return 'status-ok';
    if (status < 500) return 'status-warn';
    return 'status-bad';
  }

  function ruleCell(entry) {
    const cell = h('td', { class: 'rule' });
    if (entry.outcome === 'matched') {
      cell.append(h('span', { class: 'mono', text: entry.rule ?? '' }));
      if (replyCount(entry.rule) > 1 || entry.step > 1) {
        const title = 'its place in the rule\'s replies:';
        cell.append(h('span', { class: 'badge', text: `reply ${entry.step}`, title }));
      }
      if (entry.reply) cell.append(h('span', { class: 'why', text: entry.reply }));
    } else if (entry.outcome === 'session') { // a realtime WebSocket session: its events are in the detail panel
      cell.append(h('span', { class: 'mono', text: 'realtime session' }), h('span', { class: 'why', text: entry.reply ?? '' }));
    } else {
      cell.append(h('span', { class: 'outcome-bad', text: OUTCOME_LABELS[entry.outcome] ?? entry.outcome }));
      const reasons = entry.reasons || [];
      if (reasons.length) {
        const first = `${reasons[0].rule}: ${reasons[0].reason}`;
        const more = reasons.length > 1 ? ` (+${reasons.length - 1} more)` : '';
        cell.append(h('span', { class: 'why', text: clip(first, 140) + more }));
      } else if (entry.reply && entry.outcome !== 'unmatched') {
        cell.append(h('span', { class: 'why', text: clip(entry.reply, 160) }));
      }
    }
    for (const fault of entry.faults || []) cell.append(h('span', { class: 'badge', text: fault }));
    return cell;
  }

  /** How many replies the rule has (`replies:` sequences step through them), from the scenarios listing. */
  function replyCount(ruleName) {
    for (const scenario of state.scenarios) {
      const rule = scenario.rules.find((r) => r.name === ruleName);
      if (rule) return rule.replies.length;
    }
    return 1;
  }

  function searchText(entry) {
    const reasons = (entry.reasons || []).map((r) => `${r.rule} ${r.reason}`).join(' ');
    return [entry.seq, entry.method, entry.path, entry.model, entry.api, entry.rule, entry.outcome,
      OUTCOME_LABELS[entry.outcome], entry.status, entry.reply, reasons, ...(entry.faults || [])]
      .filter((x) => x !== null && x !== undefined).join(' ').toLowerCase();
  }

  function buildRow(entry) {
    const isReload = entry.method === 'RELOAD';
    const request = h('td', {},
      h('span', { class: 'mono' }, entry.method, ' '),
      h('span', { class: 'path', text: entry.path }),
      entry.stream
        ? h('span', { class: 'badge', text: 'stream', title: entry.stream_outcome ?? 'streaming…' })
        : null);
    const events = entry.schedule ? entry.schedule.length : 0;
    const last = Math.max(0, ...(entry.schedule || []));
    const durationTitle = entry.stream
      ? `planned: ${ms(entry.delay_ms || 0)} delay, then ${plural(events, 'event')} over ${ms(last)}`
      : `planned delay ${ms(entry.delay_ms || 0)}`;
    const row = h('tr', {
      tabindex: 0,
      'aria-current': state.selected === entry.seq ? 'true' : null,
      'data-testid': 'journal-row',
      dataset: { seq: entry.seq, outcome: entry.outcome, status: entry.status },
      onclick: () => select(entry.seq),
      onkeydown: (event) => rowKey(event, entry.seq),
    },
    h('td', { class: 'num', text: entry.seq }),
    h('td', { class: 'num', text: clock(entry.time) }),
    request,
    h('td', { class: 'mono model', text: entry.model ?? '—' }),
    ruleCell(entry),
    h('td', { class: statusClass(entry.status), text: isReload || !entry.status ? '—' : entry.status }),
    h('td', { class: 'dur', text: isReload ? '' : durationText(entry), title: isReload ? null : durationTitle }));
    row.hidden = Boolean(state.filter) && !searchText(entry).includes(state.filter);
    return row;
  }

  function rowKey(event, seq) {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      select(seq);
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      let next = event.currentTarget;
      do {
        next = event.key === 'ArrowDown' ? next.nextElementSibling : next.previousElementSibling;
      } while (next && next.hidden);
      if (next) next.focus();
    }
  }

  function addEntries(entries, { fresh = true } = {}) {
    const tbody = $('journal-rows');
    for (const entry of entries) {
      if (state.entries.has(entry.seq)) { updateEntry(entry); continue; }
      state.entries.set(entry.seq, entry);
      const row = buildRow(entry);
      if (fresh) row.classList.add('fresh');
      state.rows.set(entry.seq, row);
      tbody.prepend(row); // newest first
      state.lastSeq = Math.max(state.lastSeq, entry.seq);
    }
    while (state.entries.size > MAX_ROWS) {
      const oldest = Math.min(...state.entries.keys());
      state.entries.delete(oldest);
      state.rows.get(oldest)?.remove();
      state.rows.delete(oldest);
    }
    updateJournalCount();
  }

  function updateEntry(entry) {
    state.entries.set(entry.seq, entry);
    const old = state.rows.get(entry.seq);
    if (old) {
      const row = buildRow(entry);
      const hadFocus = document.activeElement === old;
      old.replaceWith(row);
      state.rows.set(entry.seq, row);
      if (hadFocus) row.focus();
    }
    if (state.selected === entry.seq) renderDetail(entry);
  }

  function clearJournalView() {
    state.entries.clear();
    state.rows.clear();
    $('journal-rows').replaceChildren();
    closeDetail();
    updateJournalCount();
  }

  function updateJournalCount() {
    const total = state.entries.size;
    const shown = [...state.rows.values()].filter((r) => !r.hidden).length;
    $('journal-count').textContent = total === shown ? `(${total})` : `(${shown} of ${total})`;
    $('journal-empty').hidden = total > 0;
  }

  function applyFilter() {
    state.filter = $('journal-filter').value.trim().toLowerCase();
    for (const [seq, row] of state.rows) {
      row.hidden = Boolean(state.filter) && !searchText(state.entries.get(seq)).includes(state.filter);
    }
    updateJournalCount();
  }

  async function pollJournal() {
    const path = state.lastSeq ? `journal?after=${state.lastSeq}` : `journal?limit=${MAX_ROWS}`;
    const first = state.lastSeq === 0 && state.entries.size === 0;
    const { entries } = await admin(path);
    if (entries.length) {
      addEntries(entries, { fresh: !first });
      scheduleRefresh();
    }
    // The server-rendered "Loading N requests…" stands until the journal has been read once.
    $('journal-loading')?.remove();
    updateJournalCount();
  }

  /** A reset restarts numbering and DELETE empties the journal: `after=` alone would miss both. */
  async function checkJournalRestart() {
    const { entries } = await admin('journal?limit=1');
    const last = entries[0];
    if (!last) {
      if (state.entries.size) clearJournalView();
      state.lastSeq = 0;
    } else if (last.seq < state.lastSeq) {
      clearJournalView();
      state.lastSeq = 0;
      await pollJournal();
    }
  }

  /** Streams are journaled when they start; fetch them again until the journal knows how they ended. */
  async function refreshOpenStreams() {
    const open = [...state.entries.values()]
      .filter((e) => e.stream && e.status === 200 && !e.stream_outcome && e.seq > state.lastSeq - 100)
      .map((e) => e.seq);
    if (!open.length) return;
    const { entries } = await admin(`journal?after=${Math.min(...open) - 1}`);
    for (const entry of entries) {
      const known = state.entries.get(entry.seq);
      if (known && open.includes(entry.seq) && entry.stream_outcome !== known.stream_outcome) updateEntry(entry);
    }
  }

  // ------------------------------------------------------------------ the detail panel

  function select(seq) {
    for (const [key, row] of state.rows) row.toggleAttribute('aria-current', key === seq);
    state.selected = seq;
    const entry = state.entries.get(seq);
    if (!entry) return;
    renderDetail(entry);
    if (entry.stream && !entry.stream_outcome) refreshOpenStreams().catch(() => {});
    $('detail').hidden = false;
    $('detail').scrollIntoView({ block: 'nearest' });
  }

  function closeDetail() {
    const seq = state.selected;
    state.selected = null;
    $('detail').hidden = true;
    for (const row of state.rows.values()) row.removeAttribute('aria-current');
    state.rows.get(seq)?.focus();
  }

  function facts(pairs) {
    return h('dl', { class: 'facts' },
      pairs.filter(([, value]) => value !== null && value !== undefined && value !== '')
        .map(([name, value]) => [h('dt', { text: name }), h('dd', {}, value)]));
  }

  function kvTable(caption, rows, head) {
    return h('table', { class: 'kv' },
      h('caption', { class: 'visually-hidden', text: caption }),
      head ? h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col', text: t })))) : null,
      h('tbody', {}, rows.map(([key, value]) => h('tr', {},
        h('th', { scope: 'row', text: key }),
        h('td', {}, value)))));
  }

  /** The part of an event a frontend developer looks for: the text, the tool call or the error it carries. */
  function eventGist(event) {
    if (event.kind === 'comment' || event.data === '[DONE]') return '';
    let data;
    try { data = JSON.parse(event.data); } catch { return event.kind === 'malformed' ? 'not valid JSON' : ''; }
    if (data.error) return `error: ${data.error.message ?? JSON.stringify(data.error)}`;
    if (event.kind === 'client' || event.kind === 'server') { // realtime: the event type, and a text delta if any
      return data.type + (typeof data.delta === 'string' && !data.type.endsWith('audio.delta') ? ` ${JSON.stringify(data.delta)}` : '');
    }
    const choice = data.choices?.[0];
    const delta = choice?.delta ?? data.delta; // OpenAI chat, Anthropic
    const bits = [];
    if (delta) {
      if (delta.role) bits.push(`role ${delta.role}`);
      for (const key of ['content', 'text', 'reasoning_content', 'thinking', 'refusal', 'partial_json']) {
        if (typeof delta[key] === 'string' && delta[key]) {
          bits.push(`${key === 'text' ? 'content' : key} ${JSON.stringify(delta[key])}`);
        }
      }
      for (const call of delta.tool_calls || []) {
        bits.push(['tool call', call.function?.name, call.function?.arguments].filter(Boolean).join(' '));
      }
    }
    if (typeof data.delta === 'string' && data.delta) bits.push(`content ${JSON.stringify(data.delta)}`); // Responses
    if (choice?.finish_reason) bits.push(`finish ${choice.finish_reason}`);
    if (data.usage) {
      const usage = data.usage;
      const input = usage.prompt_tokens ?? usage.input_tokens ?? '?';
      bits.push(`usage ${input} in, ${usage.completion_tokens ?? usage.output_tokens ?? '?'} out`);
    }
    return bits.join(' · ');
  }

  function eventsTable(entry) {
    const events = entry.events || [];
    const total = Math.max(1, ...events.map((e) => e.at_ms || 0));
    let previous = 0;
    const rows = events.map((event, index) => {
      const at = event.at_ms || 0;
      const gap = at - previous;
      previous = at;
      const bar = h('span', { class: 'timebar', 'aria-hidden': 'true' });
      bar.style.width = `${Math.max(1, (at / total) * 100)}%`;
      const kind = [event.kind, event.event ? `event: ${event.event}` : null].filter(Boolean).join(' · ');
      const notes = [];
      if (event.parts > 1) {
        notes.push(`split into ${event.parts} writes${event.split_utf8 ? ' inside a UTF-8 character' : ''}`);
      }
      if (event.tokens) notes.push(plural(event.tokens, 'token'));
      return h('tr', { 'data-testid': 'stream-event' },
        h('td', { class: 'num', text: index }),
        h('td', { class: 'at' }, `${ms(at)}`, h('span', { class: 'muted' }, index ? ` +${Math.round(gap)}` : ''), bar),
        h('td', { class: `kind-${event.kind}`, text: kind }),
        h('td', { class: 'data' },
          h('span', { class: 'gist', text: eventGist(event) }),
          h('span', { class: 'raw', text: event.kind === 'comment' ? `: ${event.data}` : event.data }),
          notes.length ? h('span', { class: 'why', text: notes.join(' · ') }) : null));
    });
    return h('table', { class: 'kv events' },
      h('caption', { class: 'visually-hidden', text: 'Stream events and when each was planned' }),
      h('thead', {}, h('tr', {}, ['#', 'planned at', 'kind', 'data'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows));
  }

  function renderDetail(entry) {
    $('detail-heading').textContent = `Request #${entry.seq}: ${entry.method} ${entry.path}`;
    const body = $('detail-body');
    const parts = [];
    const scaled = state.timeScale !== null && state.timeScale !== 1
      ? ` (× time_scale ${state.timeScale} = ${ms(plannedMs(entry) * state.timeScale)})`
      : '';
    const replies = replyCount(entry.rule);
    const outcome = OUTCOME_LABELS[entry.outcome] ?? entry.outcome;
    parts.push(facts([
      ['Outcome', h('span', { class: entry.outcome === 'matched' ? 'status-ok' : 'outcome-bad', text: outcome })],
      ['Rule', entry.rule && (replies > 1 || entry.step > 1)
        ? `${entry.rule} (reply ${entry.step} of ${replies})`
        : entry.rule],
      ['Reply', entry.reply],
      ['Status', entry.status ? h('span', { class: statusClass(entry.status), text: entry.status }) : null],
      ['Dialect', entry.api],
      ['Model', entry.model],
      ['Time', new Date(entry.time * 1000).toLocaleString()],
      ['Stream', entry.stream ? (entry.stream_outcome ?? 'still streaming') : null],
      ['Delay', entry.delay_ms ? ms(entry.delay_ms) : null],
      ['Planned duration', entry.method === 'RELOAD' ? null : `${ms(plannedMs(entry))}${scaled}`],
      ['Faults', (entry.faults || []).join(', ')],
    ]));
    const reasons = entry.reasons || [];
    if (reasons.length) {
      const heading = entry.outcome === 'matched' ? `Rules tried before ${entry.rule}` : 'Why no rule matched';
      parts.push(h('h3', { text: heading }));
      parts.push(h('div', { 'data-testid': 'detail-reasons' },
        kvTable('Each rule and why it did not match', reasons.map((r) => [r.rule, r.reason]), ['rule', 'reason'])));
    }
    if (entry.error) {
      parts.push(h('h3', { class: 'outcome-bad', text: 'fake-llm internal error' }));
      parts.push(h('pre', { text: entry.error }));
    }
    if (entry.events && entry.events.length) {
      const last = Math.max(...entry.events.map((e) => e.at_ms || 0));
      const heading = `Stream: ${plural(entry.events.length, 'event')} over ${ms(last)}`;
      parts.push(h('h3', {}, heading, h('span', { class: 'muted', text: ' (planned, from the start of the stream)' })));
      if ((entry.faults || []).length) {
        parts.push(h('p', { class: 'outcome-bad', text: `Faults: ${entry.faults.join(', ')}` }));
      }
      const table = eventsTable(entry);
      table.classList.toggle('hide-raw', !state.showRaw);
      const toggle = h('input', { type: 'checkbox', onchange: (event) => {
        state.showRaw = event.target.checked;
        table.classList.toggle('hide-raw', !state.showRaw);
      } });
      toggle.checked = state.showRaw;
      parts.push(h('label', { class: 'check' }, toggle, ' show the raw data of each event'));
      parts.push(h('div', { 'data-testid': 'detail-events' }, table));
    }
    parts.push(h('h3', { text: 'Request body' }));
    const text = typeof entry.body === 'string' ? entry.body : JSON.stringify(entry.body, null, 2);
    parts.push(h('pre', { 'data-testid': 'detail-body', text }));
    const headers = Object.entries(entry.headers || {});
    if (headers.length) {
      parts.push(h('h3', { text: 'Request headers (secrets redacted)' }));
      parts.push(kvTable('Request headers', headers));
    }
    body.replaceChildren(...parts);
  }

  // ------------------------------------------------------------------ scenarios

  async function refreshScenarios(data) {
    const listing = data ?? await admin('scenarios');
    const json = JSON.stringify(listing.scenarios);
    if (json === state.scenariosJson) return;
    const structure = (s) => JSON.stringify((s || []).map((x) => [x.name, x.rules.map((r) => r.name)]));
    const changed = structure(listing.scenarios) !== structure(state.scenarios);
    state.scenariosJson = json;
    state.scenarios = listing.scenarios;
    renderScenarios();
    if (changed) refreshWarnings().catch(() => {});
  }

  async function refreshWarnings() {
    const warnings = (await admin('rules')).warnings || [];
    $('rule-warnings-summary').textContent = `${plural(warnings.length, 'rule')} shadowed while every scenario is on`;
    $('rule-warnings-list').replaceChildren(...warnings.map((w) => h('li', { text: w })));
    $('rule-warnings').hidden = !warnings.length;
  }

  function renderScenarios() {
    const focusKey = document.activeElement?.dataset?.focusKey;
    const container = $('scenarios');
    if (!state.scenarios.length) {
      container.replaceChildren(h('p', { class: 'muted', text: 'No scenarios loaded.' }));
    } else {
      container.replaceChildren(...state.scenarios.map(scenarioCard));
    }
    if (focusKey) container.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
    // The chat box's per-request scenario choice lists the same names.
    const select = $('chat-scenario');
    const chosen = select.value;
    select.replaceChildren(h('option', { value: '', text: 'whatever is switched on' }),
      ...state.scenarios.map((s) => h('option', { value: s.name, text: s.name })));
    select.value = state.scenarios.some((s) => s.name === chosen) ? chosen : '';
  }

  function scenarioCard(scenario) {
    const toggle = h('input', {
      type: 'checkbox',
      role: 'switch',
      'data-testid': 'scenario-toggle',
      dataset: { focusKey: `toggle:${scenario.name}` },
      onchange: (event) => switchScenario(scenario.name, event.target.checked ? 'enable' : 'disable', event.target),
    });
    toggle.checked = scenario.enabled;
    const rules = scenario.rules.map((rule) => {
      const limit = rule.times ? ` / ${rule.times}` : '';
      return h('li', { 'data-testid': 'rule', dataset: { rule: rule.name } },
        h('span', { class: 'rule-name', text: rule.name, title: rule.source }),
        h('span', { class: 'reply', text: rule.replies.join(' → '), title: rule.replies.join(' → ') }),
        h('span', {
          class: `hits${rule.hits ? ' hit' : ''}`,
          'data-testid': 'rule-hits',
          text: `${rule.hits}${limit} ${rule.hits === 1 && !limit ? 'hit' : 'hits'}`,
        }));
    });
    return h('div', {
      class: `scenario${scenario.enabled ? '' : ' off'}`,
      'data-testid': 'scenario',
      dataset: { name: scenario.name, enabled: scenario.enabled },
    },
      h('div', { class: 'scenario-head' },
        h('label', { class: 'switch' }, toggle, h('span', { class: 'name', text: scenario.name })),
        h('span', { class: 'state', text: scenario.enabled ? 'on' : 'off' }),
        h('button', {
          type: 'button',
          'data-testid': 'scenario-only',
          dataset: { focusKey: `only:${scenario.name}` },
          'aria-label': `Only this one: ${scenario.name}`,
          onclick: (event) => switchScenario(scenario.name, 'activate', event.target),
        }, 'Only this one')),
      rulesBox(scenario, rules));
  }

  /** A scenario's rules, folded when there are many (the reader's choice is kept across redraws). */
  function rulesBox(scenario, rules) {
    const hits = scenario.rules.reduce((sum, rule) => sum + rule.hits, 0);
    const open = state.rulesOpen.get(scenario.name) ?? scenario.rules.length <= 8;
    const box = h('details', { class: 'rules-box', open },
      h('summary', {},
        h('span', { class: 'path', text: scenario.path.split(/[\\/]/).pop(), title: scenario.path }),
        ` · ${plural(scenario.rules.length, 'rule')}, ${plural(hits, 'hit')}`),
      h('ul', { class: 'rules', 'aria-label': `Rules of ${scenario.name}` }, rules));
    box.addEventListener('toggle', () => state.rulesOpen.set(scenario.name, box.open));
    return box;
  }

  async function switchScenario(name, action, control) {
    if (control) control.disabled = true;
    try {
      const listing = await admin(`scenarios/${encodeURIComponent(name)}/${action}`, { method: 'POST' });
      state.scenariosJson = ''; // always redraw: the switch itself must show the server's answer
      await refreshScenarios(listing);
      const words = {
        enable: `${name} switched on`,
        disable: `${name} switched off`,
        activate: name === 'all' ? 'every scenario switched on' : `only ${name} is on`,
      };
      notify(words[action]);
    } catch (error) {
      state.scenariosJson = '';
      renderScenarios();
      if (!(error instanceof AuthError)) notify(`Could not switch ${name}: ${error.message}`, true);
    } finally {
      if (control && control.isConnected) control.disabled = false;
    }
  }

  // ------------------------------------------------------------------ polling

  let refreshTimer = 0;
  /** New journal entries change hit counts (and a RELOAD entry the rules): refresh soon, once. */
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => { slowRefresh(false).catch(() => {}); }, 150);
  }

  async function slowRefresh(withJournalChecks) {
    const work = [refreshHealth()];
    if (!state.needsToken) {
      work.push(refreshScenarios());
      if (withJournalChecks && !state.paused) work.push(checkJournalRestart().then(refreshOpenStreams));
    }
    const results = await Promise.allSettled(work);
    const failed = results.find((r) => r.status === 'rejected' && !(r.reason instanceof AuthError) && state.online);
    if (failed) console.warn('fake-llm dashboard:', failed.reason);
  }

  async function loop() {
    if (!document.hidden) {
      try {
        if (!state.needsToken && !state.paused) await pollJournal();
        state.tick += 1;
        if (state.tick % SLOW_EVERY === 0) await slowRefresh(true);
      } catch (error) {
        if (!(error instanceof AuthError) && state.online) console.warn('fake-llm dashboard:', error);
      }
    }
    setTimeout(loop, POLL_MS);
  }

  async function refreshAll() {
    await Promise.allSettled([refreshHealth(), refreshScenarios(), pollJournal()]);
  }

  // ------------------------------------------------------------------ the chat box

  /** Server-sent events from text pieces as they arrive (lines end in \n, \r\n or \r; a blank line ends an event). */
  class SSEParser {
    constructor(onEvent, onComment) {
      this.onEvent = onEvent;
      this.onComment = onComment;
      this.buffer = '';
      this.data = [];
      this.event = '';
    }

    push(text) {
      this.buffer += text;
      for (;;) {
        const at = this.buffer.search(/[\r\n]/);
        if (at < 0) return;
        if (this.buffer[at] === '\r' && at === this.buffer.length - 1) return; // maybe the first half of \r\n
        const line = this.buffer.slice(0, at);
        this.buffer = this.buffer.slice(at + (this.buffer[at] === '\r' && this.buffer[at + 1] === '\n' ? 2 : 1));
        this.line(line);
      }
    }

    /** The stream ended: returns what was left unfinished (a cut event), if anything. */
    finish() {
      if (this.buffer.endsWith('\r')) this.push('\n');
      const leftover = [...this.data.map((d) => `data: ${d}`), this.buffer].filter(Boolean).join('\n');
      this.buffer = '';
      this.data = [];
      return leftover;
    }

    line(line) {
      if (line === '') {
        if (this.data.length) this.onEvent({ event: this.event || null, data: this.data.join('\n') });
        this.data = [];
        this.event = '';
        return;
      }
      if (line.startsWith(':')) { this.onComment(line.slice(1).trim()); return; }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
    }
  }

  const chat = {
    history: [], // the messages sent with the next request (the system prompt is added on sending)
    pendingCalls: [], // tool calls of the last reply still waiting for a result
    lastCalls: [], // the tool calls of the last reply (a failed tool turn puts its call back)
    controller: null,
    ticker: 0,
  };

  function parseTools(text) {
    const value = text.trim();
    if (!value) return null;
    if (value.startsWith('[')) return JSON.parse(value);
    return value.split(',').map((name) => name.trim()).filter(Boolean).map((name) => ({
      type: 'function',
      function: {
        name,
        description: `${name} (declared from the dashboard)`,
        parameters: { type: 'object', properties: {} },
      },
    }));
  }

  function addBubble(role, text) {
    const bubble = h('li', { class: `msg msg-${role}`, 'data-testid': `chat-${role === 'assistant' ? 'reply' : role}` },
      h('span', { class: 'who', text: role }),
      h('span', { class: 'reasoning', hidden: true }),
      h('span', { class: 'text', 'data-testid': role === 'assistant' ? 'chat-reply-text' : null, text }),
      h('span', { class: 'calls', hidden: true }),
      h('span', { class: 'meta', hidden: true }));
    const transcript = $('chat-transcript');
    transcript.append(bubble);
    transcript.scrollTop = transcript.scrollHeight; // the transcript scrolls, never the page
    return bubble;
  }
  const part = (bubble, name) => bubble.querySelector(`.${name}`);
  function setMeta(bubble, text) {
    const meta = part(bubble, 'meta');
    meta.textContent = text;
    meta.hidden = !text;
  }

  function chatError(message) {
    const box = $('chat-error');
    box.textContent = message;
    box.hidden = !message;
  }

  function updateMessageLabel() {
    const call = chat.pendingCalls[0];
    $('chat-message-label').textContent = call
      ? `Result of ${call.function.name}(${call.function.arguments}), sent as a tool message for ${call.id}`
      : 'Message';
  }

  function setBusy(busy) {
    $('chat-send').disabled = busy;
    $('chat-stop').disabled = !busy;
    $('chat-transcript').setAttribute('aria-busy', String(busy));
  }

  function startTicker(started) {
    stopTicker();
    chat.ticker = setInterval(() => {
      $('chat-status').textContent = `waiting… ${ms(performance.now() - started)}`;
    }, 100);
  }
  function stopTicker() {
    clearInterval(chat.ticker);
    chat.ticker = 0;
  }

  function resetTiming() {
    $('chat-chunks').replaceChildren();
    $('chat-chunk-count').textContent = '0';
    $('chat-timing-summary').textContent = '';
  }

  function logChunk(elapsed, label, text, kind = '') {
    const item = h('li', { class: kind, 'data-testid': 'chat-chunk' },
      h('span', { class: 'at', text: `+${Math.round(elapsed)} ms` }),
      label,
      text === null ? '' : ` ${JSON.stringify(text)}`);
    const list = $('chat-chunks');
    list.append(item);
    list.scrollTop = list.scrollHeight;
  }

  class BadBody extends Error {}

  async function sendChat(event) {
    event.preventDefault();
    if (chat.controller) return;
    const textarea = $('chat-message');
    const text = textarea.value;
    if (!text.trim()) return;
    let tools;
    try {
      tools = parseTools($('chat-tools').value);
    } catch (error) {
      chatError(`Tools: not a JSON array of tools (${error.message})`);
      return;
    }
    chatError('');
    const sent = chat.history.length; // what to take back if the request fails
    if (chat.pendingCalls.length) {
      const call = chat.pendingCalls.shift();
      chat.history.push({ role: 'tool', tool_call_id: call.id, content: text });
      addBubble('tool', text);
      textarea.value = '';
      updateMessageLabel();
      if (chat.pendingCalls.length) return; // every call needs its result before the next request
    } else {
      chat.history.push({ role: 'user', content: text });
      addBubble('user', text);
      textarea.value = '';
    }
    const stream = $('chat-stream').checked;
    const system = $('chat-system').value.trim();
    const body = {
      model: $('chat-model').value.trim(),
      messages: [...(system ? [{ role: 'system', content: system }] : []), ...chat.history],
      stream,
    };
    if (stream) body.stream_options = { include_usage: true };
    if (tools) body.tools = tools;
    const headers = { 'Content-Type': 'application/json', Accept: stream ? 'text/event-stream' : 'application/json' };
    const key = $('chat-api-key').value.trim();
    if (key) headers.Authorization = `Bearer ${key}`;
    const scenario = $('chat-scenario').value;
    if (scenario) headers['X-Fake-LLM-Scenario'] = scenario;

    const reply = addBubble('assistant', '');
    reply.classList.add('streaming');
    resetTiming();
    setBusy(true);
    chat.controller = new AbortController();
    const started = performance.now();
    startTicker(started);
    const result = {
      text: '', reasoning: '', refusal: '', calls: [], finish: null, usage: null, done: false, error: null,
      chunks: 0, first: null, last: null,
    };
    try {
      const { signal } = chat.controller;
      const response = await fetch(CHAT_URL, { method: 'POST', headers, body: JSON.stringify(body), signal });
      const type = response.headers.get('content-type') || '';
      if (!response.ok) {
        const retry = response.headers.get('retry-after-ms') || response.headers.get('retry-after');
        const message = await errorText(response);
        const unit = response.headers.has('retry-after-ms') ? ' ms' : ' s';
        result.error = `${response.status}: ${message}${retry ? ` (retry after ${retry}${unit})` : ''}`;
        logChunk(performance.now() - started, `HTTP ${response.status}`, message, 'kind-error');
      } else if (type.includes('text/event-stream') && response.body) {
        await readStream(response, started, reply, result);
      } else {
        const raw = await response.text();
        result.first = result.last = performance.now() - started;
        result.chunks = 1;
        let data;
        try {
          data = JSON.parse(raw);
        } catch {
          throw new BadBody(`the reply is not valid JSON (${raw.length} bytes): ${clip(raw, 160)}`);
        }
        logChunk(result.first, 'whole reply', null);
        const message = data.choices?.[0]?.message ?? {};
        result.text = message.content ?? '';
        result.reasoning = message.reasoning_content ?? '';
        result.refusal = message.refusal ?? '';
        result.calls = (message.tool_calls || [])
          .map((c) => ({ id: c.id, type: c.type || 'function', function: { ...c.function } }));
        result.finish = data.choices?.[0]?.finish_reason ?? null;
        result.usage = data.usage ?? null;
        result.done = true;
        drawReply(reply, result);
      }
    } catch (error) {
      if (error instanceof BadBody) result.error = error.message;
      else if (error.name === 'AbortError') result.error = `stopped after ${plural(result.chunks, 'chunk')}`;
      else result.error = `connection failed after ${plural(result.chunks, 'chunk')}: ${error.message}`;
    } finally {
      stopTicker();
      chat.controller = null;
      setBusy(false);
    }
    finishReply(reply, result, started, sent, text);
    // The journal shows this request (and how its stream ended) without waiting for the next poll.
    if (!state.needsToken && !state.paused) pollJournal().then(refreshOpenStreams).catch(() => {});
  }

  async function readStream(response, started, reply, result) {
    const count = $('chat-chunk-count');
    const parser = new SSEParser((event) => {
      const elapsed = performance.now() - started;
      result.chunks += 1;
      result.first ??= elapsed;
      result.last = elapsed;
      count.textContent = String(result.chunks);
      if (event.data === '[DONE]') {
        result.done = true;
        logChunk(elapsed, '[DONE]', null);
        return;
      }
      let chunk;
      try {
        chunk = JSON.parse(event.data);
      } catch {
        result.error ??= `malformed chunk #${result.chunks}: ${clip(event.data, 120)}`;
        logChunk(elapsed, 'malformed', event.data, 'kind-error');
        return;
      }
      if (chunk.error || event.event === 'error') {
        const error = chunk.error ?? chunk;
        const code = error.code ? ` (${error.code})` : '';
        result.error = `error in the stream: ${error.message ?? JSON.stringify(error)}${code}`;
        logChunk(elapsed, 'error', error.message ?? event.data, 'kind-error');
        return;
      }
      const choice = (chunk.choices || []).find((c) => (c.index ?? 0) === 0);
      if (chunk.usage) result.usage = chunk.usage;
      if (!choice) {
        const usage = chunk.usage ? `${chunk.usage.prompt_tokens} in, ${chunk.usage.completion_tokens} out` : null;
        logChunk(elapsed, chunk.usage ? 'usage' : 'chunk', usage);
        return;
      }
      const delta = choice.delta || {};
      const pieces = [];
      if (delta.role) pieces.push(`role ${delta.role}`);
      if (delta.reasoning_content) { result.reasoning += delta.reasoning_content; pieces.push('reasoning'); }
      if (delta.content) result.text += delta.content;
      if (delta.refusal) { result.refusal += delta.refusal; pieces.push('refusal'); }
      for (const fragment of delta.tool_calls || []) {
        const empty = { id: '', type: 'function', function: { name: '', arguments: '' } };
        const call = (result.calls[fragment.index ?? 0] ??= empty);
        if (fragment.id) call.id = fragment.id;
        if (fragment.function?.name) call.function.name += fragment.function.name;
        if (fragment.function?.arguments) call.function.arguments += fragment.function.arguments;
        pieces.push(`tool call ${call.function.name}`);
      }
      if (choice.finish_reason) { result.finish = choice.finish_reason; pieces.push(`finish ${choice.finish_reason}`); }
      const shown = delta.content ?? delta.reasoning_content ?? delta.refusal
        ?? delta.tool_calls?.[0]?.function?.arguments ?? null;
      logChunk(elapsed, pieces.join(', ') || 'content', shown || null, delta.content ? 'content' : '');
      drawReply(reply, result);
    }, (comment) => {
      logChunk(performance.now() - started, `: ${comment}`, null, 'kind-comment');
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder(); // stream mode: a character split across two reads is kept whole
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(decoder.decode(value, { stream: true }));
      }
      parser.push(decoder.decode());
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      result.error ??= `connection dropped after ${plural(result.chunks, 'chunk')} (${error.message})`;
    }
    const leftover = parser.finish();
    if (leftover) {
      result.error ??= 'the stream ended in the middle of an event';
      logChunk(performance.now() - started, 'unfinished event', leftover, 'kind-error');
    }
    if (!result.done && !result.error) result.error = 'the stream ended without data: [DONE]';
  }

  function drawReply(bubble, result) {
    part(bubble, 'text').textContent = result.text || result.refusal;
    const reasoning = part(bubble, 'reasoning');
    reasoning.textContent = result.reasoning;
    reasoning.hidden = !result.reasoning;
    const calls = part(bubble, 'calls');
    calls.textContent = result.calls.map((c) => `→ ${c.function.name}(${c.function.arguments})`).join('\n');
    calls.hidden = !result.calls.length;
  }

  function finishReply(bubble, result, started, sent, text) {
    bubble.classList.remove('streaming');
    drawReply(bubble, result);
    const summary = [];
    if (result.first !== null) summary.push(`first chunk ${ms(result.first)}`);
    if (result.last !== null && result.chunks > 1) summary.push(`last ${ms(result.last)}`);
    summary.push(`total ${ms(performance.now() - started)}`);
    $('chat-timing-summary').textContent = `· ${summary.join(' · ')}`;
    const meta = [];
    if (result.finish) meta.push(`finish: ${result.finish}`);
    if (result.usage) {
      meta.push(`${result.usage.prompt_tokens} prompt + ${result.usage.completion_tokens} completion tokens`);
    }
    meta.push(summary.join(', '));
    setMeta(bubble, meta.join(' · '));
    $('chat-status').textContent = result.error ? 'failed' : `done in ${ms(performance.now() - started)}`;
    if (result.error) {
      chatError(result.error);
      bubble.classList.add('failed');
      if (!result.text && !result.calls.length) part(bubble, 'text').textContent = '(no reply)';
      // Take the turn back so that "send" retries it (a scripted 429, then success, works as in a real app).
      const [undone] = chat.history.splice(sent);
      $('chat-message').value = text;
      if (undone && undone.role === 'tool') {
        const call = chat.lastCalls.find((c) => c.id === undone.tool_call_id);
        if (call) chat.pendingCalls.unshift(call);
        updateMessageLabel();
      }
      return;
    }
    const message = { role: 'assistant', content: result.text || null };
    if (result.calls.length) message.tool_calls = result.calls;
    if (result.refusal && !result.text) message.refusal = result.refusal;
    chat.history.push(message);
    chat.lastCalls = result.calls;
    chat.pendingCalls = [...result.calls];
    updateMessageLabel();
  }

  function newConversation() {
    chat.controller?.abort();
    chat.history = [];
    chat.pendingCalls = [];
    chat.lastCalls = [];
    $('chat-transcript').replaceChildren();
    chatError('');
    resetTiming();
    $('chat-status').textContent = '';
    updateMessageLabel();
    $('chat-message').focus();
  }

  async function loadModels() {
    try {
      const response = await fetch(MODELS_URL, { cache: 'no-store' });
      if (!response.ok) return;
      const { data } = await response.json();
      $('models').replaceChildren(...(data || []).map((m) => h('option', { value: m.id })));
    } catch { /* the field still takes any name */ }
  }

  // ------------------------------------------------------------------ wiring

  function wire() {
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = $('token-input');
      setToken(input.value.trim());
      input.value = '';
      hideAuth();
      refreshAll();
    });
    $('journal-filter').addEventListener('input', applyFilter);
    $('journal-pause').addEventListener('click', (event) => {
      state.paused = !state.paused;
      event.currentTarget.classList.toggle('pressed', state.paused);
      event.currentTarget.textContent = state.paused ? 'Resume' : 'Pause';
      updateLive();
    });
    $('journal-clear').addEventListener('click', async () => {
      try {
        await admin('journal', { method: 'DELETE' });
        clearJournalView();
        notify('journal cleared');
      } catch (error) {
        if (!(error instanceof AuthError)) notify(`Could not clear the journal: ${error.message}`, true);
      }
    });
    $('reset').addEventListener('click', async () => {
      try {
        await admin('reset', { method: 'POST' });
        clearJournalView();
        state.lastSeq = 0;
        state.scenariosJson = '';
        await refreshScenarios();
        notify('journal, rule counters and rate limits reset');
      } catch (error) {
        if (!(error instanceof AuthError)) notify(`Could not reset: ${error.message}`, true);
      }
    });
    $('scenarios-all-on').addEventListener('click', (event) => switchScenario('all', 'activate', event.currentTarget));
    $('detail-close').addEventListener('click', closeDetail);
    $('detail').addEventListener('keydown', (event) => { if (event.key === 'Escape') closeDetail(); });
    $('chat-form').addEventListener('submit', sendChat);
    $('chat-message').addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $('chat-form').requestSubmit();
      }
    });
    $('chat-stop').addEventListener('click', () => chat.controller?.abort());
    $('chat-new').addEventListener('click', newConversation);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) updateLive(); });
  }

  takeTokenFromUrl();
  wire();
  updateLive();
  loadModels();
  refreshAll().finally(() => setTimeout(loop, POLL_MS));
})();
