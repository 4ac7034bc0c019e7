// medialib operator's page. Plain ES2020, no dependencies. Every element is built with
// createElement and every piece of record data is set with textContent or setAttribute,
// so hostile file names render as text (the page also runs under a strict CSP).
'use strict';
(() => {
  const PAGE_SIZE = 50;
  const DEBOUNCE_MS = 300;
  const STATUSES = ['ok', 'warning', 'error', 'unchecked'];
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const SEVERITY = {};
  for (const c of 'missing_file not_regular_file unreadable empty_file outside_media_root not_media no_video_stream too_few_frames truncated no_files decode_error'.split(' ')) SEVERITY[c] = 'error';
  for (const c of ['not_faststart', 'codec_not_browser_safe', 'zero_duration']) SEVERITY[c] = 'warning';
  const SEV_RANK = { error: 0, warning: 1, info: 2 };
  const MEDIA_ERRORS = {
    1: 'loading was aborted',
    2: 'a network error interrupted loading',
    3: 'the file could not be decoded (corrupt, truncated, or a codec this browser lacks)',
    4: 'the browser cannot play this source (file missing, not a video, or an unsupported format or codec)',
  };

  // ---- error collection (for tests and for the operator) ----
  const errors = Array.isArray(window.medialibErrors) ? window.medialibErrors : [];
  window.medialibErrors = errors;
  const noteError = (msg) => { errors.push(String(msg)); };
  window.addEventListener('error', (e) => noteError(e.message || 'script error'));
  window.addEventListener('unhandledrejection', (e) => noteError((e.reason && e.reason.message) || e.reason));
  document.addEventListener('securitypolicyviolation', (e) =>
    noteError(`CSP violation: ${e.violatedDirective} ${e.blockedURI || ''}`.trim()));

  // ---- DOM helpers ----
  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  }
  const DASH = '–';
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  function humanSize(n) {
    if (!isNum(n)) return DASH;
    if (n < 1024) return `${n} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = n / 1024, i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
  }
  const fmtDuration = (d) => (isNum(d) ? d.toFixed(2) : DASH);
  const fmtInt = (n) => (isNum(n) ? String(n) : DASH);
  const fmtText = (s) => (s === null || s === undefined || s === '' ? DASH : String(s));
  const severityOf = (code) => SEVERITY[code] || 'info';
  const filesOf = (r) => (Array.isArray(r.files) ? r.files : []);
  const fileOf = (r, kind) => filesOf(r).find((f) => f && f.kind === kind) || null;
  const notChecked = (r) => filesOf(r).length > 0 && filesOf(r).every((f) => f.checked === false);
  // Only same-origin relative URLs are used as media sources.
  const safeUrl = (u) => (typeof u === 'string' && u.startsWith('/') && !u.startsWith('//') ? u : null);

  // Path text, with \xNN escapes (non-UTF-8 bytes) marked up; textContent stays the raw path.
  function appendPath(parent, path) {
    const parts = String(path).split(/(\\x[0-9A-Fa-f]{2})/);
    for (const part of parts) {
      if (!part) continue;
      if (/^\\x[0-9A-Fa-f]{2}$/.test(part)) {
        const s = el('span', 'esc', part);
        s.setAttribute('title', 'a byte that is not valid UTF-8');
        parent.append(s);
      } else parent.append(document.createTextNode(part));
    }
  }

  // ---- messages ----
  const messages = new Map();
  function renderMessages() {
    const box = $('message');
    box.replaceChildren();
    for (const [key, text] of messages) {
      const p = el('p', 'message-item');
      p.dataset.key = key;
      p.append(el('span', 'message-text', text));
      const x = el('button', 'btn dismiss', '×');
      x.type = 'button';
      x.setAttribute('aria-label', 'Dismiss message');
      x.addEventListener('click', () => { messages.delete(key); renderMessages(); });
      p.append(x);
      box.append(p);
    }
    box.hidden = messages.size === 0;
  }
  const fail = (key, text) => { messages.set(key, text); noteError(text); renderMessages(); };
  const clearMessage = (key) => { if (messages.delete(key)) renderMessages(); };

  async function fetchJSON(url, signal) {
    let res;
    try {
      res = await fetch(url, { signal, cache: 'no-store', headers: { Accept: 'application/json' } });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new Error(`network error (${e.message})`);
    }
    if (!res.ok) {
      let detail = '';
      try {
        detail = (await res.text()).trim();
        try { const j = JSON.parse(detail); detail = String(j.error || j.message || detail); } catch (_) { /* text */ }
      } catch (_) { /* no body */ }
      throw new Error(`HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}${detail ? ': ' + detail.slice(0, 200) : ''}`);
    }
    try { return await res.json(); } catch (_) { throw new Error('the response is not valid JSON'); }
  }

  // ---- state ----
  const state = {
    status: '', code: '', q: '',
    after: 0, stack: [], next: null,
    records: [], summary: null,
    selected: null, kind: null,
  };

  function readHash() {
    const p = new URLSearchParams(location.hash.replace(/^#/, ''));
    const st = p.get('status') || '';
    state.status = STATUSES.includes(st) ? st : '';
    const code = (p.get('code') || '').trim();
    state.code = /^[a-z0-9_]{1,64}$/.test(code) ? code : '';
    state.q = (p.get('q') || '').slice(0, 500);
  }
  function writeHash() {
    const p = new URLSearchParams();
    if (state.status) p.set('status', state.status);
    if (state.code) p.set('code', state.code);
    if (state.q) p.set('q', state.q);
    const h = p.toString();
    if ((h ? '#' + h : '') !== location.hash) {
      history.replaceState(null, '', h ? '#' + h : location.pathname + location.search);
    }
  }
  function ensureCodeOption(code) {
    const sel = $('filter-code');
    if (!code || [...sel.options].some((o) => o.value === code)) return;
    sel.append(new Option(code, code));
  }
  function syncControls() {
    $('filter-status').value = state.status;
    ensureCodeOption(state.code);
    $('filter-code').value = state.code;
    if ($('filter-q').value.trim() !== state.q) $('filter-q').value = state.q;
    updateBarStates();
  }
  function setFilter(changes) {
    Object.assign(state, changes);
    state.after = 0; state.stack = []; state.next = null;
    writeHash();
    syncControls();
    loadRecords();
  }

  // ---- summary ----
  function makeBar(kind, value, count, max, colorClass) {
    const b = el('button', `bar ${colorClass}`);
    b.type = 'button';
    b.dataset[kind] = value;
    b.dataset.count = String(count);
    b.setAttribute('title', `${count} record${count === 1 ? '' : 's'}: ${value} (click to filter)`);
    b.append(el('span', 'bar-label', value));
    const svg = svgEl('svg', { class: 'bar-track', viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' });
    const w = max > 0 ? Math.max(count > 0 ? 1.5 : 0, (100 * count) / max) : 0;
    svg.append(svgEl('rect', { class: 'bar-bg', x: 0, y: 0, width: 100, height: 10 }));
    svg.append(svgEl('rect', { class: 'bar-fill', x: 0, y: 0, width: w.toFixed(2), height: 10 }));
    b.append(svg, el('span', 'bar-count', count));
    b.addEventListener('click', () => setFilter({ [kind]: state[kind] === value ? '' : value }));
    return b;
  }
  function updateBarStates() {
    for (const b of document.querySelectorAll('#summary .bar')) {
      const active = b.dataset.status !== undefined ? b.dataset.status === state.status : b.dataset.code === state.code;
      b.classList.toggle('active', active);
      b.setAttribute('aria-pressed', active ? 'true' : 'false');
    }
  }
  function renderSummary(s) {
    const total = isNum(s.records) ? s.records : 0;
    $('record-count').textContent = `${total} record${total === 1 ? '' : 's'}`;
    const st = s.status || {};
    const stBox = $('summary-status');
    stBox.replaceChildren(...STATUSES.map((k) =>
      makeBar('status', k, isNum(st[k]) ? st[k] : 0, total || Math.max(0, ...STATUSES.map((x) => st[x] || 0)), `st-${k}`)));
    const codes = Object.entries(s.codes || {}).filter(([, n]) => isNum(n))
      .sort((a, b) => (SEV_RANK[severityOf(a[0])] - SEV_RANK[severityOf(b[0])]) || (b[1] - a[1]) || a[0].localeCompare(b[0]));
    const max = Math.max(0, ...codes.map(([, n]) => n));
    const cBox = $('summary-codes');
    cBox.replaceChildren(...codes.map(([c, n]) => makeBar('code', c, n, max, `sev-${severityOf(c)}`)));
    if (!codes.length) cBox.append(el('p', 'muted', 'No findings.'));
    // code filter options, grouped by severity
    const sel = $('filter-code');
    sel.replaceChildren(new Option('all codes', ''));
    for (const sev of ['error', 'warning', 'info']) {
      const group = codes.filter(([c]) => severityOf(c) === sev);
      if (!group.length) continue;
      const og = el('optgroup');
      og.label = sev === 'info' ? 'info' : `${sev}s`;
      for (const [c, n] of group) og.append(new Option(`${c} (${n})`, c));
      sel.append(og);
    }
    syncControls();
  }
  async function loadSummary() {
    try {
      const s = await fetchJSON('/api/media/summary');
      if (!s || typeof s !== 'object') throw new Error('unexpected response');
      state.summary = s;
      clearMessage('summary');
      renderSummary(s);
    } catch (e) {
      fail('summary', `Could not load the summary: ${e.message}`);
    }
  }

  // ---- records table ----
  function pathCell(file, cls) {
    const td = el('td', `path ${cls}`);
    if (!file) { td.textContent = DASH; td.classList.add('none'); return td; }
    appendPath(td, fmtText(file.path));
    const notes = [];
    if (file.exists === false) { td.classList.add('missing'); notes.push('missing on disk'); }
    if (file.checked === false) { td.classList.add('not-checked'); notes.push('not checked yet'); }
    td.setAttribute('title', String(file.path) + (notes.length ? ` (${notes.join(', ')})` : ''));
    return td;
  }
  function renderRow(r) {
    const tr = el('tr');
    const id = String(r.id);
    tr.dataset.id = id;
    tr.dataset.status = String(r.status);
    if (state.selected && String(state.selected.id) === id) tr.classList.add('selected');
    const raw = fileOf(r, 'raw'), proc = fileOf(r, 'processed');
    const main = raw || proc;

    const playTd = el('td', 'play-cell');
    const play = el('button', 'btn play', 'Play');
    play.type = 'button';
    play.setAttribute('aria-label', `Play record ${id}`);
    play.addEventListener('click', (ev) => { ev.stopPropagation(); select(r, true); });
    playTd.append(play);

    const uuid = el('td', 'uuid mono', fmtText(r.uuid).slice(0, 8));
    if (r.uuid) uuid.setAttribute('title', String(r.uuid));

    const stTd = el('td', 'status-cell');
    const unchecked = notChecked(r) || r.status === 'unchecked';
    const badge = el('span', `status st-${STATUSES.includes(r.status) ? r.status : 'unchecked'}`,
      unchecked ? 'not checked yet' : fmtText(r.status));
    stTd.append(badge);
    if (unchecked) {
      const hint = el('span', 'hint', 'run ');
      hint.append(el('code', null, 'medialib verify'), document.createTextNode(' to check it'));
      stTd.append(hint);
    }

    const codesTd = el('td', 'codes');
    (Array.isArray(r.codes) ? r.codes : []).forEach((c, i) => {
      if (i) codesTd.append(document.createTextNode(' '));
      const chip = el('span', `code sev-${severityOf(c)}`, c);
      chip.dataset.code = String(c);
      codesTd.append(chip);
    });

    const facts = (cls, text) => {
      const td = el('td', cls, text);
      if (main) td.setAttribute('title', `${main.kind} file`);
      return td;
    };
    tr.append(
      playTd,
      el('td', 'id num', id),
      uuid,
      pathCell(raw, 'raw-path'),
      pathCell(proc, 'processed-path'),
      stTd,
      codesTd,
      facts('size num', humanSize(main && main.size)),
      facts('duration num', fmtDuration(main && main.duration)),
      facts('frames num', fmtInt(main && main.frames)),
      facts('codec', fmtText(main && main.codec)),
    );
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('button, a') || String(window.getSelection() || '')) return;
      select(r, false);
    });
    return tr;
  }
  function renderRecords(emptyText) {
    const tbody = $('records').tBodies[0];
    tbody.replaceChildren(...state.records.map(renderRow));
    if (!state.records.length) {
      const tr = el('tr', 'empty');
      const td = el('td', null, emptyText || 'No records match these filters.');
      td.colSpan = 11;
      tr.append(td);
      tbody.append(tr);
    }
  }
  function updatePager(loading) {
    $('prev').disabled = loading || state.stack.length === 0;
    $('next').disabled = loading || state.next === null || state.records.length === 0;
    $('page-number').textContent = `page ${state.stack.length + 1}`;
    $('page-count').textContent = loading ? 'loading…' : `${state.records.length} shown`;
  }

  let listCtl = null;
  let listSeq = 0;
  async function loadRecords() {
    if (listCtl) listCtl.abort();
    const ctl = (listCtl = new AbortController());
    const seq = ++listSeq;
    const table = $('records');
    table.dataset.loading = '1'; table.setAttribute('aria-busy', 'true');
    updatePager(true);
    const p = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.after) p.set('after', String(state.after));
    if (state.status) p.set('status', state.status);
    if (state.code) p.set('code', state.code);
    if (state.q) p.set('q', state.q);
    try {
      const data = await fetchJSON(`/api/media/videos/?${p}`, ctl.signal);
      if (seq !== listSeq) return;
      if (!data || !Array.isArray(data.records)) throw new Error('unexpected response (no "records" array)');
      state.records = data.records.filter((r) => r && typeof r === 'object');
      state.next = isNum(data.next) ? data.next : null;
      clearMessage('records');
      renderRecords();
    } catch (e) {
      if (e.name === 'AbortError' || seq !== listSeq) return;
      state.records = []; state.next = null;
      fail('records', `Could not load records: ${e.message}`);
      renderRecords('Could not load records (see the message above).');
    } finally {
      if (seq === listSeq) {
        listCtl = null;
        delete table.dataset.loading;
        table.removeAttribute('aria-busy');
        updatePager(false);
        document.body.dataset.ready = '1';
      }
    }
  }

  // ---- player ----
  const player = $('player');
  const video = player.querySelector('video');
  const videoError = player.querySelector('.video-error');
  let videoFile = null;

  function showVideoError(text) { videoError.textContent = text; videoError.hidden = !text; }
  function renderFacts(file) {
    const dl = player.querySelector('.facts');
    dl.replaceChildren();
    if (!file) return;
    const dims = isNum(file.width) && isNum(file.height) ? `${file.width}×${file.height}` : DASH;
    const rows = [
      ['path', fmtText(file.path)], ['on disk', file.exists === false ? 'missing' : file.exists ? 'yes' : DASH],
      ['size', humanSize(file.size)], ['duration', isNum(file.duration) ? `${fmtDuration(file.duration)} s` : DASH],
      ['frames', fmtInt(file.frames)], ['codec', fmtText(file.codec)], ['dimensions', dims],
      ['container', fmtText(file.container)], ['checked', file.checked === false ? 'not checked yet' : 'yes'],
    ];
    for (const [k, v] of rows) {
      const dd = el('dd', k === 'path' ? 'mono' : null);
      if (k === 'path') appendPath(dd, v); else dd.textContent = v;
      dl.append(el('dt', null, k), dd);
    }
  }
  function renderFindings(r) {
    const ul = player.querySelector('.findings');
    ul.replaceChildren();
    const all = [];
    for (const f of Array.isArray(r.findings) ? r.findings : []) all.push(['record', f]);
    for (const file of filesOf(r)) {
      for (const f of Array.isArray(file.findings) ? file.findings : []) all.push([file.kind, f]);
    }
    all.sort((a, b) => (SEV_RANK[a[1].severity] ?? 3) - (SEV_RANK[b[1].severity] ?? 3));
    for (const [where, f] of all) {
      const sev = ['error', 'warning', 'info'].includes(f.severity) ? f.severity : 'info';
      const li = el('li', `finding sev-${sev}`);
      li.dataset.code = String(f.code);
      li.append(el('span', `sev sev-${sev}`, sev), el('span', 'code', fmtText(f.code)),
        el('span', 'where', where), el('span', 'msg', fmtText(f.message)));
      ul.append(li);
    }
    for (const file of filesOf(r)) {
      if (file.checked !== false) continue;
      const li = el('li', 'finding unchecked', `${file.kind} file not checked yet: run `);
      li.append(el('code', null, 'medialib verify'), document.createTextNode(' to check it'));
      ul.append(li);
    }
    if (!ul.children.length) ul.append(el('li', 'none', filesOf(r).length ? 'No findings.' : 'This record has no files.'));
  }
  function setKind(kind, autoplay, keepTime) {
    const r = state.selected;
    const file = r ? fileOf(r, kind) : null;
    state.kind = file ? kind : null;
    for (const b of player.querySelectorAll('.kind')) {
      const on = b.dataset.kind === state.kind;
      b.classList.toggle('active', on);
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
    renderFacts(file);
    showVideoError('');
    const t = keepTime ? video.currentTime : 0;
    videoFile = file;
    const url = file && safeUrl(file.url);
    if (!url) {
      video.pause();
      video.removeAttribute('src');
      video.load();
      video.hidden = true;
      if (file) showVideoError(`The ${kind} file has no playable URL.`);
      return;
    }
    video.hidden = false;
    video.src = url;
    if (t > 0) {
      video.addEventListener('loadedmetadata', () => {
        try { video.currentTime = Math.min(t, video.duration || t); } catch (_) { /* not seekable */ }
      }, { once: true });
    }
    if (autoplay) video.play().catch(() => { /* the error event explains it */ });
  }
  function select(r, autoplay) {
    state.selected = r;
    for (const tr of $('records').tBodies[0].rows) {
      const on = tr.dataset.id === String(r.id);
      tr.classList.toggle('selected', on);
      if (on) tr.setAttribute('aria-selected', 'true'); else tr.removeAttribute('aria-selected');
    }
    $('player-empty').hidden = true;
    $('player-title').textContent = `#${r.id}${r.uuid ? ' · ' + String(r.uuid) : ''}`;
    for (const b of player.querySelectorAll('.kind')) b.disabled = !fileOf(r, b.dataset.kind);
    const kind = fileOf(r, 'raw') ? 'raw' : fileOf(r, 'processed') ? 'processed' : null;
    renderFindings(r);
    setKind(kind, autoplay, false);
    if (!filesOf(r).length) showVideoError('This record has no files to play.');
    const box = player.getBoundingClientRect();
    if (box.top < 0 || box.top > window.innerHeight - 80) player.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }
  video.addEventListener('error', async () => {
    const err = video.error;
    const file = videoFile;
    const src = video.getAttribute('src');
    if (!err || !file || !src) return;
    let text = `Cannot play the ${file.kind} file: ${MEDIA_ERRORS[err.code] || 'unknown error'}.`;
    if (file.exists === false) text += ' The catalog says the file is missing on disk.';
    else if (file.codec) text += ` Its codec is ${file.codec}.`;
    showVideoError(text);
    noteError(text);
    try {
      const res = await fetch(src, { method: 'HEAD', cache: 'no-store' });
      if (!res.ok && video.getAttribute('src') === src) showVideoError(`${text} The server answered HTTP ${res.status}.`);
    } catch (_) { /* the message above stands */ }
  });

  // ---- wiring ----
  for (const b of player.querySelectorAll('.kind')) {
    b.addEventListener('click', () => { if (state.selected) setKind(b.dataset.kind, !video.paused, true); });
  }
  $('filter-status').addEventListener('change', (e) => setFilter({ status: e.target.value }));
  $('filter-code').addEventListener('change', (e) => setFilter({ code: e.target.value }));
  let qTimer = 0;
  const applyQ = () => {
    clearTimeout(qTimer);
    const q = $('filter-q').value.trim();
    if (q !== state.q) setFilter({ q });
  };
  $('filter-q').addEventListener('input', () => { clearTimeout(qTimer); qTimer = setTimeout(applyQ, DEBOUNCE_MS); });
  $('filter-q').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); applyQ(); } });
  $('clear-filters').addEventListener('click', () => { clearTimeout(qTimer); setFilter({ status: '', code: '', q: '' }); });
  $('next').addEventListener('click', () => {
    if (state.next === null) return;
    state.stack.push(state.after);
    state.after = state.next;
    loadRecords();
  });
  $('prev').addEventListener('click', () => { if (state.stack.length) { state.after = state.stack.pop(); loadRecords(); } });
  $('refresh').addEventListener('click', () => { loadSummary(); loadRecords(); });
  window.addEventListener('hashchange', () => {
    readHash();
    state.after = 0; state.stack = []; state.next = null;
    syncControls();
    loadRecords();
  });

  readHash();
  syncControls();
  loadSummary();
  loadRecords();
})();
