// The torchworks page: one widget per input kind, answers drawn from the prediction records.
// Everything a server or user supplies is inserted as text, never as HTML.
"use strict";

const $ = (selector) => document.querySelector(selector);
let models = [];
let current = null;
let recorded = null; // a WAV Blob from the microphone

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function start() {
  const response = await fetch("/v1/models");
  if (response.status === 401) { window.location = "/ui/login"; return; }
  models = (await response.json()).models;
  const nav = $("#models");
  for (const model of models) {
    const button = el("button", { type: "button", "data-model": model.name, text: model.name });
    button.addEventListener("click", () => choose(model.name));
    nav.append(button);
  }
  if (models.length) choose(models[0].name);
}

function choose(name) {
  current = models.find((m) => m.name === name);
  recorded = null;
  for (const button of document.querySelectorAll("nav button")) {
    button.setAttribute("aria-pressed", String(button.dataset.model === name));
  }
  const metric = current.metrics[current.primary_metric];
  $("#about").replaceChildren(
    el("h2", { text: current.name }),
    el("p", { class: "facts", text: `${current.task} · ${current.primary_metric} ${metric === undefined ? "n/a" : Number(metric).toFixed(4)} · backend ${current.backend}` +
      (current.labels ? ` · classes: ${current.labels.slice(0, 12).join(", ")}${current.labels.length > 12 ? ", …" : ""}` : "") }),
  );
  $("#widget").replaceChildren(...widget(current));
  const methods = current.explain_methods || [];
  $("#explain").hidden = !methods.length;
  $("#method").hidden = !methods.length;
  $("#method").replaceChildren(...methods.map((m) => el("option", { value: m, text: m.replaceAll("_", " ") })));
  $("#input").hidden = false;
  $("#result").replaceChildren();
}

function widget(model) {
  const parts = [];
  const accept = model.file_types.join(",");
  if (model.input_kind === "text") {
    parts.push(el("label", { for: "text", text: "One text per line" }),
      el("textarea", { id: "text", name: "text", placeholder: model.example || "type a text" }));
  } else if (model.input_kind === "table") {
    parts.push(el("label", { for: "table", text: "Paste recent rows as CSV (with the header), or choose a file" }),
      el("textarea", { id: "table", name: "table", placeholder: "date,value\n2024-01-01,12.5\n…" }),
      el("input", { type: "file", id: "file", name: "file", accept }));
  } else {
    parts.push(el("label", { for: "file", text: model.input_kind === "image" ? "Image" : "Audio file" }),
      el("input", { type: "file", id: "file", name: "file", accept, multiple: "" }));
    if (model.input_kind === "audio") {
      const button = el("button", { type: "button", class: "record", id: "record", text: "● Record" });
      button.addEventListener("click", () => toggleRecording(button));
      parts.push(" or ", button);
    }
    parts.push(el("div", { class: "preview", id: "preview" }));
  }
  for (const option of model.options) {
    parts.push(el("div", { class: "row" }, el("label", { for: `option-${option}`, text: option }),
      el("input", { id: `option-${option}`, "data-option": option, placeholder: "model default" })));
  }
  setTimeout(() => {
    const input = $("#file");
    if (input && model.input_kind === "image") input.addEventListener("change", showPreview);
  });
  return parts;
}

function showPreview() {
  const preview = $("#preview");
  preview.replaceChildren(...[...$("#file").files].map((file) => el("img", { src: URL.createObjectURL(file), alt: file.name })));
}

function options() {
  const chosen = {};
  for (const input of document.querySelectorAll("[data-option]")) {
    if (input.value.trim()) chosen[input.dataset.option] = input.value.trim();
  }
  return chosen;
}

