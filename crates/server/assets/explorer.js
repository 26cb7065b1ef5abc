// Quarry explorer: builds an Export API request from the form, shows the `curl` command
// that sends it, draws what comes back and shows the SQL behind it (`explain=true`).
//
// A plain ES module with no dependencies and no build step. The page's Content-Security-
// Policy forbids inline scripts, inline styles and handler attributes, so every listener
// is attached here, colours live in explorer.css, and the drawing sets SVG attributes only.

const PATHS = { charts: "/export/charts", funnel: "/export/funnel", events: "/export/events" };
// §4.5: filter values on numeric columns must be JSON numbers, not text.
const NUMERIC_FIELDS = new Set(["duration", "longitude", "latitude"]);
const NO_VALUE_OPERATORS = new Set(["isNull", "isNotNull"]);
// The API's other spellings of a parameter, mapped to the one the form's controls carry.
const PARAM_ALIASES = { project_id: "projectId", series: "events" };
const STORAGE_KEY = "quarry-explorer-credentials";
const PALETTE_SIZE = 10;
// Beyond this many drawn points a chart stops being readable and the DOM gets slow; the
// legend table still lists every series.
const MAX_DRAWN_POINTS = 20000;
const SVG_NS = "http://www.w3.org/2000/svg";
const NUMBER = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const form = $("#request-form");

/** What the page keeps between requests. */
const state = {
  last: null, // { request, body } of the result shown, for redraws and paging
  cursor: "", // keyset paging: the cursor of the page shown ("" is the first page)
  cursors: [], // keyset paging: the cursors of the pages before it
  inflight: {}, // AbortController per kind of request ("run", "explain")
  errorIds: 0,
};

// ---------------------------------------------------------------------------------------
// Small DOM helpers

/** An HTML element with attributes (written as given, data- and aria- ones too) and children. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttributes(el, attrs);
  el.append(...children.flat().filter((c) => c != null));
  return el;
}

/** An SVG element; the same shape as h(). */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttributes(el, attrs);
  el.append(...children.flat().filter((c) => c != null));
  return el;
}

function setAttributes(el, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
}

/** A number as people read it, at most 2 decimals (the API's own rounding). */
function formatNumber(n) {
  return typeof n === "number" ? NUMBER.format(n) : "—";
}

/** A number cell that keeps the exact value in data-value for tests and copying. */
function numberCell(value, attrs = {}) {
  return h("td", { class: "num", "data-value": value ?? "", ...attrs }, formatNumber(value));
}

function isShown(el) {
  return el.getClientRects().length > 0;
}

// ---------------------------------------------------------------------------------------
// Credentials: in the inputs (this page's memory), and in sessionStorage only when the user
// ticks the box, so they survive a reload of this tab and nothing else. Never a cookie.

function credentials() {
  return { id: $("#client-id").value.trim(), secret: $("#client-secret").value };
}

function restoreCredentials() {
  const saved = sessionStorage.getItem(STORAGE_KEY);
  if (!saved) return;
  try {
    const { id, secret } = JSON.parse(saved);
    $("#client-id").value = id ?? "";
    $("#client-secret").value = secret ?? "";
    $("#remember").checked = true;
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
  }
}

function storeCredentials() {
  if ($("#remember").checked) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credentials()));
  else sessionStorage.removeItem(STORAGE_KEY);
}

// ---------------------------------------------------------------------------------------
// The form's repeated rows: series (or funnel steps), their filters, breakdowns, and the
// events endpoint's filters. Rows are cloned from <template>s; renumber() gives every
// control the API's path for it (data-param), which is how errors find their field.

function endpoint() {
  return form.elements.endpoint.value;
}

function setEndpoint(name) {
  form.dataset.endpoint = name;
  // A funnel needs at least two steps: offer the second row instead of a 400.
  if (name === "funnel") while (seriesRows().length < 2) addSeries();
  if (name !== "funnel" && seriesRows().length === 0) addSeries();
}

function seriesRows() {
  return $$('#series-list > [data-role="series"]');
}

function cloneTemplate(id) {
  return $(`#${id}`).content.firstElementChild.cloneNode(true);
}

/** The controls of a row itself, not those of rows nested in it. */
function ownControls(row) {
  return $$("[data-key]", row).filter((c) => c.closest("[data-role]") === row);
}

/** Appends a row cloned from a template to `container`, numbered; returns the row. */
function addRow(templateId, container) {
  const row = cloneTemplate(templateId);
  container.append(row);
  renumber();
  return row;
}

const addSeries = () => addRow("tpl-series", $("#series-list"));
const addFilter = (container) => addRow("tpl-filter", container);
const addBreakdown = () => addRow("tpl-breakdown", $("#breakdown-list"));

