// The page's worker: runs the WASM module off the main thread, so that converting a large
// model (ResNet-50 with its weights, ~100 MB) never freezes the tab.
// Messages in:  {type: "convert", id, name, file} · {type: "predictor", name, buffer | null}
// Messages out: {type: "ready", ms} · {type: "result", id, name, summary, svg, predictions, ms}
//               {type: "error", id, name, message, fatal} · {type: "predictor", name, tasks} ·
//               {type: "predictor-error", message} · {type: "unavailable", message} (the module
//               could not start: nothing else follows)
import init, { Model, Predictor } from "./pkg/aiop_wasm.js";

let predictor = null;

async function start() {
  const t0 = performance.now();
  try {
    await init();
    predictor = Predictor.bundled();
  } catch (e) {
    // e.g. a browser without WebAssembly SIMD (the module is built with simd128)
    postMessage({ type: "unavailable", message: `aiop cannot start in this browser: ${message(e)}` });
    return false;
  }
  postMessage({ type: "ready", ms: performance.now() - t0, tasks: tasksOf(predictor) });
  return true;
}

function tasksOf(p) {
  return JSON.parse(p.info()).tasks.map((t) => t.task);
}

function message(e) {
  return e instanceof Error ? e.message : String(e);
}

const ready = start();

onmessage = async ({ data }) => {
  if (!(await ready)) return;
  if (data.type === "convert") {
    let model = null;
    try {
      const bytes = new Uint8Array(await data.file.arrayBuffer());
      const t0 = performance.now();
      model = new Model(bytes, data.name);
      const t1 = performance.now();
      const predictions = JSON.parse(model.predict(predictor));
      const t2 = performance.now();
      const summary = JSON.parse(model.summary());
      const svg = model.svg();
      postMessage({ type: "result", id: data.id, name: data.name, summary, svg, predictions,
                    ms: { convert: t1 - t0, predict: t2 - t1 } });
    } catch (e) {
      // a trap (a Rust panic aborts in WASM) leaves the module unusable: the page starts a
      // new worker
      const fatal = e instanceof WebAssembly.RuntimeError;
      postMessage({ type: "error", id: data.id, name: data.name, message: message(e), fatal });
      model = null;
    } finally {
      if (model) model.free();
    }
  } else if (data.type === "predictor") {
    try {
      const next = data.buffer
        ? Predictor.fromBytes(new Uint8Array(data.buffer), data.name)
        : Predictor.bundled();
      if (predictor) predictor.free();
      predictor = next;
      postMessage({ type: "predictor", name: data.buffer ? data.name : "bundled default",
                    tasks: tasksOf(predictor) });
    } catch (e) {
      postMessage({ type: "predictor-error", message: message(e) });
    }
  }
};
