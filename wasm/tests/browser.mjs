// Browser test of the aiop page (wasm/www): headless Chromium, driven by playwright-core, loads
// the page from a 127.0.0.1 server, feeds it model files and checks that the MACs, params and
// predictions it shows equal the native CLI's (`aiop predict --json`) for the same files, that
// a bad file shows the CLI's error message and leaves the page working, and that a model of
// ResNet-50 size with weights (≈100 MB) is handled in the worker. Writes a screenshot and the
// measurements (load to ready, convert+predict in the browser vs natively) to tests/output/.
//
//   AIOP_BIN=target/release/aiop node wasm/tests/browser.mjs MODEL.onnx...
//
// Environment: AIOP_BIN (the native CLI, required), CHROMIUM (default /usr/bin/chromium),
// AIOP_LARGE_MODEL (a ≈100 MB model; default: the first model padded with a 100 MB unused
// initializer).
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const www = resolve(here, "../www");
const out = join(here, "output");
mkdirSync(out, { recursive: true });
const aiop = resolve(process.env.AIOP_BIN || "");
const models = process.argv.slice(2).map((m) => resolve(m));
if (!process.env.AIOP_BIN || models.length === 0) {
  console.error("usage: AIOP_BIN=path/to/aiop node browser.mjs MODEL.onnx...");
  process.exit(2);
}

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
}

/** The native CLI's predictions for `files` (run in their folder, so names match the page's). */
function nativePredict(file) {
  const t0 = performance.now();
  const json = execFileSync(aiop, ["predict", "--json", basename(file)], { cwd: dirname(file) });
  return { rows: JSON.parse(json), ms: performance.now() - t0 };
}

/** The native CLI's error message for a bad file (without `error: `). */
function nativeError(file) {
  try {
    execFileSync(aiop, ["predict", basename(file)], { cwd: dirname(file), stdio: "pipe" });
    return null;
  } catch (e) {
    return e.stderr.toString().trim().replace(/^error: /, "");
  }
}