function renumber() {
  seriesRows().forEach((series, i) => {
    $('[data-slot="number"]', series).textContent = String(i + 1);
    nameRow(series, `events[${i}]`, `series-${i}`, `series ${i + 1}`);
    $$('[data-role="filter"]', series).forEach((filter, j) =>
      nameRow(filter, `events[${i}].filters[${j}]`, `series-${i}-filter-${j}`, `filter ${j + 1} of series ${i + 1}`),
    );
  });
  $$('#breakdown-list > [data-role="breakdown"]').forEach((row, i) =>
    nameRow(row, `breakdowns[${i}]`, `breakdown-${i}`, `breakdown ${i + 1}`),
  );
  $$('#event-filters > [data-role="filter"]').forEach((row, j) =>
    nameRow(row, `filters[${j}]`, `filter-${j}`, `filter ${j + 1}`),
  );
}

function nameRow(row, param, testId, spoken) {
  row.dataset.param = param;
  row.dataset.testid = testId;
  for (const control of ownControls(row)) {
    control.dataset.param = `${param}.${control.dataset.key}`;
    control.dataset.testid = `${testId}-${control.dataset.key}`;
  }
  for (const button of $$("[data-action]", row).filter((b) => b.closest("[data-role]") === row)) {
    button.dataset.testid = `${testId}-${button.dataset.action}`;
    const what = button.dataset.action === "add-filter" ? `Add a filter to ${spoken}` : `Remove ${spoken}`;
    button.setAttribute("aria-label", what);
  }
}

/** The add/remove buttons of every row, by delegation. */
function onRowAction(event) {
  const button = event.target.closest("[data-action]");
  if (!button) return;
  const row = button.closest("[data-role]");
  const action = button.dataset.action;
  if (action === "add-filter") addFilter($('[data-role="filters"]', row)).querySelector("input")?.focus();
  else row.remove();
  renumber();
  updateCurl();
}

// ---------------------------------------------------------------------------------------
// From the form to a request

const value = (selector) => $(selector).value.trim();

/** "a, b" as ["a", "b"]: blanks dropped, each part trimmed. */
function splitList(text) {
  return text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
}

/**
 * The request the form describes: { endpoint, params, problems }. `params` keeps the
 * form's order (it is what curl shows); `problems` are mistakes caught before sending, in
 * the API's error shape, so they are shown the same way.
 */
function buildRequest() {
  const request = { endpoint: endpoint(), params: new URLSearchParams(), problems: [] };
  const add = (key, text) => {
    if (text !== "" && text != null) request.params.append(key, text);
  };
  add("projectId", value("#project-id"));
  if (request.endpoint === "events") addEventsParams(request, add);
  else addChartOrFunnelParams(request, add);
  add("timezone", value("#timezone"));
  return request;
}

function addEventsParams(request, add) {
  for (const name of splitList(value("#event-names"))) add("event", name);
  add("start", value("#events-start"));
  add("end", value("#events-end"));
  add("profileId", value("#profile-id"));
  const filters = readFilters($("#event-filters"), request.problems);
  if (filters.length) add("filters", JSON.stringify(filters));
  add("includes", value("#includes"));
  add("fields", value("#fields"));
  if ($("#use-cursor").checked) {
    // An empty cursor asks for the first keyset page, so it is sent even when empty.
    request.params.append("cursor", state.cursor);
    if ($("#cursor-count").checked) add("count", "true");
  } else {
    add("page", value("#page"));
  }
  add("limit", value("#events-limit"));
}

function addChartOrFunnelParams(request, add) {
  const charts = request.endpoint === "charts";
  add("events", JSON.stringify(seriesRows().map((row) => readSeries(row, charts, request.problems))));
  if (charts) {
    // Rows are sent as they are, empty ones too, so that the API's `breakdowns[i]` is row i.
    const breakdowns = $$('#breakdown-list > [data-role="breakdown"]').map((row) => ({
      name: $('[data-key="name"]', row).value.trim(),
    }));
    if (breakdowns.length) add("breakdowns", JSON.stringify(breakdowns));
  }
  add("range", value("#range"));
  add("startDate", value("#start-date"));
  add("endDate", value("#end-date"));
  if (charts) {
    add("interval", value("#interval"));
    if ($("#previous").checked) add("previous", "true");
    add("chartType", value("#chart-type"));
    add("metric", value("#metric"));
    add("limit", value("#chart-limit"));
    add("offset", value("#chart-offset"));
  } else {
    add("funnelWindow", value("#funnel-window"));
    add("funnelGroup", value("#funnel-group"));
  }
}

/** One event config; optional keys only when filled in, so the request stays minimal. */
function readSeries(row, charts, problems) {
  const field = (key) => $(`[data-key="${key}"]`, row).value.trim();
  const config = { name: field("name") };
  if (field("displayName")) config.displayName = field("displayName");
  if (charts && field("segment")) config.segment = field("segment");
  if (charts && field("property")) config.property = field("property");
  const filters = readFilters($('[data-role="filters"]', row), problems);
  if (filters.length) config.filters = filters;
  return config;
}

function readFilters(container, problems) {
  return $$(':scope > [data-role="filter"]', container).map((row) => {
    const name = $('[data-key="name"]', row).value.trim();
    const operator = $('[data-key="operator"]', row).value;
    const input = $('[data-key="value"]', row);
    const values = parseValues(input.value, name, input.dataset.param, problems);
    // isNull/isNotNull take no values; every other operator gets its (maybe empty) list,
    // and the API says so when it is empty.
    if (NO_VALUE_OPERATORS.has(operator) && values.length === 0) return { name, operator };
    return { name, operator, value: values };
  });
}

