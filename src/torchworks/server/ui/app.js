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

// What the paste box shows before anything is typed: the model's example row as CSV (a header and one typical
// row) where it gives one, a dated series otherwise.
function tableExample(example) {
  if (!example || typeof example !== "object") return "date,value\n2024-01-01,12.5\n…";
  const cell = (value) => {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const names = Object.keys(example);
  return `${names.map(cell).join(",")}\n${names.map((name) => cell(example[name])).join(",")}\n…`;
}

function widget(model) {
  const parts = [];
  const accept = model.file_types.join(",");
  if (model.input_kind === "text") {
    parts.push(el("label", { for: "text", text: "One text per line" }),
      el("textarea", { id: "text", name: "text", placeholder: model.example || "type a text" }));
  } else if (model.input_kind === "query") {
    parts.push(...queryWidget(model));
  } else if (model.input_kind === "table") {
    parts.push(el("label", { for: "table", text: "Paste rows as CSV (with the header), or choose a file" }),
      el("textarea", { id: "table", name: "table", placeholder: tableExample(model.example) }),
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
    const about = (model.option_details || {})[option] || {};
    const label = el("label", { for: `option-${option}`, text: option.replaceAll("_", " ") });
    const row = el("div", { class: "row option" }, label, optionInput(option, about, model));
    if (about.description) row.append(el("span", { class: "hint", text: about.description }));
    parts.push(row);
  }
  setTimeout(() => {
    const input = $("#file");
    if (input && model.input_kind === "image") input.addEventListener("change", showPreview);
  });
  return parts;
}

// A prediction option as the widget its setting needs: a choice from the config's allowed values,
// a number within its bounds, or free text. The model's own value is preselected (or the placeholder),
// and only a changed value is sent. A query form (input_kind "query") shows a yes/no setting as a
// checkbox and a number filled in with the model's own value.
function optionInput(option, about, model) {
  const attributes = { id: `option-${option}`, "data-option": option, "data-type": about.type || "string" };
  if (about.default !== undefined && about.default !== null && String(about.default) !== "") {
    attributes["data-default"] = String(about.default); // an empty list or text is no default to name
  }
  const form = model.input_kind === "query";
  if (form && about.type === "boolean") {
    const box = el("input", { ...attributes, type: "checkbox" });
    box.checked = attributes["data-default"] === "true";
    return box;
  }
  const choices = about.choices || (about.type === "boolean" ? [true, false] : null);
  if (choices) {
    const select = el("select", attributes, ...choices.map((choice) => el("option", {
      value: String(choice), text: String(choice) + (String(choice) === attributes["data-default"] ? " (model default)" : "") })));
    if ("data-default" in attributes) select.value = attributes["data-default"];
    return select;
  }
  const numeric = about.type === "integer" || about.type === "number";
  if (numeric) {
    attributes.type = "number";
    attributes.step = about.type === "integer" ? "1" : "any";
    if (about.minimum !== null && about.minimum !== undefined) attributes.min = String(about.minimum);
    if (about.maximum !== null && about.maximum !== undefined) attributes.max = String(about.maximum);
  }
  attributes.placeholder = "data-default" in attributes ? `model default: ${attributes["data-default"]}` : "model default";
  if (form && numeric && "data-default" in attributes) attributes.value = attributes["data-default"];
  return el("input", attributes);
}

function showPreview() {
  const preview = $("#preview");
  preview.replaceChildren(...[...$("#file").files].map((file) => el("img", { src: URL.createObjectURL(file), alt: file.name })));
}

function options() {
  const chosen = {};
  for (const input of document.querySelectorAll("[data-option]")) {
    const value = input.type === "checkbox" ? String(input.checked) : input.value.trim();
    if (!value || value === input.dataset.default) continue;
    const type = input.dataset.type;
    if (type === "integer" || type === "number") chosen[input.dataset.option] = Number(value);
    else if (type === "boolean") chosen[input.dataset.option] = value === "true";
    else chosen[input.dataset.option] = value;
  }
  return chosen;
}

function request(model, explain = false) {
  const chosen = explain ? {} : askedOptions(model, options());
  const method = $("#method").value;
  if (model.input_kind === "query") {
    const inputs = [queryOf().query];
    const body = explain ? { inputs, method } : { inputs, options: chosen };
    return { headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  }
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
  const model = current;
  let sent = null;
  if (model.input_kind === "table") sent = await sentTable(options());
  else if (model.draws === "boxes") sent = { files: $("#file") ? [...$("#file").files] : [], threshold: boxThreshold(model, options()) };
  else if (model.draws === "mask") sent = { files: $("#file") ? [...$("#file").files] : [] };
  else if (model.input_kind === "query") sent = queryOf();
  await ask("predict", (answer) => showPredictions(answer.predictions, model, sent));
}

// ------------------------------------------------------------ boxes
// A model whose records are boxes over the image sent (ServingSpec.draws == "boxes") is asked once
// with a low score threshold; the slider then hides the boxes below the chosen score without
// asking again. The threshold starts at the conf chosen in the form, else the model's own.
const BOX_FLOOR = 0.01;

function boxThreshold(model, chosen) {
  const own = ((model.option_details || {}).conf || {}).default;
  const start = chosen.conf ?? own ?? 0.25;
  return Number.isFinite(Number(start)) ? Number(start) : 0.25;
}

function askedOptions(model, chosen) {
  if (model.draws !== "boxes" || !model.options.includes("conf")) return chosen;
  return { ...chosen, conf: Math.min(BOX_FLOOR, boxThreshold(model, chosen)) };
}

// The table a forecast request carries, as text, for drawing its history (null for binary files).
async function sentTable(chosen) {
  const file = $("#file") && $("#file").files[0];
  if (file) {
    return /\.(csv|tsv|tab|txt|jsonl|ndjson)$/i.test(file.name) ? { text: await file.text(), name: file.name, options: chosen } : null;
  }
  return { text: $("#table").value, name: "pasted.csv", options: chosen };
}

async function explain() {
  await ask("explain", (answer) => showExplanations(answer.explanations));
}

async function ask(route, show) {
  const model = current;
  const problem = model.input_kind === "query" ? queryOf().problem : null;
  if (problem) { showError(problem); return; }
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
  $("#result").replaceChildren(...errorLines(answer, "error"));
}

function errorLines(answer, id = null) {
  return [el("p", { class: "error", ...(id ? { id } : {}), text: answer.message || "the request failed" }),
    el("p", { class: "hint", text: answer.hint || "" })];
}

function showPredictions(records, model, sent) {
  const result = $("#result");
  result.replaceChildren();
  if (records.length && "forecast" in records[0]) { result.append(forecastView(records, model, sent)); return; }
  if (model.draws === "boxes") { result.append(boxesView(records, model, sent)); placeTags(); return; }
  if (model.draws === "mask") { result.append(masksView(records, model, sent)); return; }
  if (model.draws === "list") { result.append(listView(records, model, sent)); return; }
  if (model.draws === "rows") { result.append(rowsView(records, model)); return; }
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

// A record per input row (draws "rows": a table model) as one table: the bar field drawn against the
// answer's largest value, rows whose flag field is true highlighted and counted above the table.
function rowsView(records, model) {
  const { bar, flag } = model.table || {};
  const hidden = new Set(["input"]);
  const fields = [...new Set(records.flatMap((record) => Object.keys(record)))].filter((f) => !hidden.has(f));
  const largest = Math.max(1e-12, ...records.map((record) => Math.abs(Number(record[bar]) || 0)));
  // probabilities fill against 1; scores, which span orders of magnitude, on a log scale against the largest
  const share = largest <= 1 ? (v) => Math.abs(v) : (v) => Math.log1p(Math.abs(v)) / Math.log1p(largest);
  const head = el("tr", {}, ...fields.map((f) => el("th", { text: f.replaceAll("_", " ") })));
  const rows = records.map((record) => {
    const cells = fields.map((f) => {
      const value = record[f];
      if (f === bar && typeof value === "number") {
        const fill = el("div", { class: "fill" });
        fill.style.width = `${Math.min(100, 100 * share(value)).toFixed(1)}%`;
        return el("td", { class: "cellbar" }, el("div", { class: "track" }, fill), el("span", { text: formatValue(value) }));
      }
      if (value && typeof value === "object") {
        return el("td", { text: Object.entries(value).map(([k, v]) => `${k} ${formatValue(v)}`).join(", ") });
      }
      return el("td", { text: typeof value === "number" ? formatValue(value) : String(value ?? "") });
    });
    return el("tr", flag && record[flag] === true ? { class: "flagged" } : {}, ...cells);
  });
  const view = el("div", { class: "prediction" });
  const flagged = flag ? records.filter((record) => record[flag] === true).length : null;
  const sources = [...new Set(records.map((record) => record.input))].join(", ");
  view.append(el("div", { class: "hint", text: `${sources}: ${records.length} rows` +
    (flagged === null ? "" : `, ${flagged} ${flag.replaceAll("_", " ")}`) }));
  view.append(el("div", { class: "rows-wrap" }, el("table", { class: "rows" }, el("thead", {}, head),
    el("tbody", {}, ...rows))));
  return view;
}

// Why the model answered so: the server's figures as images, and for texts each word tinted by its
// score (green speaks for the explained class, red against it), built from the JSON, never from HTML.
function showExplanations(records) {
  const result = $("#result");
  result.replaceChildren();
  for (const record of records) {
    const predicted = record.prediction?.label ?? record.prediction?.transcript ?? "";
    const what = record.prediction?.title ?? record.target ?? predicted; // a recommended item by its title
    const block = el("div", { class: "explanation" }, el("div", { class: "hint", text: record.input }),
      el("div", { class: "answer", text: `${record.method.replaceAll("_", " ")}: why ${what}` }));
    if (current.draws === "list" && record.summary) block.append(el("p", { class: "summary", text: record.summary }));
    const words = record.attributions?.words;
    if (words) block.append(tokenView(words));
    block.append(...figuresOf(record));
    result.append(block);
  }
}

function figuresOf(record) {
  return Object.entries(record.figures || {}).map(([name, png]) => el("figure", {},
    el("img", { src: `data:image/png;base64,${png}`, alt: `${name} for ${record.input}` }),
    el("figcaption", { text: name.replaceAll("_", " ") })));
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

// ------------------------------------------------------------ queries and lists
// A model asked with a query rather than a file (input_kind "query": a recommender) gets a form: for
// a user, for a new user from a few items, or for items like one item. Its `choices` offer the
// values to pick from (users with how many items each has, items by title); ids are what is sent.
// Its answer (draws "list") is a ranked list per query, and each row's "why?" asks explain about
// that row's item for the same query, and shows the answer under the row.
const QUERY_MODES = [["user", "a user"], ["items", "some items (a new user)"], ["similar", "items like one item"]];
let catalogue = { ids: new Map(), titles: new Map() }; // a title as offered -> its id; an id -> its title

function queryWidget(model) {
  const choices = model.choices || {};
  catalogue = { ids: new Map(), titles: new Map() };
  const titles = el("datalist", { id: "item-choices" });
  for (const [id, title] of choices.items || []) {
    const name = catalogue.ids.has(title) ? `${title} (#${id})` : title; // two items of one title stay apart
    catalogue.ids.set(name, String(id));
    catalogue.titles.set(String(id), title);
    titles.append(el("option", { value: name }));
  }
  const users = el("datalist", { id: "user-choices" },
    ...(choices.user || []).map(([id, count]) => el("option", { value: String(id), label: String(count) })));
  const modes = el("fieldset", { class: "modes", id: "modes" }, el("legend", { text: "Recommend for" }),
    ...QUERY_MODES.map(([mode, text], i) => {
      const radio = el("input", { type: "radio", name: "mode", id: `mode-${mode}`, value: mode });
      radio.checked = i === 0;
      radio.addEventListener("change", showMode);
      return el("label", { class: "mode", for: `mode-${mode}` }, radio, text);
    }));
  const example = model.example && model.example.user !== undefined ? String(model.example.user) : "";
  const user = el("input", { id: "user", name: "user", list: "user-choices", autocomplete: "off", value: example,
    placeholder: "a user id" });
  const search = el("input", { id: "item-search", list: "item-choices", autocomplete: "off",
    placeholder: "type a title, then pick it" });
  search.addEventListener("input", () => { if (catalogue.ids.has(search.value)) pickItem(search.value); });
  search.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault(); // Enter picks what was typed (a title or an id) rather than sending the form
    pickItem(search.value);
  });
  const similar = el("input", { id: "similar", name: "similar", list: "item-choices", autocomplete: "off",
    placeholder: "a title or an item id" });
  const count = (list, what) => (list && list.length ? `pick from the ${list.length} ${what}` : "");
  return [modes, users, titles,
    el("div", { class: "row query", "data-mode": "user" }, el("label", { for: "user", text: "User" }), user,
      el("span", { class: "hint", text: count(choices.user, "most active users") })),
    el("div", { class: "row query", "data-mode": "items", hidden: "" },
      el("label", { for: "item-search", text: "Items" }), search,
      el("span", { class: "hint", text: count(choices.items, "most popular items, by title") }),
      el("div", { class: "chips", id: "chips", "aria-label": "Items chosen" })),
    el("div", { class: "row query", "data-mode": "similar", hidden: "" }, el("label", { for: "similar", text: "Like" }),
      similar)];
}

function queryMode() {
  const checked = document.querySelector("input[name=mode]:checked");
  return checked ? checked.value : "user";
}

function showMode() {
  const mode = queryMode();
  for (const row of document.querySelectorAll("#widget [data-mode]")) row.hidden = row.dataset.mode !== mode;
}

// A picked item becomes a chip (its title, and a button that removes it); a text that is no offered
// title is taken as an item id, which the server checks.
function pickItem(text) {
  const name = text.trim();
  $("#item-search").value = "";
  if (!name) return;
  const id = catalogue.ids.get(name) ?? name;
  if ([...document.querySelectorAll("#chips .chip")].some((chip) => chip.dataset.item === id)) return;
  const title = catalogue.titles.get(id) ?? id;
  const remove = el("button", { type: "button", class: "remove", "aria-label": `remove ${title}`, text: "×" });
  const chip = el("span", { class: "chip", "data-item": id, title: `item ${id}` }, title, remove);
  remove.addEventListener("click", () => chip.remove());
  $("#chips").append(chip);
}

// The query the form asks ({user}, {items} or {similar}, ids only), or the problem that keeps it from asking.
function queryOf() {
  const mode = queryMode();
  if (mode === "user") {
    const user = $("#user").value.trim();
    return user ? { query: { user } }
      : { problem: { message: "no user chosen", hint: "type a user id, or pick one from the list" } };
  }
  if (mode === "items") {
    if ($("#item-search").value.trim()) pickItem($("#item-search").value);
    const items = [...document.querySelectorAll("#chips .chip")].map((chip) => chip.dataset.item);
    return items.length ? { query: { items } }
      : { problem: { message: "no items chosen", hint: "type a title and pick it from the list; pick a few" } };
  }
  const text = $("#similar").value.trim();
  return text ? { query: { similar: catalogue.ids.get(text) ?? text } }
    : { problem: { message: "no item chosen", hint: "type a title and pick it from the list, or type an item id" } };
}

function listView(records, model, sent) {
  const view = el("div", { class: "lists" });
  for (const record of records) {
    const head = el("div", { class: "list-head" }, el("span", { class: "hint", text: record.input }));
    if (record.known_user) head.append(el("span", { class: "badge", text: "known user" }));
    if (record.fallback) {
      head.append(el("span", { class: "badge fallback", text: record.fallback === "popularity"
        ? "fallback: most popular items" : `fallback: ${record.fallback}` }));
    }
    const block = el("div", { class: "prediction recommendations" }, head);
    if (record.error) block.append(el("p", { class: "error", text: record.error }));
    const notes = record.notes || [], entries = record.recommendations || [];
    if (notes.length) block.append(el("ul", { class: "notes" }, ...notes.map((note) => el("li", { text: note }))));
    const list = el("ol", { class: "recs" }, ...entries.map((entry) => listRow(entry, record, model, sent)));
    if (list.childElementCount) block.append(list);
    else if (!record.error) block.append(el("p", { class: "hint", text: "nothing to recommend under these settings" }));
    view.append(block);
  }
  return view;
}

function listRow(entry, record, model, sent) {
  const row = el("li", { class: "rec", "data-item": entry.item, "data-rank": String(entry.rank) },
    el("span", { class: "rank", text: String(entry.rank) }),
    el("span", { class: "what" }, el("span", { class: "title", text: entry.title }),
      ...(entry.genres || []).map((genre) => el("span", { class: "tag", text: genre }))),
    el("span", { class: "score", text: Number.isInteger(entry.score) ? String(entry.score) : entry.score.toFixed(3),
      title: record.fallback ? "popularity: interactions in the training data" : "the model's score" }),
    el("span", { class: "item-id", title: "item id", text: `#${entry.item}` }));
  if ((model.explain_methods || []).length && sent && sent.query) {
    const button = el("button", { type: "button", class: "why", "aria-expanded": "false", text: "why?",
      "aria-label": `why ${entry.title}?` });
    const answer = el("div", { class: "why-answer", "aria-live": "polite" });
    button.addEventListener("click", () => why(model, sent.query, entry, button, answer));
    row.append(button, answer);
  } else row.append(el("span"));
  return row;
}

// Explain one row: the same query with item= that row's item; the summary and the figure go under
// the row, and a second click folds them away. The server reads item= for a user or a few items
// but not beside similar=, so items like one item are explained as a new user who chose that one
// item: the same list, from the same history.
async function why(model, query, entry, button, answer) {
  if (button.getAttribute("aria-expanded") === "true") {
    answer.replaceChildren();
    button.setAttribute("aria-expanded", "false");
    return;
  }
  const asked = "similar" in query ? { items: [query.similar], item: entry.item } : { ...query, item: entry.item };
  const method = $("#method").value || model.explain_methods[0];
  button.disabled = true;
  button.setAttribute("aria-expanded", "true");
  answer.replaceChildren(el("span", { class: "hint", text: "working…" }));
  try {
    const response = await fetch(`/v1/models/${encodeURIComponent(model.name)}/explain`, { method: "POST",
      headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: [asked], method }) });
    const reply = await response.json();
    answer.replaceChildren(...(!response.ok ? errorLines(reply) : reply.explanations.flatMap((record) => [
      el("p", { class: "summary", text: record.summary || "" }), ...figuresOf(record)])));
  } catch (problem) {
    answer.replaceChildren(...errorLines({ message: `the server could not be reached (${problem})`,
      hint: "is it still running?" }));
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------ forecasts
// The served records hold the future steps (and a column per quantile); the recent history comes
// from the table this page sent, read here with the model's column names (any case).
const SHOWN_SERIES = 12;

function forecastView(records, model, sent) {
  const roles = model.table || {};
  const columns = Object.keys(records[0]).filter((c) => c !== "input");
  const table = el("table", {}, el("tr", {}, ...columns.map((c) => el("th", { text: c }))));
  const cellText = (v) => (typeof v === "number" && !Number.isInteger(v) ? formatValue(v) : String(v));
  for (const record of records) table.append(el("tr", {}, ...columns.map((c) => el("td", { text: cellText(record[c]) }))));
  const seriesKey = roles.series && roles.series in records[0] ? roles.series : null;
  const bySeries = new Map();
  for (const record of records) {
    const id = seriesKey ? String(record[seriesKey]) : "";
    if (!bySeries.has(id)) bySeries.set(id, []);
    bySeries.get(id).push(record);
  }
  const history = recentHistory(sent, roles, model);
  const horizon = bySeries.values().next().value.length;
  const title = `Forecast, ${horizon} step${horizon === 1 ? "" : "s"}` + (seriesKey ? ` for ${bySeries.size} series` : "");
  const view = el("div", {}, el("div", { class: "answer", id: "forecast-title", text: title }));
  if (history.problem) view.append(el("p", { class: "hint", id: "history-note", text: history.problem }));
  let shown = 0;
  for (const [id, steps] of bySeries) {
    if (shown++ === SHOWN_SERIES) {
      view.append(el("p", { class: "hint", text: `charts for the first ${SHOWN_SERIES} of ${bySeries.size} series; the table has them all` }));
      break;
    }
    const past = history.series ? (history.series.get(id) || []) : [];
    view.append(el("figure", { class: "forecast-chart" }, chart(steps, past, roles, id),
      el("figcaption", { text: caption(id, roles, steps, past) })));
  }
  view.append(table);
  return view;
}

function caption(id, roles, steps, past) {
  const bands = quantileColumns(steps[0]);
  const interval = bands.length >= 2 ? `, shaded between its ${bands[0].slice(1)} and ${bands[bands.length - 1].slice(1)} quantiles`
    : " (a point forecast: train with quantiles=0.1,0.5,0.9 for an interval)";
  return `${id ? `${roles.series || "series"} ${id}: ` : ""}${past.length ? `the last ${past.length} rows sent, then ` : ""}` +
    `${steps.length} forecast step${steps.length === 1 ? "" : "s"}${interval}`;
}

function quantileColumns(record) {
  return Object.keys(record).filter((c) => /^q[0-9.]+$/.test(c)).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
}

// The sent table's rows of each series: the last max(lookback, 3 x horizon, 24) of them, as {time, text, value}.
function recentHistory(sent, roles, model) {
  if (!sent) return { problem: "history not drawn: the page reads CSV, TSV and JSON-lines tables, not this file" };
  let rows;
  try {
    rows = parseTable(sent.text, sent.name);
  } catch (problem) {
    return { problem: `history not drawn: ${problem.message}` };
  }
  const mapped = mappedColumns(roles, sent.options);
  const find = (name) => (name ? rows.header.findIndex((h) => h.trim().toLowerCase() === name.toLowerCase()) : -1);
  const time = find(mapped.time), target = find(mapped.target), series = find(mapped.series);
  if (time < 0 || target < 0) return { problem: `history not drawn: no '${time < 0 ? mapped.time : mapped.target}' column` };
  const keep = Math.max(roles.lookback || 0, 3 * (roles.horizon || 1), 24);
  const grouped = new Map();
  for (const row of rows.rows) {
    const value = Number(row[target]);
    if (row[target] === undefined || row[target] === "" || !Number.isFinite(value)) continue;
    const id = series >= 0 ? String(row[series]).trim() : "";
    if (!grouped.has(id)) grouped.set(id, []);
    grouped.get(id).push({ text: String(row[time]).trim(), value });
  }
  for (const [id, points] of grouped) {
    const positions = positionsOf(points.map((p) => p.text));
    points.forEach((p, i) => { p.time = positions[i]; });
    const ordered = positions.some((p) => p === null) ? points : points.sort((a, b) => a.time - b.time);
    grouped.set(id, ordered.slice(-keep));
  }
  return { series: grouped };
}

// Column names the request mapped at prediction time (time=YEAR...) win over the training names.
function mappedColumns(roles, chosen = {}) {
  return { time: chosen.time || roles.time, target: chosen.target || roles.target,
    series: chosen.series_id || chosen.series || roles.series };
}

function parseTable(text, name) {
  const lower = (name || "").toLowerCase();
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) {
    const objects = text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line));
    const header = [...new Set(objects.flatMap((o) => Object.keys(o)))];
    return { header, rows: objects.map((o) => header.map((h) => (o[h] === null || o[h] === undefined ? "" : String(o[h])))) };
  }
  const first = text.split("\n", 1)[0];
  const delimiter = lower.endsWith(".tsv") || lower.endsWith(".tab") ? "\t"
    : [",", "\t", ";"].reduce((best, d) => (first.split(d).length > first.split(best).length ? d : best), ",");
  const records = csvRows(text.replace(/^\uFEFF/, ""), delimiter).filter((r) => r.length > 1 || r[0] !== "");
  if (!records.length) throw new Error("the table is empty");
  return { header: records[0], rows: records.slice(1) };
}

