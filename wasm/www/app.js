// The page: sends dropped files to the worker (worker.js) and shows what comes back.
// Elements carry the raw numbers in data-* attributes (the browser test reads them).

const $ = (id) => document.getElementById(id);
/** The worker (started at the end of this file), restarted when the WASM module traps. */
let worker = null;
/** A predictor file the user chose: {name, buffer}, sent again to a restarted worker. */
let customPredictor = null;

function startWorker() {
  const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  w.onmessage = onMessage;
  if (customPredictor) {
    const buffer = customPredictor.buffer.slice(0);
    w.postMessage({ type: "predictor", name: customPredictor.name, buffer }, [buffer]);
  }
  return w;
}

/** Every model dropped so far: name → {file, summary, predictions}. */
const models = new Map();
let shown = null;
let nextId = 0;
let results = 0;
const pending = new Map();
const started = performance.now();

/** A prediction as text: two decimals, or "n/a" for a missing (NaN) one. */
function score(v) {
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(2) : "n/a";
}

function fmt(n, unit = "") {
  const steps = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [v, s] of steps) if (Math.abs(n) >= v) return (n / v).toFixed(2) + " " + s + unit;
  return String(n) + (unit ? " " + unit : "");
}

function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = !text;
}

function send(file) {
  const id = nextId++;
  pending.set(id, file);
  $("status").textContent = `converting ${file.name}…`;
  // the worker reads the file: a 100 MB model never passes through the page's thread
  worker.postMessage({ type: "convert", id, name: file.name, file });
}

function addFiles(files) {
  showError("");
  for (const f of files) send(f);
}

function onMessage({ data }) {
  if (data.type === "ready") {
    document.body.dataset.ready = "true";
    document.body.dataset.readyMs = String(Math.round(performance.now() - started));
    $("status").textContent = `ready in ${Math.round(performance.now() - started)} ms — ` +
      `tasks: ${data.tasks.join(", ")}`;
  } else if (data.type === "result") {
    const file = pending.get(data.id);
    pending.delete(data.id);
    models.set(data.name, { file, summary: data.summary, svg: data.svg,
                            predictions: data.predictions, ms: data.ms });
    $("status").textContent = `${data.name}: converted in ${data.ms.convert.toFixed(0)} ms, ` +
      `predicted in ${data.ms.predict.toFixed(0)} ms`;
    show(data.name);
    $("current").dataset.results = String(++results);
    renderRanking();
  } else if (data.type === "error") {
    pending.delete(data.id);
    showError(data.message);
    $("current").dataset.results = String(++results);
    $("status").textContent = "error";
    if (data.fatal) {
      worker.terminate();
      for (const [, file] of pending) showError(`${data.message}\n${file.name}: not converted (restarting)`);
      pending.clear();
      worker = startWorker();
    }
  } else if (data.type === "predictor") {
    $("predictor-name").textContent = data.name;
    $("status").textContent = `predictor: ${data.name} — tasks: ${data.tasks.join(", ")}`;
    // predictions of the models so far came from the previous predictor: redo them
    const files = [...models.values()].map((m) => m.file).filter(Boolean);
    models.clear();
    renderRanking();
    $("current").hidden = true;
    addFiles(files);
  } else if (data.type === "unavailable") {
    showError(data.message);
    $("status").textContent = "unavailable";
  } else if (data.type === "predictor-error") {
    customPredictor = null;
    showError(data.message);
  }
}

function show(name) {
  const m = models.get(name);
  if (!m) return;
  shown = name;
  const s = m.summary;
  const current = $("current");
  current.hidden = false;
  current.dataset.file = name;
  current.dataset.macs = String(s.macs);
  current.dataset.params = String(s.params);
  current.dataset.nodes = String(s.nodes);
  $("current-name").textContent = name;
  $("card-nodes").textContent = `${s.nodes}`;
  $("card-macs").textContent = fmt(s.macs);
  $("card-params").textContent = fmt(s.params);
  $("card-unknown").textContent = `${s.unknown_shapes}`;
  const body = $("predictions").tBodies[0];
  body.replaceChildren(...m.predictions.map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.task = p.task;
    tr.dataset.value = String(p.prediction);
    tr.innerHTML = `<td></td><td class="num">${score(p.prediction)}</td>`;
    tr.firstChild.textContent = p.task;
    return tr;
  }));
  $("timing").textContent = `convert ${m.ms.convert.toFixed(1)} ms · predict ${m.ms.predict.toFixed(1)} ms`;
  $("timing").dataset.convertMs = String(m.ms.convert);
  $("timing").dataset.predictMs = String(m.ms.predict);
  $("warnings").textContent = s.warnings.length ? `warnings: ${s.warnings.join(" · ")}` : "";
  drawHistogram(s.ops);
  drawGraph(m.svg);
  for (const tr of $("ranking").tBodies[0].rows) tr.classList.toggle("shown", tr.dataset.file === name);
}