/** Filter values: a JSON array as typed, or comma-separated text. */
function parseValues(text, field, param, problems) {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    try {
      const list = JSON.parse(trimmed);
      if (Array.isArray(list)) return list;
    } catch {
      // Reported below: the user meant JSON, and guessing would send something else.
    }
    problems.push({ param, message: "not a JSON array; write values comma-separated or as [\"a\", \"b\"]" });
    return [];
  }
  const numeric = NUMERIC_FIELDS.has(field);
  return splitList(trimmed).map((v) => (numeric && /^-?[0-9]+(\.[0-9]+)?$/.test(v) ? Number(v) : v));
}

/** Mistakes the server cannot report because they stop the request being sent. */
function checkCredentials(problems) {
  const { id, secret } = credentials();
  if (!id) problems.push({ param: "openpanel-client-id", message: "Enter the client id." });
  if (!secret) problems.push({ param: "openpanel-client-secret", message: "Enter the client secret." });
}

// ---------------------------------------------------------------------------------------
// The curl command

/** Quote for a POSIX shell: single quotes, each ' written as '\''. */
function shellQuote(text) {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The request as a command to paste into a shell; it sends exactly what the page sends. */
function curlCommand(request, revealSecret) {
  const url = new URL(PATHS[request.endpoint], location.origin).href;
  const { id, secret } = credentials();
  const lines = [`curl -sG ${shellQuote(url)}`];
  for (const [key, text] of request.params) lines.push(`--data-urlencode ${shellQuote(`${key}=${text}`)}`);
  lines.push(`-H ${shellQuote(`openpanel-client-id: ${id}`)}`);
  // Hidden, the secret comes from the environment, so the command still works as pasted
  // once the variable is exported, and a screen share does not leak it.
  lines.push(
    revealSecret
      ? `-H ${shellQuote(`openpanel-client-secret: ${secret}`)}`
      : `-H "openpanel-client-secret: $OPENPANEL_CLIENT_SECRET"`,
  );
  return lines.join(" \\\n  ");
}

function updateCurl() {
  const reveal = $("#reveal-secret").checked;
  $("#curl").textContent = curlCommand(buildRequest(), reveal);
  $("#curl-hint").hidden = reveal;
}

async function copyCurl() {
  const text = $("#curl").textContent;
  try {
    await navigator.clipboard.writeText(text);
    setStatus("Copied the curl command.");
  } catch {
    // No clipboard permission: select the text so Ctrl+C does it.
    getSelection().selectAllChildren($("#curl"));
    setStatus("Press Ctrl+C to copy the selected command.");
  }
}

// ---------------------------------------------------------------------------------------
// Sending

/** GET the request (plus `extra` parameters) with the credentials as headers. */
async function send(request, extra, signal) {
  const params = new URLSearchParams(request.params);
  for (const [key, text] of Object.entries(extra)) params.set(key, text);
  const { id, secret } = credentials();
  const started = performance.now();
  const response = await fetch(`${PATHS[request.endpoint]}?${params}`, {
    headers: { "openpanel-client-id": id, "openpanel-client-secret": secret, accept: "application/json" },
    credentials: "omit",
    cache: "no-store",
    signal,
  });
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Left null: reported as an unexpected answer.
  }
  return { response, body, text, ms: Math.round(performance.now() - started) };
}

/** Run the form's request ("run") or its explain ("explain"), and show the outcome. */
async function execute(kind) {
  clearErrors();
  const request = buildRequest();
  checkCredentials(request.problems);
  updateCurl();
  if (request.problems.length) {
    showFieldErrors(request.problems, "Nothing was sent: fix the fields marked below.");
    return finish(kind, "invalid");
  }
  const result = await fetchLatest(kind, request);
  if (!result) return; // replaced by a newer request of the same kind
  if (result.error) {
    showGeneralError(`The request could not be sent: ${result.error.message}`);
    return finish(kind, "error");
  }
  setStatus(describeResponse(result));
  if (kind === "explain" && explainRefused(result)) {
    showExplainUnavailable(`Explain is unavailable here: ${result.body.details[0].message}.`);
    return finish(kind, "done");
  }
  if (!result.response.ok || result.body == null) {
    // The result still shown answers an earlier request: say so by fading it.
    if (kind === "run") $("#result").classList.add("stale");
    showApiError(result);
    return finish(kind, "error");
  }
  if (kind === "explain") renderExplain(result.body);
  else renderResult(request, result.body);
  finish(kind, "done");
}

/**
 * Sends the request; a newer request of the same kind aborts this one, which then
 * resolves to null. A network failure resolves to { error }.
 */
async function fetchLatest(kind, request) {
  state.inflight[kind]?.abort();
  const controller = new AbortController();
  state.inflight[kind] = controller;
  setBusy(true);
  setStatus(kind === "explain" ? "Explaining…" : "Running…");
  try {
    return await send(request, kind === "explain" ? { explain: "true" } : {}, controller.signal);
  } catch (error) {
    return error.name === "AbortError" ? null : { error };
  } finally {
    if (state.inflight[kind] === controller) setBusy(false);
  }
}