function request(model, explain = false) {
  const chosen = explain ? {} : options();
  const method = $("#method").value;
  if (model.input_kind === "text") {
    const texts = $("#text").value.split("\n").map((t) => t.trim()).filter(Boolean);
    const body = explain ? { inputs: texts, method } : { inputs: texts, options: chosen };
    return { headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  }
  const form = new FormData();
  const files = $("#file") ? [...$("#file").files] : [];
  for (const file of files) form.append("file", file, file.name);
  if (!files.length && recorded) form.append("file", recorded, "recording.wav");
  if (!files.length && model.input_kind === "table" && $("#table").value.trim()) {
    form.append("file", new Blob([$("#table").value], { type: "text/csv" }), "pasted.csv");
  }
  if (Object.keys(chosen).length) form.append("options", JSON.stringify(chosen));
  if (explain) form.append("method", method);
  return { body: form };
}

async function predict(event) {
  event.preventDefault();
  await ask("predict", (answer) => showPredictions(answer.predictions));
}

async function explain() {
  await ask("explain", (answer) => showExplanations(answer.explanations));
}

async function ask(route, show) {
  const model = current;
  $("#busy").hidden = false;
  $("#predict").disabled = $("#explain").disabled = true;
  try {
    const response = await fetch(`/v1/models/${encodeURIComponent(model.name)}/${route}`,
      { method: "POST", ...request(model, route === "explain") });
    const answer = await response.json();
    if (!response.ok) showError(answer);
    else show(answer);
  } catch (problem) {
    showError({ message: `the server could not be reached (${problem})`, hint: "is it still running?" });
  } finally {
    $("#busy").hidden = true;
    $("#predict").disabled = $("#explain").disabled = false;
  }
}

function showError(answer) {
  $("#result").replaceChildren(el("p", { class: "error", id: "error", text: answer.message || "the request failed" }),
    el("p", { class: "hint", text: answer.hint || "" }));
}

function showPredictions(records) {
  const result = $("#result");
  result.replaceChildren();
  if (records.length && "forecast" in records[0]) { result.append(forecastView(records)); return; }
  for (const record of records) {
    const block = el("div", { class: "prediction" }, el("div", { class: "hint", text: record.input }));
    if ("transcript" in record) block.append(el("div", { class: "answer", text: record.transcript || "(silence)" }));
    if ("label" in record || "labels" in record) {
      block.append(el("div", { class: "answer", text: (record.label ?? (record.labels || []).join(", ")) || "(no label)" }));
      for (const top of record.top_k || []) {
        const fill = el("div", { class: "fill" });
        fill.style.width = `${(100 * top.probability).toFixed(1)}%`;
        block.append(el("div", { class: "bar" }, el("span", { text: top.label }), el("div", { class: "track" }, fill),
          el("span", { text: `${(100 * top.probability).toFixed(1)}%` })));
      }
    }
    result.append(block);
  }
}

// Why the model answered so: the server's figures as images, and for texts each word tinted by its
// score (green speaks for the explained class, red against it), built from the JSON, never from HTML.
function showExplanations(records) {
  const result = $("#result");
  result.replaceChildren();
  for (const record of records) {
    const predicted = record.prediction?.label ?? record.prediction?.transcript ?? "";
    const block = el("div", { class: "explanation" }, el("div", { class: "hint", text: record.input }),
      el("div", { class: "answer", text: `${record.method.replaceAll("_", " ")}: why ${record.target ?? predicted}` }));
    const words = record.attributions?.words;
    if (words) block.append(tokenView(words));
    for (const [name, png] of Object.entries(record.figures || {})) {
      block.append(el("figure", {}, el("img", { src: `data:image/png;base64,${png}`, alt: `${name} for ${record.input}` }),
        el("figcaption", { text: name.replaceAll("_", " ") })));
    }
    result.append(block);
  }
}

function tokenView(words) {
  const scale = Math.max(1e-12, ...words.map((w) => Math.abs(w.score)));
  const line = el("p", { class: "tokens", id: "tokens" });
  for (const word of words) {
    const strength = Math.abs(word.score) / scale;
    const span = el("span", { class: "tok", title: word.score.toPrecision(3), text: word.word });
    span.style.background = word.score >= 0 ? `rgba(26, 152, 80, ${strength.toFixed(2)})` : `rgba(215, 48, 39, ${strength.toFixed(2)})`;
    line.append(span, " ");
  }
  return line;
}

function forecastView(records) {
  const columns = Object.keys(records[0]).filter((c) => c !== "input");
  const table = el("table", {}, el("tr", {}, ...columns.map((c) => el("th", { text: c }))));
  for (const record of records) table.append(el("tr", {}, ...columns.map((c) => el("td", { text: String(record[c]) }))));
  const values = records.map((r) => r.forecast);
  const bands = columns.filter((c) => /^q[0-9.]+$/.test(c)).sort();
  const low = bands.length ? records.map((r) => r[bands[0]]) : values;
  const high = bands.length ? records.map((r) => r[bands[bands.length - 1]]) : values;
  return el("div", {}, el("div", { class: "answer", id: "forecast-title", text: `Forecast, ${records.length} steps` }), chart(values, low, high), table);
}

function chart(values, low, high) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", "0 0 600 180");
  const all = [...low, ...high];
  const min = Math.min(...all), max = Math.max(...all), span = max - min || 1;
  const x = (i) => 20 + (560 * i) / Math.max(1, values.length - 1);
  const y = (v) => 170 - (160 * (v - min)) / span;
  const line = (series) => series.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("");
  const band = document.createElementNS(ns, "path");
  band.setAttribute("class", "band");
  band.setAttribute("d", line(high) + [...low].reverse().map((v, i) => `L${x(low.length - 1 - i).toFixed(1)},${y(v).toFixed(1)}`).join("") + "Z");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("class", "forecast");
  path.setAttribute("d", line(values));
  svg.append(band, path);
  return svg;
}

// ------------------------------------------------------------ microphone -> 16-bit WAV
let recording = null;

async function toggleRecording(button) {
  if (recording) {
    recording.stop();
    return;
  }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const context = new AudioContext();
  const source = context.createMediaStreamSource(stream);
  const processor = context.createScriptProcessor(4096, 1, 1);
  const chunks = [];
  processor.onaudioprocess = (event) => chunks.push(new Float32Array(event.inputBuffer.getChannelData(0)));
  source.connect(processor);
  processor.connect(context.destination);
  button.classList.add("on");
  button.textContent = "■ Stop";
  recording = {
    stop() {
      processor.disconnect();
      source.disconnect();
      stream.getTracks().forEach((track) => track.stop());
      recorded = wav(chunks, context.sampleRate);
      context.close();
      recording = null;
      button.classList.remove("on");
      button.textContent = "● Record again";
      $("#preview").replaceChildren(el("audio", { controls: "", src: URL.createObjectURL(recorded) }));
    },
  };
}

function wav(chunks, rate) {
  const samples = chunks.reduce((n, c) => n + c.length, 0);
  const view = new DataView(new ArrayBuffer(44 + 2 * samples));
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * samples, true); text(8, "WAVEfmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, 2 * samples, true);
  let offset = 44;
  for (const chunk of chunks) {
    for (const sample of chunk) {
      view.setInt16(offset, Math.max(-1, Math.min(1, sample)) * 0x7fff, true);
      offset += 2;
    }
  }
  return new Blob([view], { type: "audio/wav" });
}

document.addEventListener("DOMContentLoaded", () => {
  $("#predict-form").addEventListener("submit", predict);
  $("#explain").addEventListener("click", explain);
  start();
});
