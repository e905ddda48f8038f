// The playground page: pick an image and a request, stream the guarded (and, where the
// operator allows it, the unguarded) answer, show the caption, configuration and chart.
import { ApiError, getJSON, streamChat } from "./api.js";
import { drawChart, fillTable, resetChart } from "./chart.js";

const $ = (id) => document.getElementById(id);
const SOURCES = {
  explicit: "set by the operator",
  recommended: "the direction's tuned recommendation",
  default: "built-in default",
};

const state = {
  config: null,
  image: null, // data: URL of the chosen image
  example: null, // the picked built-in example, if any
  autoQuery: null, // the query the page typed in for the last example
  running: null, // AbortController of the request in flight
};

function key() {
  return $("api-key").value.trim();
}

function show(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

// --- server description -------------------------------------------------------------
async function connect() {
  show($("connect-error"), "");
  $("server-line").textContent = "Connecting to the server…";
  try {
    state.config = await getJSON("/playground/config", key());
  } catch (exc) {
    state.config = null;
    const err = exc instanceof ApiError ? exc : new ApiError(0, String(exc));
    $("server-line").textContent = "Not connected.";
    if (err.status === 401) {
      show($("connect-error"), `${err.describe()} — type the server's API key above and press Connect.`);
      $("api-key").focus();
    } else {
      show($("connect-error"), err.describe());
    }
    return false;
  }
  renderConfig(state.config);
  return true;
}

function renderConfig(cfg) {
  const guard = cfg.guard ? "guard on" : "guard OFF on this server (--no-guard)";
  $("server-line").textContent = `Model ${cfg.model} · ${cfg.num_layers} decoder layers · ${guard}`;
  const s = cfg.settings;
  const dd = $("settings");
  dd.replaceChildren();
  const list = document.createElement("ul");
  list.className = "settings";
  const layers = s.layers.length > 1 && s.layers[s.layers.length - 1] - s.layers[0] === s.layers.length - 1
    ? `${s.layers[0]}–${s.layers[s.layers.length - 1]}` : s.layers.join(", ");
  for (const [name, value] of [["mode", s.mode], ["layers", layers], ["alpha", s.alpha], ["positions", s.positions]]) {
    const li = document.createElement("li");
    li.dataset.setting = name;
    const b = document.createElement("strong");
    b.textContent = `${name} ${value}`;
    li.append(b, ` — ${SOURCES[s.sources[name]] || s.sources[name]}`);
    list.appendChild(li);
  }
  dd.appendChild(list);
  if (s.tuned_with) {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = `The recommendation was tuned with ${s.tuned_with} captions.`;
    dd.appendChild(p);
  }
  const maxTokens = $("max-tokens");
  maxTokens.max = String(cfg.limits.max_tokens);
  if (Number(maxTokens.value) > cfg.limits.max_tokens) maxTokens.value = String(cfg.limits.max_tokens);
  const compare = $("compare");
  compare.disabled = !cfg.compare;
  compare.checked = cfg.compare && compare.checked;
  $("compare-note").textContent = cfg.compare
    ? "The operator allows unguarded answers on this server (--playground-compare)."
    : "Unavailable: the operator did not start the server with --playground-compare.";
}

// --- image and request ---------------------------------------------------------------
function readAsDataURL(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function setImage(url, note, example) {
  state.image = url;
  state.example = example;
  const img = $("preview");
  img.src = url;
  img.alt = note;
  img.hidden = false;
  $("image-note").textContent = note;
  for (const b of $("examples").querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(example !== null && b.dataset.example === example.id));
  }
  $("use-query").hidden = example === null;
  const prompt = $("prompt");
  if (example && (!prompt.value.trim() || prompt.value === state.autoQuery)) {
    prompt.value = example.query;
    state.autoQuery = example.query;
  }
}

async function useFile(file) {
  if (!file) return;
  show($("form-error"), "");
  try {
    const kb = Math.round(file.size / 1024);
    setImage(await readAsDataURL(file), `Your image: ${file.name} (${kb} KB)`, null);
  } catch (exc) {
    show($("form-error"), `Could not read ${file.name}: ${exc}`);
  }
}

async function loadExamples() {
  const box = $("examples");
  let list;
  try {
    list = (await getJSON("/playground/examples", "")).examples;
  } catch (exc) {
    box.textContent = `Built-in images unavailable: ${exc.describe ? exc.describe() : exc}`;
    return;
  }
  for (const ex of list) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `example ${ex.kind}`;
    b.dataset.example = ex.id;
    b.setAttribute("aria-pressed", "false");
    const label = `${ex.kind} · ${ex.label}: “${ex.key_phrase}”`;
    b.setAttribute("aria-label", label);
    b.title = `${label}\nThe request it stands for: ${ex.request}`;
    const img = document.createElement("img");
    img.src = ex.image;
    img.alt = "";
    img.loading = "lazy";
    const tag = document.createElement("span");
    tag.textContent = `${ex.kind} ${ex.label}`;
    b.append(img, tag);
    b.addEventListener("click", () => pickExample(ex));
    box.appendChild(b);
  }
}

async function pickExample(ex) {
  show($("form-error"), "");
  try {
    const response = await fetch(ex.image);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    setImage(await readAsDataURL(await response.blob()), `Built-in ${ex.kind} ${ex.label} image: “${ex.key_phrase}” (stands for: ${ex.request})`, ex);
  } catch (exc) {
    show($("form-error"), `Could not load the built-in image: ${exc.message || exc}`);
  }
}