/** Marks a finished request on the page, so a test (or a user) can tell one from the next. */
function finish(kind, outcome) {
  const output = $("#output");
  output.dataset.outcome = outcome;
  output.dataset.kind = kind;
  output.dataset.seq = String(Number(output.dataset.seq ?? 0) + 1);
}

/** The buttons stay enabled (disabling a focused button drops keyboard focus); a second
    press simply replaces the request in flight. */
function setBusy(busy) {
  $("#output").setAttribute("aria-busy", String(busy));
}

function setStatus(text) {
  $("#status").textContent = text;
}

function describeResponse({ response, ms }) {
  const parts = [`${response.status} ${response.statusText}`.trim(), `${ms} ms`];
  const left = response.headers.get("RateLimit-Remaining");
  const limit = response.headers.get("RateLimit-Limit");
  if (left != null && limit != null) parts.push(`${left} of ${limit} requests left in this window`);
  return parts.join(" · ");
}

// ---------------------------------------------------------------------------------------
// Errors: a 400's details go beside the controls they name; the rest to the general area.

function clearErrors() {
  for (const el of $$(".field-error")) el.remove();
  for (const el of $$('[aria-invalid="true"]')) {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
  }
  const general = $("#general-error");
  general.hidden = true;
  general.replaceChildren();
}

function showApiError({ response, body, text }) {
  if (body == null) {
    showGeneralError(`${response.status}: the server answered with something other than JSON.`, [], text.slice(0, 300));
    return;
  }
  if (response.status === 400 && Array.isArray(body.details)) {
    showFieldErrors(body.details, body.message);
    return;
  }
  let message = `${body.error ?? response.status}: ${body.message ?? "the request failed."}`;
  if (response.status === 429) {
    const retry = response.headers.get("Retry-After");
    if (retry) message += ` Try again in ${retry} s.`;
  }
  if (response.status === 401) {
    for (const id of ["#client-id", "#client-secret"]) $(id).setAttribute("aria-invalid", "true");
  }
  showGeneralError(message);
}

/** Places each {param, message} beside its control; those with none go to the general area. */
function showFieldErrors(details, summary) {
  const unplaced = details.filter((detail) => !placeFieldError(detail));
  const placed = details.length - unplaced.length;
  const note = placed === 0 ? "" : placed === 1 ? "It is marked beside its field." : "Each is marked beside its field.";
  const sentence = /[.!?]$/.test(summary) ? summary : `${summary}.`;
  showGeneralError(`${sentence} ${note}`.trim(), unplaced);
  $('[aria-invalid="true"]')?.focus();
}

function placeFieldError({ param, message }) {
  const { control, exact } = controlFor(param);
  if (!control) return false;
  const error = h(
    "span",
    { class: "field-error", id: `field-error-${++state.errorIds}`, "data-error-for": param, "data-testid": "field-error" },
    // When the error is shown on an enclosing control, say which part it is about.
    exact ? message : `${param}: ${message}`,
  );
  if (control.matches("input, select")) {
    control.setAttribute("aria-invalid", "true");
    const described = control.getAttribute("aria-describedby");
    control.setAttribute("aria-describedby", described ? `${described} ${error.id}` : error.id);
    (control.closest("label") ?? control).append(error);
  } else {
    control.append(error);
  }
  return true;
}

/**
 * The visible control for an API parameter path such as `events[1].filters[0].operator`.
 * A path without a control of its own (`events[0].filters[0].value[2]`) goes to the
 * nearest enclosing one that has one (`…value`, else the filter's row, else the list).
 */
function controlFor(param) {
  const canonical = param.replace(/^[A-Za-z_-]+/, (head) => PARAM_ALIASES[head] ?? head);
  for (let path = canonical; path; path = parentPath(path)) {
    const control = $$("[data-param]", form).find((el) => el.dataset.param === path && isShown(el));
    if (control) return { control, exact: path === canonical };
  }
  return { control: null, exact: false };
}

/** `a[1].b` → `a[1]` → `a` → "". */
function parentPath(path) {
  const parent = path.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
  return parent === path ? "" : parent;
}

function showGeneralError(message, details = [], extra = "") {
  const general = $("#general-error");
  general.replaceChildren(h("p", {}, message));
  if (details.length) {
    general.append(h("ul", {}, details.map((d) => h("li", {}, h("code", {}, d.param), `: ${d.message}`))));
  }
  if (extra) general.append(h("pre", {}, extra));
  general.hidden = false;
}

// ---------------------------------------------------------------------------------------
// Results

function renderResult(request, body) {
  state.last = { request, body };
  $("#result").classList.remove("stale");
  $("#raw-response").textContent = JSON.stringify(body, null, 2);
  $("#chart-style").hidden = request.endpoint !== "charts";
  $("#pager").hidden = request.endpoint !== "events";
  $("#result").dataset.endpoint = request.endpoint;
  redraw();
}