function drawHistogram(ops) {
  const rows = Object.entries(ops).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...rows.map((r) => r[1]));
  const h = 18, label = 130, width = 420;
  const ns = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = el("svg", { viewBox: `0 0 ${width} ${rows.length * h + 6}`, role: "img",
                          "aria-label": "op histogram" });
  rows.forEach(([op, n], i) => {
    const w = ((width - label - 50) * n) / max;
    svg.append(
      el("text", { x: label - 6, y: i * h + 13, "text-anchor": "end", "font-size": 12 }, op),
      el("rect", { x: label, y: i * h + 3, width: w.toFixed(1), height: h - 6, fill: "#2b6cb0" }),
      el("text", { x: label + w + 4, y: i * h + 13, "font-size": 12 }, String(n)));
  });
  $("histogram").replaceChildren(svg);
}

// Zoom and pan of the graph drawing (CSS transform of its container).
const view = { scale: 1, x: 0, y: 0 };
function applyView() {
  $("graph-inner").style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
}
function fit() {
  const svg = $("graph-inner").querySelector("svg");
  if (!svg) return;
  const box = $("graph").getBoundingClientRect();
  const w = svg.width.baseVal.value || svg.getBoundingClientRect().width || 1;
  view.scale = Math.min(1, box.width / w);
  view.x = (box.width - w * view.scale) / 2;
  view.y = 0;
  applyView();
}
function drawGraph(svg) {
  $("graph-inner").innerHTML = svg;
  fit();
}
function zoom(factor, cx, cy) {
  view.x = cx - (cx - view.x) * factor;
  view.y = cy - (cy - view.y) * factor;
  view.scale *= factor;
  applyView();
}
$("graph").addEventListener("wheel", (e) => {
  e.preventDefault();
  const r = $("graph").getBoundingClientRect();
  zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
}, { passive: false });
let drag = null;
$("graph").addEventListener("pointerdown", (e) => { drag = { x: e.clientX - view.x, y: e.clientY - view.y }; });
window.addEventListener("pointerup", () => { drag = null; });
window.addEventListener("pointermove", (e) => {
  if (!drag) return;
  view.x = e.clientX - drag.x;
  view.y = e.clientY - drag.y;
  applyView();
});
const center = () => { const r = $("graph").getBoundingClientRect(); return [r.width / 2, r.height / 2]; };
$("zoom-in").onclick = () => zoom(1.3, ...center());
$("zoom-out").onclick = () => zoom(1 / 1.3, ...center());
$("zoom-reset").onclick = fit;

function renderRanking() {
  const section = $("comparison");
  section.hidden = models.size === 0;
  const select = $("rank-task");
  const tasks = [...new Set([...models.values()].flatMap((m) => m.predictions.map((p) => p.task)))];
  const chosen = select.value || tasks[0];
  select.replaceChildren(...tasks.map((t) => new Option(t, t, false, t === chosen)));
  const value = (m) => {
    const v = (m.predictions.find((p) => p.task === chosen) || {}).prediction;
    return typeof v === "number" && Number.isFinite(v) ? v : -Infinity;
  };
  const ranked = [...models.entries()].sort((a, b) => value(b[1]) - value(a[1]));
  $("ranking").tBodies[0].replaceChildren(...ranked.map(([name, m], i) => {
    const tr = document.createElement("tr");
    tr.dataset.file = name;
    tr.dataset.value = String(value(m));
    tr.innerHTML = `<td>${i + 1}</td><td></td><td class="num">${score(value(m))}</td>` +
      `<td class="num">${fmt(m.summary.macs)}</td><td class="num">${fmt(m.summary.params)}</td>`;
    tr.children[1].textContent = name;
    tr.classList.toggle("shown", name === shown);
    tr.onclick = () => show(name);
    return tr;
  }));
}
$("rank-task").onchange = renderRanking;

$("file").onchange = (e) => { addFiles([...e.target.files]); e.target.value = ""; };
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  addFiles([...e.dataTransfer.files]);
});
$("predictor-file").onchange = async (e) => {
  const f = e.target.files[0];
  e.target.value = "";
  if (!f) return;
  showError("");
  customPredictor = { name: f.name, buffer: await f.arrayBuffer() };
  const buffer = customPredictor.buffer.slice(0);
  worker.postMessage({ type: "predictor", name: f.name, buffer }, [buffer]);
};
$("predictor-reset").onclick = () => {
  customPredictor = null;
  worker.postMessage({ type: "predictor", name: "bundled default", buffer: null });
};

worker = startWorker();