// --- answers -------------------------------------------------------------------------
class Pane {
  constructor(id) {
    this.root = $(id);
    this.status = this.root.querySelector(".status");
    this.text = this.root.querySelector(".text");
    this.error = this.root.querySelector(".error");
    this.timer = null;
  }

  set(state, status) {
    this.root.dataset.state = state;
    this.status.textContent = status;
    this.text.setAttribute("aria-busy", String(state === "waiting" || state === "streaming"));
  }

  start() {
    this.text.textContent = "";
    show(this.error, "");
    const t0 = performance.now();
    this.t0 = t0;
    this.tokens = 0;
    const tick = () => {
      const s = ((performance.now() - t0) / 1000).toFixed(0);
      const what = this.root.dataset.state === "streaming" ? "streaming" : "waiting for the server (caption, calibration, queue)";
      this.status.textContent = `${what} · ${s} s`;
    };
    this.set("waiting", "");
    tick();
    this.timer = setInterval(tick, 1000);
  }

  delta(piece) {
    if (this.root.dataset.state !== "streaming") this.set("streaming", this.status.textContent);
    this.text.textContent += piece;
  }

  stopTimer() {
    clearInterval(this.timer);
    this.timer = null;
  }

  finish(out) {
    this.stopTimer();
    const s = ((performance.now() - this.t0) / 1000).toFixed(1);
    const tokens = out.usage ? `${out.usage.completion_tokens} tokens, ` : "";
    if (!out.text) this.text.textContent = "(empty answer)";
    this.set("done", `done in ${s} s (${tokens}finish: ${out.finish})`);
  }

  fail(err) {
    this.stopTimer();
    this.set("error", err.code === "aborted" ? "stopped" : "failed");
    show(this.error, err.code === "aborted" ? "Stopped before the answer was complete." : err.describe());
  }

  skip(reason) {
    this.stopTimer();
    this.text.textContent = "";
    show(this.error, "");
    this.set("off", reason);
  }
}

const guarded = new Pane("guarded");
const unguarded = new Pane("unguarded");

function messages() {
  return [{
    role: "user",
    content: [
      { type: "text", text: $("prompt").value },
      { type: "image_url", image_url: { url: state.image } },
    ],
  }];
}

function showGuard(block) {
  const svg = $("chart");
  const table = $("layer-table");
  if (!block || !block.calibrated) {
    $("caption").textContent = "—";
    const why = block && block.reason ? block.reason : "no ShiftDC data in the answer";
    resetChart(svg, table, `Not calibrated: ${why}.`);
    $("caption").textContent = `Not calibrated: ${why}.`;
    return;
  }
  $("caption").textContent = block.caption || "(empty caption)";
  if (block.per_layer) {
    drawChart(svg, block.per_layer);
    fillTable(table, block.per_layer);
  }
}

async function ask(event) {
  event.preventDefault();
  show($("form-error"), "");
  const problems = [];
  if (!state.image) problems.push("choose or drop an image, or pick a built-in one");
  if (!$("prompt").value.trim()) problems.push("type a request");
  const maxTokens = Number($("max-tokens").value);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) problems.push("max answer tokens must be a whole number of at least 1");
  if (problems.length) {
    show($("form-error"), `Before asking: ${problems.join("; ")}.`);
    return;
  }
  if (!state.config && !(await connect())) {
    show($("form-error"), "Not connected to the server: see the message under the API key.");
    return;
  }
  if (window.matchMedia("(max-width: 860px)").matches) $("answers-title").scrollIntoView();
  const controller = new AbortController();
  state.running = controller;
  $("submit").disabled = true;
  $("stop").disabled = false;
  $("caption").textContent = "…";
  resetChart($("chart"), $("layer-table"), "Waiting for the guarded answer.");
  const base = { model: state.config.model, messages: messages(), max_tokens: maxTokens, temperature: 0 };
  const k = key();
  guarded.start();
  const jobs = [
    streamChat({ ...base, shiftdc: { return_caption: true, return_layers: true } }, k, controller.signal, (d) => guarded.delta(d))
      .then((out) => {
        guarded.finish(out);
        showGuard(out.shiftdc);
      })
      .catch((err) => {
        guarded.fail(err);
        $("caption").textContent = "—";
        resetChart($("chart"), $("layer-table"), "No data: the guarded request failed.");
      }),
  ];
  const cfg = state.config;
  if (!cfg.compare) {
    unguarded.skip("Off: the operator did not start the server with --playground-compare.");
  } else if (!$("compare").checked) {
    unguarded.skip("Not asked (the box above is unticked).");
  } else {
    unguarded.start();
    jobs.push(
      streamChat({ ...base, shiftdc: { enabled: false } }, k, controller.signal, (d) => unguarded.delta(d))
        .then((out) => unguarded.finish(out))
        .catch((err) => unguarded.fail(err)),
    );
  }
  await Promise.allSettled(jobs);
  state.running = null;
  $("submit").disabled = false;
  $("stop").disabled = true;
}

// --- wiring --------------------------------------------------------------------------
function wire() {
  $("connect").addEventListener("click", connect);
  $("api-key").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      connect();
    }
  });
  $("file").addEventListener("change", (e) => useFile(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    useFile(e.dataTransfer.files[0]);
  });
  $("use-query").addEventListener("click", () => {
    if (state.example) {
      $("prompt").value = state.example.query;
      state.autoQuery = state.example.query;
    }
  });
  $("ask").addEventListener("submit", ask);
  $("stop").addEventListener("click", () => state.running && state.running.abort());
}

wire();
loadExamples();
connect();