function redraw() {
  const { request, body } = state.last;
  const draw = { charts: drawChart, funnel: drawFunnel, events: drawEvents }[request.endpoint];
  $("#result-body").replaceChildren(...draw(body));
  if (request.endpoint === "events") updatePager(body.meta ?? {});
}

// ---- Charts

const CHART = { width: 820, height: 340, left: 60, right: 16, top: 14, bottom: 44 };

function drawChart(body) {
  const series = body.series ?? [];
  const meta = body.meta ?? {};
  const caption = h(
    "p",
    { class: "hint", "data-testid": "chart-caption" },
    `${meta.startDate ?? "?"} → ${meta.endDate ?? "?"}, by ${meta.interval ?? "?"} (${meta.timezone ?? "?"}); ` +
      `${series.length} of ${meta.totalSeries ?? series.length} series.`,
  );
  if (series.length === 0) return [caption, h("p", {}, "No series.")];
  const withPrevious = series.some((one) => one.data.some((point) => point.previous));
  const buckets = Math.max(1, ...series.map((one) => one.data.length));
  const drawn = series.slice(0, Math.max(1, Math.floor(MAX_DRAWN_POINTS / buckets)));
  const bars = $("#style-bars").checked;
  const parts = [caption];
  if (drawn.length < series.length) parts.push(h("p", { class: "hint" }, `Drawing the first ${drawn.length}; the table lists all.`));
  if (withPrevious) parts.push(previousKey());
  parts.push(chartSvg(drawn, meta.interval, bars, withPrevious));
  parts.push(legendTable(series, body.metrics, withPrevious));
  return parts;
}

function previousKey() {
  return h(
    "p",
    { class: "legend-key" },
    h("span", {}, h("span", { class: "key-line" }), " this period"),
    h("span", {}, h("span", { class: "key-line dashed" }), " previous period"),
  );
}

function chartSvg(series, interval, bars, withPrevious) {
  const { width, height, left, right, top, bottom } = CHART;
  const buckets = series[0].data.map((point) => point.date);
  const values = series.flatMap((one) =>
    one.data.flatMap((point) => (withPrevious && point.previous ? [point.count, point.previous.value] : [point.count])),
  );
  // Property sums and minimums can be negative: the axis always holds 0 and every value.
  const axis = niceScale(Math.min(0, ...values), Math.max(0, ...values));
  const plot = { x0: left, x1: width - right, y0: top, y1: height - bottom };
  const band = (plot.x1 - plot.x0) / buckets.length;
  const scale = {
    plot,
    band,
    x: (i) => plot.x0 + band * (i + 0.5),
    y: (v) => plot.y1 - ((v - axis.min) / (axis.max - axis.min)) * (plot.y1 - plot.y0),
  };
  const svg = s("svg", {
    class: "chart",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `${bars ? "Bar" : "Line"} chart of ${series.length} series over ${buckets.length} ${interval ?? ""} buckets; the table below has the numbers.`,
    "data-testid": "chart-svg",
    "data-style": bars ? "bars" : "lines",
    "data-y-min": axis.min,
    "data-y-max": axis.max,
    "data-plot-top": plot.y0,
    "data-plot-bottom": plot.y1,
  });
  svg.append(yAxis(scale, axis), xAxis(scale, buckets, interval));
  series.forEach((one, k) => {
    const group = s("g", { class: `series s${k % PALETTE_SIZE}`, "data-series-id": one.id });
    const draw = bars ? seriesBars : seriesLine;
    group.append(...draw(one, k, series.length, scale, interval, withPrevious));
    svg.append(group);
  });
  return svg;
}

/** Round axis ends around [low, high] (low <= 0 <= high): multiples of a step of
    1, 2, 2.5 or 5 × 10^n, about four steps in all. */
function niceScale(low, high) {
  const target = Math.max(high - low, 1) / 4;
  const power = 10 ** Math.floor(Math.log10(target));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((candidate) => candidate >= target);
  const min = step * Math.floor(low / step);
  return { min, max: Math.max(step * Math.ceil(high / step), min + step), step };
}

function yAxis({ plot, y }, { min, max, step }) {
  const group = s("g", { "aria-hidden": "true" });
  // Counted in steps, not summed, so that 0.1 + 0.2 never skips or doubles a line.
  for (let i = 0; min + i * step <= max + step / 2; i++) {
    const v = min + i * step;
    group.append(
      s("line", { class: "grid", x1: plot.x0, x2: plot.x1, y1: y(v), y2: y(v) }),
      s("text", { x: plot.x0 - 6, y: y(v) + 4, "text-anchor": "end" }, formatNumber(v)),
    );
  }
  return group;
}

function xAxis({ plot, x }, buckets, interval) {
  const group = s("g", { "aria-hidden": "true" });
  group.append(s("line", { class: "axis", x1: plot.x0, x2: plot.x1, y1: plot.y1, y2: plot.y1 }));
  const every = Math.ceil(buckets.length / 8);
  buckets.forEach((date, i) => {
    if (i % every !== 0) return;
    group.append(s("text", { x: x(i), y: plot.y1 + 16, "text-anchor": "middle" }, dateLabel(date, interval)));
  });
  return group;
}