function csvRows(text, delimiter) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === delimiter) { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

// Times as numbers on one axis: integer steps as they are, dates as milliseconds (UTC); null when
// some time is neither (the chart then places points by their order).
function positionsOf(texts) {
  if (texts.every((t) => /^-?\d+(\.\d+)?$/.test(t))) return texts.map(Number);
  return texts.map((t) => {
    const iso = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(t) ? `${t.replace(" ", "T")}Z` : t;
    const ms = Date.parse(iso);
    return Number.isFinite(ms) ? ms : null;
  });
}

const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function niceTicks(low, high, count = 5) {
  if (!(high > low)) { const pad = Math.abs(low) * 0.1 || 1; low -= pad; high += pad; }
  const raw = (high - low) / count, magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const ticks = [];
  const first = Math.floor(low / step + 1e-9), last = Math.ceil(high / step - 1e-9);
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  return { ticks, low: ticks[0], high: ticks[ticks.length - 1] };
}

function formatValue(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(1);
  return Number(v.toPrecision(6)).toLocaleString("en", { maximumFractionDigits: 4 });
}

// One series: history (grey), forecast (blue, joined to the last observed row) and the quantile
// bands (shaded, nested pairs), on axes with ticks, labelled with the time and target columns.
function chart(steps, past, roles, id) {
  const timeKey = roles.time && roles.time in steps[0] ? roles.time : null;
  const futureTexts = steps.map((s) => String(timeKey ? s[timeKey] : s.step));
  let positions = positionsOf([...past.map((p) => p.text), ...futureTexts]);
  if (positions.some((p) => p === null) || !timeKey) positions = positions.map((_, i) => i); // by order
  const pastX = positions.slice(0, past.length), futureX = positions.slice(past.length);
  const bands = quantileColumns(steps[0]);
  const forecast = steps.map((s) => s.forecast);
  const values = [...past.map((p) => p.value), ...forecast, ...bands.flatMap((b) => steps.map((s) => s[b]))];
  const W = 640, H = 272, left = 64, right = 16, top = 30, bottom = 48;
  const yAxis = niceTicks(Math.min(...values), Math.max(...values));
  const x0 = Math.min(...positions), x1 = Math.max(...positions), xSpan = x1 - x0 || 1;
  const x = (t) => left + ((W - left - right) * (t - x0)) / xSpan;
  const y = (v) => H - bottom - ((H - top - bottom) * (v - yAxis.low)) / (yAxis.high - yAxis.low);
  const path = (xs, vs) => xs.map((t, i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(vs[i]).toFixed(1)}`).join("");
  const svg = svgEl("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "data-series": id,
    "data-history-points": String(past.length), "data-forecast-points": String(steps.length),
    "data-interval": bands.length >= 2 ? `${bands[0]}-${bands[bands.length - 1]}` : "none",
    "aria-label": `forecast of ${roles.target || "the target"}${id ? ` for ${id}` : ""}` });

  // axes: ticks and grid lines, then the labels
  const yGroup = svgEl("g", { class: "axis y" });
  for (const v of yAxis.ticks) {
    yGroup.append(svgEl("line", { class: "grid", x1: left, x2: W - right, y1: y(v), y2: y(v) }),
      svgEl("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, formatValue(v)));
  }
  yGroup.append(svgEl("line", { class: "domain", x1: left, x2: left, y1: top, y2: H - bottom }));
  const xGroup = svgEl("g", { class: "axis x" });
  const texts = [...past.map((p) => p.text), ...futureTexts];
  const every = Math.max(1, Math.ceil(texts.length / 6));
  for (let i = 0; i < texts.length; i += every) {
    const at = x(positions[i]);
    xGroup.append(svgEl("line", { class: "tick", x1: at, x2: at, y1: H - bottom, y2: H - bottom + 5 }),
      svgEl("text", { x: at, y: H - bottom + 18, "text-anchor": "middle" }, texts[i].replace(/T00:00:00$/, "")));
  }
  xGroup.append(svgEl("line", { class: "domain", x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }));
  svg.append(yGroup, xGroup,
    svgEl("text", { class: "axis-label x", x: (left + W - right) / 2, y: H - 8, "text-anchor": "middle" },
      timeKey || "step"),
    svgEl("text", { class: "axis-label y", x: 14, y: (top + H - bottom) / 2, "text-anchor": "middle",
      transform: `rotate(-90 14 ${(top + H - bottom) / 2})` }, roles.target || "value"));

  // the forecast starts from the last observed row, so the lines join
  const joinX = past.length ? [pastX[past.length - 1], ...futureX] : futureX;
  const last = past.length ? [past[past.length - 1].value] : [];
  for (let i = 0; i < Math.floor(bands.length / 2); i++) {
    const lows = [...last, ...steps.map((s) => s[bands[i]])], highs = [...last, ...steps.map((s) => s[bands[bands.length - 1 - i]])];
    const back = joinX.map((t, j) => [t, lows[j]]).reverse().map(([t, v]) => `L${x(t).toFixed(1)},${y(v).toFixed(1)}`).join("");
    svg.append(svgEl("path", { class: `band level-${i}`, d: `${path(joinX, highs)}${back}Z`,
      "data-low": bands[i], "data-high": bands[bands.length - 1 - i] }));
  }
  if (past.length) svg.append(svgEl("path", { class: "history", d: path(pastX, past.map((p) => p.value)) }));
  svg.append(svgEl("path", { class: "forecast", d: path(joinX, [...last, ...forecast]) }));
  for (let i = 0; i < steps.length; i++) svg.append(svgEl("circle", { class: "forecast-point", cx: x(futureX[i]), cy: y(forecast[i]), r: 2.5 }));
  if (past.length) {
    const now = x(pastX[past.length - 1]);
    svg.append(svgEl("line", { class: "now", x1: now, x2: now, y1: top, y2: H - bottom }));
  }
  svg.append(legend([...(past.length ? [["history", "observed"]] : []), ["forecast", "forecast"],
    ...(bands.length >= 2 ? [["band", `${bands[0].slice(1)}–${bands[bands.length - 1].slice(1)} quantiles`]] : [])], W - right));
  return svg;
}

// A row of keys at the chart's top right: a short stroke or swatch per drawn element, then its name.
function legend(entries, end) {
  const group = svgEl("g", { class: "legend" });
  let at = end;
  for (const [kind, name] of [...entries].reverse()) {
    at -= 7 * name.length + 6;
    group.append(svgEl("text", { x: at + 22, y: 14 }, name));
    group.append(kind === "band" ? svgEl("rect", { class: "key-band", x: at, y: 5, width: 16, height: 12 })
      : svgEl("path", { class: `key-${kind}`, d: `M${at},11L${at + 16},11` }));
    at -= 30;
  }
  return group;
}

// One colour per class, by the class's place in the model's labels, so a class keeps its colour.
const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#0f9ba8", "#d6289b", "#7a9a01",
  "#9a6324", "#800000", "#2f4b7c", "#b8860b"];

function classColour(model, label) {
  const [r, g, b] = classRgb(model, label);
  return `rgb(${r}, ${g}, ${b})`;
}

// [r, g, b] of a class: the model's own colour (ServingSpec.colours) where it has one, else the palette's.
function classRgb(model, label) {
  const index = (model.labels || []).indexOf(label);
  const own = index >= 0 && model.colours ? model.colours[index] : null;
  if (own) return own;
  const key = index >= 0 ? index : [...label].reduce((sum, c) => sum + c.charCodeAt(0), 0);
  const hex = PALETTE[key % PALETTE.length];
  return [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
}

function boxesView(records, model, sent) {
  const files = (sent && sent.files) || [];
  const floor = model.options.includes("conf") ? Math.min(BOX_FLOOR, sent ? sent.threshold : BOX_FLOOR) : 0;
  const start = Math.max(floor, Math.min(1, sent ? sent.threshold : floor));
  const slider = el("input", { type: "range", id: "confidence", min: String(floor), max: "1", step: "0.01",
    value: String(start), "aria-label": "Smallest score shown" });
  const readout = el("output", { id: "confidence-value", for: "confidence" });
  const shown = el("span", { class: "hint", id: "boxes-shown" });
  const view = el("div", { class: "detections" },
    el("div", { class: "row confidence" }, el("label", { for: "confidence", text: "Show boxes with score ≥" }), slider, readout, shown));
  const order = (label) => { const i = (model.labels || []).indexOf(label); return i < 0 ? Infinity : i; };
  const present = [...new Set(records.flatMap((r) => (r.boxes || []).map((b) => b.label)))].sort((a, b) => order(a) - order(b));
  if (present.length) {
    view.append(el("div", { class: "legend-row", id: "box-legend" }, ...present.map((label) => {
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = classColour(model, label);
      return el("span", { class: "key" }, swatch, label);
    })));
  }
  records.forEach((record, i) => view.append(boxesOf(record, model, files[i])));
  const update = () => {
    const threshold = Number(slider.value);
    readout.textContent = threshold.toFixed(2);
    let visible = 0, total = 0;
    for (const item of view.querySelectorAll("[data-score]")) {
      const hide = Number(item.dataset.score) < threshold;
      if (item.tagName.toLowerCase() === "g") {
        total += 1;
        visible += hide ? 0 : 1;
        if (hide) item.setAttribute("display", "none"); else item.removeAttribute("display");
      } else item.hidden = hide;
    }
    for (const svg of view.querySelectorAll("svg.boxes")) {
      svg.dataset.shown = String(svg.querySelectorAll("g.box:not([display=none])").length);
    }
    shown.textContent = `${visible} of ${total} box${total === 1 ? "" : "es"} shown`;
    view.dataset.shown = String(visible);
  };
  slider.addEventListener("input", update);
  update();
  return view;
}

// One image with its boxes drawn over it (coordinates in percent of the image's own pixels, so the
// drawing follows the image's displayed size) and a table of the boxes.
function boxesOf(record, model, file) {
  const block = el("div", { class: "prediction" }, el("div", { class: "hint", text: record.input }));
  if (!record.boxes) {
    block.append(el("p", { class: "error", text: record.error || "no boxes in this answer" }));
    return block;
  }
  const W = record.width, H = record.height;
  const stage = el("div", { class: "stage" });
  if (file) stage.append(el("img", { src: URL.createObjectURL(file), alt: record.input, class: "boxed" }));
  else {
    const blank = el("div", { class: "blank" });
    blank.style.aspectRatio = `${W} / ${H}`;
    stage.append(blank);
  }
  const svg = svgEl("svg", { class: "boxes", role: "img", "data-boxes": String(record.boxes.length),
    "aria-label": `${record.boxes.length} boxes on ${record.input}` });
  const pct = (v, size) => `${((100 * v) / size).toFixed(3)}%`;
  const table = el("table", { class: "box-table" },
    el("tr", {}, ...["#", "class", "score", "x1", "y1", "x2", "y2"].map((c) => el("th", { text: c }))));
  record.boxes.forEach((box, index) => {
    const [x1, y1, x2, y2] = box.xyxy;
    const colour = classColour(model, box.label);
    const group = svgEl("g", { class: "box", "data-score": String(box.score), "data-label": box.label, "data-index": String(index) });
    group.append(svgEl("rect", { class: "frame", x: pct(x1, W), y: pct(y1, H), width: pct(x2 - x1, W), height: pct(y2 - y1, H), stroke: colour }));
    const tag = svgEl("svg", { class: "tag", x: pct(x1, W), y: pct(y1, H), overflow: "visible", "data-top": String(y1 / H) });
    const text = `${box.label} ${box.score.toFixed(2)}`;
    tag.append(svgEl("rect", { x: 0, y: -16, width: 7 * text.length + 8, height: 16, fill: colour }),
      svgEl("text", { x: 4, y: -4 }, text));
    group.append(tag);
    svg.append(group);
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = colour;
    const row = el("tr", { "data-score": String(box.score), "data-index": String(index) }, el("td", { text: String(index + 1) }),
      el("td", {}, swatch, box.label), el("td", { text: box.score.toFixed(3) }),
      ...box.xyxy.map((v) => el("td", { text: v.toFixed(1) })));
    const focus = (on) => { group.classList.toggle("focus", on); row.classList.toggle("focus", on); };
    for (const node of [row, group]) {
      node.addEventListener("mouseenter", () => focus(true));
      node.addEventListener("mouseleave", () => focus(false));
    }
    table.append(row);
  });
  stage.append(svg);
  block.append(el("div", { class: "boxes-pair" }, stage, record.boxes.length ? el("div", { class: "box-list" }, table)
    : el("p", { class: "hint", text: "no boxes above the lowest score asked for" })));
  const image = stage.querySelector("img");
  if (image) image.addEventListener("load", placeTags);
  return block;
}

// Label tags sized to their text, and moved inside their box where it touches the image's top.
function placeTags() {
  requestAnimationFrame(() => {
    for (const svg of document.querySelectorAll("svg.boxes")) {
      const height = svg.getBoundingClientRect().height;
      for (const tag of svg.querySelectorAll("svg.tag")) {
        const [back, text] = tag.children;
        const length = text.getComputedTextLength ? text.getComputedTextLength() : 0;
        if (length > 0) back.setAttribute("width", String(length + 8));
        const inside = Number(tag.dataset.top) * height < 16;
        back.setAttribute("y", inside ? "0" : "-16");
        text.setAttribute("y", inside ? "12" : "-4");
      }
    }
  });
}

window.addEventListener("resize", placeTags);

// ------------------------------------------------------------ masks
// A model whose records are masks over the image sent (ServingSpec.draws == "mask") answers one COCO
// run-length mask per class present; the page paints them over the image in the class colours on a
// canvas of the image's own pixels. The slider sets the overlay's opacity; each image's legend lists
// its classes with their share and hides or shows each (the model's first label, the background,
// starts hidden). Nothing is asked of the server again.
const MASK_OPACITY = 50; // percent

function masksView(records, model, sent) {
  const files = (sent && sent.files) || [];
  const slider = el("input", { type: "range", id: "opacity", min: "0", max: "100", step: "1",
    value: String(MASK_OPACITY), "aria-label": "Mask opacity" });
  const readout = el("output", { id: "opacity-value", for: "opacity" });
  const view = el("div", { class: "masks" },
    el("div", { class: "row opacity" }, el("label", { for: "opacity", text: "Mask opacity" }), slider, readout));
  records.forEach((record, i) => view.append(maskOf(record, model, files.find((f) => f.name === record.input) || files[i])));
  const update = () => {
    readout.textContent = `${slider.value}%`;
    for (const canvas of view.querySelectorAll("canvas.mask")) canvas.style.opacity = String(Number(slider.value) / 100);
  };
  slider.addEventListener("input", update);
  update();
  return view;
}

// One image with its classes painted over it, and its legend: swatch, class, share and pixels, and
// a box that shows or hides the class.
function maskOf(record, model, file) {
  const block = el("div", { class: "prediction" }, el("div", { class: "hint", text: record.input }));
  let classes = null, problem = record.error || "no masks in this answer";
  try {
    if (record.masks) classes = classMap(record, model);
  } catch (error) {
    problem = `the masks cannot be read (${error.message})`;
  }
  if (!classes) {
    block.append(el("p", { class: "error", text: problem }));
    return block;
  }
  const [H, W] = classes.size;
  const stage = el("div", { class: "stage" });
  if (file) stage.append(el("img", { src: URL.createObjectURL(file), alt: record.input, class: "masked" }));
  else {
    const blank = el("div", { class: "blank" });
    blank.style.aspectRatio = `${W} / ${H}`;
    stage.append(blank);
  }
  const canvas = el("canvas", { class: "mask", width: String(W), height: String(H), role: "img",
    "aria-label": `classes of ${record.input}` });
  stage.append(canvas);
  const labels = model.labels || [];
  const shown = new Set(classes.present.filter((index) => index !== 0 || labels.length < 2));
  const paint = () => paintClasses(canvas, classes, shown, model);
  block.append(el("div", { class: "boxes-pair" }, stage, maskLegend(record, model, classes.present, shown, paint)));
  paint();
  return block;
}

function maskLegend(record, model, present, shown, paint) {
  const labels = model.labels || [];
  const table = el("table", { class: "mask-legend" },
    el("tr", {}, ...["show", "class", "share", "pixels"].map((c) => el("th", { text: c }))));
  for (const index of present) {
    const label = labels[index];
    const box = el("input", { type: "checkbox", "data-class": label, "aria-label": `show ${label}` });
    box.checked = shown.has(index);
    box.addEventListener("change", () => {
      if (box.checked) shown.add(index); else shown.delete(index);
      paint();
    });
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = classColour(model, label);
    const share = (record.share || {})[label];
    table.append(el("tr", { "data-label": label }, el("td", {}, box), el("td", {}, swatch, label),
      el("td", { text: share === undefined ? "" : `${(100 * share).toFixed(1)}%` }),
      el("td", { text: String((record.pixels || {})[label] ?? "") })));
  }
  return el("div", { class: "box-list" }, table);
}

// The class index of every pixel (row-major; -1 where no mask says) from a record's masks, the
// classes present in the labels' order, and the size [height, width].
function classMap(record, model) {
  const labels = model.labels || [];
  const names = Object.keys(record.masks);
  const [H, W] = record.masks[names[0]]?.size || [record.height, record.width];
  const map = new Int32Array(H * W).fill(-1);
  const present = [];
  for (const name of names) {
    const rle = record.masks[name];
    if (rle.size[0] !== H || rle.size[1] !== W) throw new Error(`the mask of ${name} has another size`);
    const index = labels.indexOf(name);
    if (index < 0) throw new Error(`'${name}' is not a class of ${model.name}`);
    fillRuns(rleCounts(rle.counts), H, W, map, index);
    present.push(index);
  }
  return { map, present: present.sort((a, b) => a - b), size: [H, W] };
}

// COCO's compressed runs: each count in 5-bit groups, low first, one character each (48 + group,
// 0x20 set while more follow, 0x10 of the last the sign); from the fourth count on, each is the
// difference from the count two before it.
function rleCounts(text) {
  const counts = [];
  let at = 0;
  while (at < text.length) {
    let value = 0, shift = 0, code = 0;
    do {
      if (at >= text.length) throw new Error("the run-length counts end mid-number");
      code = text.charCodeAt(at++) - 48;
      value += (code & 0x1f) * 2 ** shift;
      shift += 5;
    } while (code & 0x20);
    if (code & 0x10) value -= 2 ** shift;
    counts.push(counts.length > 2 ? value + counts[counts.length - 2] : value);
  }
  return counts;
}

// Runs alternate background and mask, starting with background, down each column in turn.
function fillRuns(counts, H, W, map, index) {
  const total = counts.reduce((sum, run) => sum + run, 0);
  if (total !== H * W || counts.some((run) => run < 0)) throw new Error(`runs cover ${total} of ${H * W} pixels`);
  let at = 0;
  counts.forEach((run, i) => {
    if (i % 2) for (let q = at; q < at + run; q++) map[(q % H) * W + Math.floor(q / H)] = index;
    at += run;
  });
}

function paintClasses(canvas, classes, shown, model) {
  const labels = model.labels || [];
  const rgba = new Uint8ClampedArray(4 * labels.length); // transparent where a class is hidden
  for (const index of shown) rgba.set([...classRgb(model, labels[index]), 255], 4 * index);
  const picture = new ImageData(classes.size[1], classes.size[0]);
  const pixels = picture.data, map = classes.map;
  let painted = 0;
  for (let pixel = 0; pixel < map.length; pixel++) {
    const index = map[pixel];
    if (index < 0 || !shown.has(index)) continue;
    pixels[4 * pixel] = rgba[4 * index];
    pixels[4 * pixel + 1] = rgba[4 * index + 1];
    pixels[4 * pixel + 2] = rgba[4 * index + 2];
    pixels[4 * pixel + 3] = 255;
    painted += 1;
  }
  canvas.getContext("2d").putImageData(picture, 0, 0);
  canvas.dataset.painted = String(painted);
  canvas.dataset.shown = [...shown].sort((a, b) => a - b).map((i) => labels[i]).join(",");
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