// A static server for www/, on 127.0.0.1 only.
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                ".wasm": "application/wasm", ".json": "application/json" };
const server = createServer((req, res) => {
  let file = resolve(www, "." + decodeURIComponent(new URL(req.url, "http://x").pathname));
  if (file !== www && !file.startsWith(www + "/")) { res.writeHead(403).end(); return; }
  try {
    if (statSync(file).isDirectory()) file = join(file, "index.html");
    const body = readFileSync(file);
    res.writeHead(200, { "content-type": types[extname(file)] || "application/octet-stream" }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const measurements = {};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const offsite = [];
  page.on("request", (r) => { if (!r.url().startsWith(url)) offsite.push(r.url()); });
  page.on("pageerror", (e) => check(false, `page error: ${e.message}`));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 180_000 });
  measurements.ready_ms = Number(await page.getAttribute("body", "data-ready-ms"));
  check(true, `page ready in ${measurements.ready_ms} ms`);

  /** Drops `file` on the page and returns what it shows once it shows it. */
  async function drop(file, timeout = 120_000) {
    const before = Number((await page.getAttribute("#current", "data-results")) || 0);
    await page.setInputFiles("#file", file);
    await page.waitForFunction((n) => Number(document.getElementById("current").dataset.results || 0) > n,
                               before, { timeout });
    check(await page.isHidden("#error"), `${basename(file)}: shown without error`);
    check((await page.getAttribute("#current", "data-file")) === basename(file), `${basename(file)}: shown`);
    return page.evaluate(() => ({
      macs: Number(document.getElementById("current").dataset.macs),
      params: Number(document.getElementById("current").dataset.params),
      predictions: [...document.querySelectorAll("#predictions tbody tr")]
        .map((tr) => ({ task: tr.dataset.task, prediction: Number(tr.dataset.value) })),
      ms: {
        convert: Number(document.getElementById("timing").dataset.convertMs),
        predict: Number(document.getElementById("timing").dataset.predictMs),
      },
    }));
  }

  function compare(file, shown, native) {
    const name = basename(file);
    check(shown.macs === native[0].macs, `${name}: MACs ${shown.macs} (CLI ${native[0].macs})`);
    check(shown.params === native[0].params, `${name}: params ${shown.params} (CLI ${native[0].params})`);
    check(shown.predictions.length === native.length, `${name}: ${shown.predictions.length} tasks`);
    for (const row of native) {
      const p = shown.predictions.find((s) => s.task === row.task);
      const diff = p ? Math.abs(p.prediction - row.prediction) : Infinity;
      check(diff < 1e-3, `${name}: ${row.task} ${p?.prediction.toFixed(4)} (CLI ${row.prediction.toFixed(4)})`);
    }
  }

  for (const file of models) {
    compare(file, await drop(file), nativePredict(file).rows);
  }

  // a bad file: the CLI's message, and the page still works afterwards
  const garbage = join(out, "garbage.onnx");
  writeFileSync(garbage, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)));
  await page.setInputFiles("#file", garbage);
  await page.waitForSelector("#error:not([hidden])", { timeout: 60_000 });
  const shownError = (await page.textContent("#error")).trim();
  const cliError = nativeError(garbage);
  check(cliError !== null && shownError === cliError, `bad file: "${shownError}" (CLI "${cliError}")`);
  compare(models[0], await drop(models[0]), nativePredict(models[0]).rows);

  // ranking of everything dropped so far
  const ranked = await page.$$eval("#ranking tbody tr", (rows) => rows.map((r) => Number(r.dataset.value)));
  check(ranked.length === models.length && ranked.every((v, i) => i === 0 || ranked[i - 1] >= v),
        `comparison list: ${ranked.length} models, ranked`);
  await page.screenshot({ path: join(out, "page.png"), fullPage: true });

  // a model of ResNet-50 size with its weights, in the worker: the page keeps responding
  let large = process.env.AIOP_LARGE_MODEL ? resolve(process.env.AIOP_LARGE_MODEL) : null;
  if (!large) {
    // a ModelProto may repeat its `graph` field (7): the copies merge, so appending one more
    // graph with a single unused 100 MB initializer gives a 100 MB model with the same CG
    // (uint8, so that a weight-stripped model still reads as one)
    const raw = Buffer.alloc(100 * 1024 * 1024);
    const varint = (n) => { const b = []; while (n > 127) { b.push((n & 127) | 128); n = Math.floor(n / 128); } b.push(n); return Buffer.from(b); };
    const field = (tag, body) => Buffer.concat([varint(tag), varint(body.length), body]);
    const name = field((8 << 3) | 2, Buffer.from("unused_padding"));
    const dims = Buffer.concat([varint((1 << 3) | 0), varint(raw.length)]);
    const dtype = Buffer.concat([varint((2 << 3) | 0), varint(2)]);
    const tensor = Buffer.concat([dims, dtype, name, field((9 << 3) | 2, raw)]);
    const graph = field((5 << 3) | 2, tensor);
    large = join(out, "large-" + basename(models[0]));
    writeFileSync(large, Buffer.concat([readFileSync(models[0]), field((7 << 3) | 2, graph)]));
  }
  const native = nativePredict(large);
  const t0 = Date.now();
  const ticks = page.evaluate(() => new Promise((done) => {
    // counts main-thread timer ticks while the worker converts: a frozen tab would count none
    let n = 0; const id = setInterval(() => n++, 50);
    window.__stopTicks = () => { clearInterval(id); done(n); };
  }));
  const shown = await drop(large, 300_000);
  const elapsed = Date.now() - t0;
  await page.evaluate(() => window.__stopTicks());
  const n = await ticks;
  compare(large, shown, native.rows);
  check(n >= elapsed / 50 / 4, `large model (${(statSync(large).size / 1e6).toFixed(0)} MB): ` +
        `${n} main-thread ticks in ${elapsed} ms (not frozen)`);
  // again (warm: the module's memory has grown, the predictor is loaded), five times: the
  // medians are the warm figures of docs/benchmarks.md (one drop is too noisy on a busy machine)
  const again = [];
  for (let i = 0; i < 5; i++) again.push((await drop(large, 300_000)).ms);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  measurements.large_model = {
    file: basename(large), bytes: statSync(large).size,
    browser_drop_to_shown_ms: elapsed,
    browser_convert_ms: shown.ms.convert, browser_predict_first_ms: shown.ms.predict,
    browser_convert_again_ms: median(again.map((t) => t.convert)),
    browser_predict_again_ms: median(again.map((t) => t.predict)),
    browser_convert_predict_again_ms: median(again.map((t) => t.convert + t.predict)),
    browser_again_runs: again,
    native_command_ms: native.ms,
  };
  check(offsite.length === 0, `no request left 127.0.0.1 (${offsite.length})`);

  // a browser that cannot compile the module (stand-in: a corrupt .wasm, as a browser without
  // WebAssembly SIMD sees it) gets a message instead of a page left loading
  const context = await browser.newContext();
  await context.route("**/aiop_wasm_bg.wasm", (r) =>
    r.fulfill({ status: 200, contentType: "application/wasm", body: Buffer.from("not wasm") }));
  const broken = await context.newPage();
  await broken.goto(url);
  await broken.waitForFunction(() => !document.getElementById("error").hidden, null,
                               { timeout: 60_000 }).catch(() => {});
  const refusal = await broken.evaluate(() => document.getElementById("error").textContent);
  check(refusal.startsWith("aiop cannot start in this browser:"),
        `a module that cannot start says so (${JSON.stringify(refusal.slice(0, 90))})`);
  await context.close();
} finally {
  await browser.close();
  server.close();
}
writeFileSync(join(out, "measurements.json"), JSON.stringify(measurements, null, 1) + "\n");
console.log(JSON.stringify(measurements));
console.log(failures ? `${failures} check(s) failed` : "all checks passed");
process.exit(failures ? 1 : 0);