/** A bucket's label. The API's dates are already in the request's timezone, so the text
    is sliced rather than parsed (parsing would move it to the browser's timezone). */
function dateLabel(date, interval) {
  if (interval === "minute" || interval === "hour") return date.slice(5, 16).replace("T", " ");
  if (interval === "month") return date.slice(0, 7);
  return date.slice(0, 10);
}

function pointTitle(one, point, interval) {
  let text = `${one.names.join(" · ")}, ${dateLabel(point.date, interval)}: ${formatNumber(point.count)}`;
  if (point.previous) {
    const diff = point.previous.diff == null ? "" : `, ${point.previous.diff > 0 ? "+" : ""}${point.previous.diff} %`;
    text += ` (previous period: ${formatNumber(point.previous.value)}${diff})`;
  }
  return s("title", {}, text);
}

function markAttributes(one, point, i, previous) {
  return {
    "data-series-id": one.id,
    "data-index": i,
    "data-date": point.date,
    "data-count": previous ? point.previous.value : point.count,
    "data-previous": previous ? false : point.previous?.value,
  };
}

function seriesLine(one, k, count, { x, y }, interval, withPrevious) {
  const parts = [];
  // Points are matched by index (§6.4); those without a counterpart have no previous.
  const paired = one.data.map((point, i) => [point, i]).filter(([point]) => point.previous);
  if (withPrevious && paired.length) {
    const coords = paired.map(([point, i]) => `${x(i)},${y(point.previous.value)}`).join(" ");
    parts.push(s("polyline", { class: "line previous", points: coords }));
    for (const [point, i] of paired) {
      parts.push(
        s("circle", { class: "point previous", cx: x(i), cy: y(point.previous.value), r: 2, ...markAttributes(one, point, i, true) },
          pointTitle(one, point, interval)),
      );
    }
  }
  parts.push(s("polyline", { class: "line", points: one.data.map((p, i) => `${x(i)},${y(p.count)}`).join(" ") }));
  one.data.forEach((point, i) => {
    parts.push(
      s("circle", { class: "point current", cx: x(i), cy: y(point.count), r: 3, ...markAttributes(one, point, i, false) },
        pointTitle(one, point, interval)),
    );
  });
  return parts;
}

/** Grouped bars: each bucket's band holds one slot per series; with a previous period the
    slot is split, the previous bar (dashed, faded) left of the current one. */
function seriesBars(one, k, count, { plot, band, y }, interval, withPrevious) {
  const slot = (band * 0.8) / count;
  // A bar runs from the zero line to its value, up or down.
  const extent = (v) => ({ y: Math.min(y(v), y(0)), height: Math.abs(y(v) - y(0)) });
  const parts = [];
  one.data.forEach((point, i) => {
    const x = plot.x0 + band * i + band * 0.1 + slot * k;
    const split = withPrevious && point.previous;
    const width = split ? slot / 2 : slot;
    if (split) {
      parts.push(
        s("rect", { class: "bar previous", x, width, ...extent(point.previous.value), ...markAttributes(one, point, i, true) },
          pointTitle(one, point, interval)),
      );
    }
    parts.push(
      s("rect", { class: "bar current", x: split ? x + width : x, width, ...extent(point.count), ...markAttributes(one, point, i, false) },
        pointTitle(one, point, interval)),
    );
  });
  return parts;
}

/** The numbers behind the chart, one row per series, with a box to hide its drawing. */
function legendTable(series, metrics = {}, withPrevious) {
  const heads = ["Show", "Series", "Sum", "Average", "Min", "Max"];
  if (withPrevious) heads.push("Previous sum", "Change");
  const head = h("tr", {}, heads.map((text, i) => h("th", { class: i > 1 ? "num" : null, scope: "col" }, text)));
  const rows = series.map((one, k) => legendRow(one, k, withPrevious));
  const total = h(
    "tr",
    { "data-testid": "legend-total" },
    h("td"),
    h("td", {}, "All series shown"),
    ["sum", "average", "min", "max"].map((m) => numberCell(metrics[m], { "data-metric": m })),
    withPrevious ? previousCells(metrics.previous?.sum) : [],
  );
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { "data-testid": "chart-legend" }, h("thead", {}, head), h("tbody", {}, rows), h("tfoot", {}, total)),
  );
}

function legendRow(one, k, withPrevious) {
  const label = one.names.join(" · ");
  const show = h("input", { type: "checkbox", checked: true, "aria-label": `Show ${label}` });
  show.addEventListener("change", () => {
    $(`.chart g[data-series-id="${CSS.escape(one.id)}"]`)?.classList.toggle("off", !show.checked);
  });
  return h(
    "tr",
    { "data-series-id": one.id, class: `s${k % PALETTE_SIZE}` },
    h("td", {}, show),
    h("th", { scope: "row", "data-testid": "series-names" }, h("span", { class: "swatch" }), " ", label),
    ["sum", "average", "min", "max"].map((m) => numberCell(one.metrics?.[m], { "data-metric": m })),
    withPrevious ? previousCells(one.metrics?.previous?.sum) : [],
  );
}

function previousCells(previous) {
  if (!previous) return [h("td"), h("td")];
  const diff = previous.diff == null ? "—" : `${previous.diff > 0 ? "+" : ""}${previous.diff} %`;
  return [
    numberCell(previous.value, { "data-metric": "previous-sum" }),
    h("td", { class: `num ${previous.state}`, "data-metric": "change", "data-value": previous.diff ?? "" }, diff),
  ];
}

// ---- Funnel

const FUNNEL = { width: 820, height: 300, left: 16, right: 16, top: 34, bottom: 40 };

function drawFunnel(body) {
  const steps = body.steps ?? [];
  const total = body.totalSessions ?? 0;
  const last = steps.at(-1);
  const summary = h(
    "p",
    { "data-testid": "funnel-summary", "data-total": total },
    `${formatNumber(total)} entered the funnel`,
    last ? `; ${formatNumber(last.count)} (${formatNumber(last.percent)} %) reached “${stepName(last)}”.` : ".",
  );
  if (steps.length === 0) return [summary];
  return [summary, funnelSvg(steps, total), funnelTable(steps)];
}

function stepName(step) {
  return step.event?.displayName || step.event?.name || "?";
}

function funnelSvg(steps, total) {
  const { width, height, left, right, top, bottom } = FUNNEL;
  const band = (width - left - right) / steps.length;
  const base = height - bottom;
  const y = (count) => base - (total ? count / total : 0) * (base - top);
  const svg = s("svg", {
    class: "chart funnel",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `Funnel of ${steps.length} steps; the table below has the numbers.`,
    "data-testid": "funnel-svg",
    "data-plot-top": top,
    "data-plot-bottom": base,
  });
  steps.forEach((step, i) => {
    const x = left + band * i + band * 0.15;
    const barWidth = band * 0.7;
    const center = x + barWidth / 2;
    // The faded bar is the step before's reach: what is not filled is the drop-off.
    svg.append(
      s("rect", { class: "reach", x, y: y(step.previousCount), width: barWidth, height: base - y(step.previousCount) }),
      s("rect", {
        class: "bar", x, y: y(step.count), width: barWidth, height: base - y(step.count),
        "data-step": i, "data-count": step.count, "data-percent": step.percent,
      }, s("title", {}, `${stepName(step)}: ${step.count} (${step.percent} %)`)),
      s("text", { class: "value", x: center, y: y(step.count) - 6, "text-anchor": "middle" },
        `${formatNumber(step.count)} · ${formatNumber(step.percent)} %`),
      s("text", { x: center, y: base + 16, "text-anchor": "middle" }, `${i + 1}. ${stepName(step)}`),
    );
    if (i > 0 && step.dropoffCount > 0) {
      svg.append(s("text", { class: "drop", x: center, y: base + 32, "text-anchor": "middle" },
        `−${formatNumber(step.dropoffCount)} (${formatNumber(step.dropoffPercent)} %)`));
    }
  });
  return svg;
}

function funnelTable(steps) {
  const heads = ["Step", "Event", "Reached", "% of entrants", "Previous step", "Dropped", "Drop-off %"];
  const rows = steps.map((step, i) =>
    h(
      "tr",
      { "data-step": i },
      h("td", {}, String(i + 1)),
      h("th", { scope: "row" }, stepName(step)),
      numberCell(step.count, { "data-metric": "count" }),
      numberCell(step.percent, { "data-metric": "percent" }),
      numberCell(step.previousCount, { "data-metric": "previousCount" }),
      numberCell(step.dropoffCount, { "data-metric": "dropoffCount" }),
      numberCell(step.dropoffPercent, { "data-metric": "dropoffPercent" }),
    ),
  );
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { "data-testid": "funnel-table" },
      h("thead", {}, h("tr", {}, heads.map((t, i) => h("th", { scope: "col", class: i > 1 ? "num" : null }, t)))),
      h("tbody", {}, rows)),
  );
}

// ---- Events

function drawEvents(body) {
  const rows = body.data ?? [];
  if (rows.length === 0) return [h("p", { "data-testid": "events-empty" }, "No events on this page.")];
  // Columns in the order the API writes them; `fields` and `includes` change the set.
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)));
  const cells = rows.map((row) =>
    h("tr", { "data-id": row.id ?? "" }, columns.map((c) => h("td", { "data-field": c }, cellContent(row[c])))),
  );
  return [h("div", { class: "table-wrap" }, h("table", { class: "events", "data-testid": "events-table" }, h("thead", {}, head), h("tbody", {}, cells)))];
}

function cellContent(cell) {
  if (cell == null) return "";
  if (typeof cell === "object") {
    const json = JSON.stringify(cell);
    return h("code", { title: json }, json);
  }
  return String(cell);
}

function updatePager(meta) {
  const keyset = "next" in meta;
  const prev = $("#page-prev");
  const next = $("#page-next");
  if (keyset) {
    const page = state.cursors.length + 1;
    const total = meta.totalCount == null ? "" : ` of ${formatNumber(meta.totalCount)} events`;
    $("#page-info").textContent = `Page ${page} (keyset)${total}, ${meta.count} rows`;
    prev.disabled = state.cursors.length === 0;
    next.disabled = !meta.next;
  } else {
    $("#page-info").textContent =
      `Page ${meta.current} of ${formatNumber(meta.pages)} · ${formatNumber(meta.totalCount)} events`;
    prev.disabled = !(meta.current > 1);
    next.disabled = !(meta.current < meta.pages);
  }
  $("#pager").dataset.page = keyset ? String(state.cursors.length + 1) : String(meta.current ?? "");
}

/** Pages are the form's own `page` field (or the cursor), so the curl shown follows. */
function turnPage(delta) {
  const meta = state.last?.body?.meta ?? {};
  if ("next" in meta) {
    if (delta > 0 && meta.next) {
      state.cursors.push(state.cursor);
      state.cursor = meta.next;
    } else if (delta < 0 && state.cursors.length) {
      state.cursor = state.cursors.pop();
    } else return;
  } else {
    $("#page").value = String(Math.max(1, (meta.current ?? 1) + delta));
  }
  execute("run");
}

// ---- Explain

/** A server started with `--explain false` refuses with a 400 naming only `explain`. */
function explainRefused({ response, body }) {
  return response.status === 400 && body?.details?.length === 1 && body.details[0].param === "explain";
}

function showExplainUnavailable(reason) {
  $("#explain-view").hidden = false;
  $("#explain-body").replaceChildren(h("p", { "data-testid": "explain-unavailable" }, reason));
}

function renderExplain(body) {
  if (!Array.isArray(body?.statements)) {
    // A server older than explain ignores the parameter and runs the request.
    showExplainUnavailable("Explain is unavailable here: the server answered with an ordinary response.");
    return;
  }
  $("#explain-view").hidden = false;
  $("#explain-body").replaceChildren(
    h("p", {}, `${body.statements.length} statement(s) for `, h("code", {}, body.dialect ?? "?"), "."),
    ...body.statements.map(statementView),
  );
  $("#explain-view").scrollIntoView({ block: "nearest" });
}

function statementView(statement, i) {
  const params = (statement.params ?? []).map((p, j) =>
    h("tr", {}, h("td", { class: "num" }, String(j + 1)), h("td", {}, p.type), h("td", {}, h("code", {}, JSON.stringify(p.value)))),
  );
  return h(
    "div",
    { class: "statement", "data-testid": "explain-statement", "data-purpose": statement.purpose },
    h("h3", {}, `${i + 1}. ${statement.purpose}`),
    h("h4", {}, "SQL"),
    h("pre", { "data-testid": "explain-sql", tabindex: 0 }, statement.sql ?? ""),
    h("h4", {}, "Parameters"),
    params.length
      ? h("table", { "data-testid": "explain-params" },
          h("thead", {}, h("tr", {}, h("th", { class: "num" }, "#"), h("th", {}, "Type"), h("th", {}, "Value"))),
          h("tbody", {}, params))
      : h("p", { class: "hint" }, "No parameters."),
    h("h4", {}, "Plan"),
    h("pre", { "data-testid": "explain-plan", tabindex: 0 }, statement.plan ?? "(no plan)"),
  );
}

// ---------------------------------------------------------------------------------------
// Wiring

function fillTimezones() {
  const zones = Intl.supportedValuesOf?.("timeZone") ?? [];
  $("#timezones").replaceChildren(...["UTC", ...zones].map((zone) => h("option", { value: zone })));
}

function init() {
  restoreCredentials();
  fillTimezones();
  // A chart of every event works on any data set, so the first Run shows something.
  $('[data-key="name"]', addSeries()).value = "*";
  setEndpoint(endpoint());

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // A new request starts keyset paging over.
    state.cursor = "";
    state.cursors = [];
    execute("run");
  });
  form.addEventListener("change", (event) => {
    if (event.target.name === "endpoint") setEndpoint(endpoint());
    if (event.target.matches("#remember, #client-id, #client-secret")) storeCredentials();
  });
  form.addEventListener("input", (event) => {
    if (event.target.matches("#client-id, #client-secret")) storeCredentials();
    updateCurl();
  });
  form.addEventListener("change", updateCurl);
  form.addEventListener("click", onRowAction);
  $("#add-series").addEventListener("click", () => addSeries().querySelector("input").focus());
  $("#add-breakdown").addEventListener("click", () => addBreakdown().querySelector("input").focus());
  $("#add-event-filter").addEventListener("click", () => addFilter($("#event-filters")).querySelector("input").focus());
  $("#explain").addEventListener("click", () => execute("explain"));
  $("#reveal-secret").addEventListener("change", updateCurl);
  $("#copy-curl").addEventListener("click", copyCurl);
  $("#page-prev").addEventListener("click", () => turnPage(-1));
  $("#page-next").addEventListener("click", () => turnPage(1));
  for (const radio of $$('input[name="chart-style"]')) radio.addEventListener("change", () => state.last && redraw());
  updateCurl();
}

init();
