// The explorer page, driven in Chromium against a running demo server
// (scripts/browser-test.sh starts one and sets the variables below).
//
// Every expected number comes from the API itself: the test sends the same request
// directly with the credentials and compares what the page drew (data attributes, the
// geometry of the SVG marks, and the visible table text) with that JSON.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

const BASE = required("QUARRY_URL");
const CLIENT_ID = required("QUARRY_CLIENT_ID");
const SECRET = required("QUARRY_CLIENT_SECRET");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = "target/browser-artifacts";
const run = promisify(execFile);

let context;
let page;
let userDataDir;
let range; // { startDate, endDate }: fixed dates around the demo data, so "now" cannot move
const pageProblems = []; // uncaught errors and CSP violations seen by the browser

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run scripts/browser-test.sh`);
  return value;
}

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  userDataDir = await mkdtemp(path.join(tmpdir(), "quarry-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1400, height: 1000 },
    locale: "en-US",
    colorScheme: "light",
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => pageProblems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) pageProblems.push(`CSP: ${message.text()}`);
  });
  // Fourteen days ending on the newest demo event's day.
  const latest = await api("events", { limit: "1" });
  const end = latest.data[0].createdAt.slice(0, 10);
  const start = new Date(Date.parse(`${end}T00:00:00Z`) - 13 * 86400000).toISOString().slice(0, 10);
  range = { startDate: start, endDate: end };
});

after(async () => {
  await context?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// Helpers

/** The API's answer to a request sent directly (the test's oracle). */
async function api(endpoint, params, { secret = SECRET } = {}) {
  const url = `${BASE}/export/${endpoint}?${new URLSearchParams(params)}`;
  const response = await fetch(url, { headers: { "openpanel-client-id": CLIENT_ID, "openpanel-client-secret": secret } });
  const body = await response.json();
  return Object.assign(body, { _status: response.status });
}

function strip(body) {
  const { _status, ...rest } = body;
  return rest;
}

async function openPage(endpoint = "charts") {
  await page.goto(BASE);
  await page.fill("#client-id", CLIENT_ID);
  await page.fill("#client-secret", SECRET);
  await page.check(`#endpoint-${endpoint}`);
}

/** Clicks a button and waits until the page has finished the request it starts. */
async function clickAndWait(selector) {
  const before_ = Number((await page.getAttribute("#output", "data-seq")) ?? 0);
  await page.click(selector);
  await page.waitForSelector(`#output[data-seq="${before_ + 1}"]`);
  return page.getAttribute("#output", "data-outcome");
}

async function shot(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Visible text of a number cell ("1,075", "34.44", "+13.2 %") read back as a number. */
function visibleNumber(text) {
  return Number(text.replace(/[^0-9.-]/g, ""));
}

const close = (a, b, what) => assert.ok(Math.abs(a - b) < 0.5, `${what}: drawn at ${a}, expected ${b}`);

// ---------------------------------------------------------------------------------------
// 1. Chart with a breakdown and the previous period

test("a chart with a breakdown and the previous period draws the API's numbers", async () => {
  await openPage("charts");
  await page.fill('[data-testid="series-0-name"]', "screen_view");
  await page.click("#add-breakdown");
  await page.fill('[data-testid="breakdown-0-name"]', "country");
  await page.fill("#start-date", range.startDate);
  await page.fill("#end-date", range.endDate);
  await page.check("#previous");
  await page.fill("#chart-limit", "5");
  assert.equal(await clickAndWait("#run"), "done");

  const expected = await api("charts", {
    events: JSON.stringify([{ name: "screen_view" }]),
    breakdowns: JSON.stringify([{ name: "country" }]),
    startDate: range.startDate,
    endDate: range.endDate,
    previous: "true",
    limit: "5",
  });
  assert.equal(expected._status, 200);
  assert.ok(expected.series.length >= 2, "the demo data should give several countries");
  assert.deepEqual(JSON.parse(await page.textContent("#raw-response")), strip(expected));

  await checkLegend(expected);
  await checkMarks(expected, "lines");
  await shot("chart-lines");
  if (process.env.UPDATE_SCREENSHOT === "1") {
    // The page as a visitor first sees it: from the top, no field focused.
    await page.evaluate(() => {
      document.activeElement?.blur();
      window.scrollTo(0, 0);
    });
    await page.screenshot({ path: "docs/explorer.png" });
  }

  await page.check("#style-bars");
  await page.waitForSelector('[data-testid="chart-svg"][data-style="bars"]');
  await checkMarks(expected, "bars");
  await shot("chart-bars");
});

test("a property segment with decimals, drawn as bars, keeps the API's numbers", async () => {
  await openPage("charts");
  await page.fill('[data-testid="series-0-name"]', "purchase");
  await page.selectOption('[data-testid="series-0-segment"]', "property_average");
  await page.fill('[data-testid="series-0-property"]', "properties.total");
  await page.click("#add-breakdown");
  await page.fill('[data-testid="breakdown-0-name"]', "properties.plan");
  await page.fill("#start-date", range.startDate);
  await page.fill("#end-date", range.endDate);
  await page.selectOption("#interval", "week");
  assert.equal(await clickAndWait("#run"), "done");
  await page.check("#style-bars");
  await page.waitForSelector('[data-testid="chart-svg"][data-style="bars"]');

  const expected = await api("charts", {
    events: JSON.stringify([{ name: "purchase", segment: "property_average", property: "properties.total" }]),
    breakdowns: JSON.stringify([{ name: "properties.plan" }]),
    startDate: range.startDate,
    endDate: range.endDate,
    interval: "week",
  });
  assert.equal(expected._status, 200);
  const values = expected.series.flatMap((s) => s.data.map((p) => p.count));
  assert.ok(values.some((v) => !Number.isInteger(v)), "the demo's purchase totals should average to decimals");
  await checkLegend(expected, false);
  await checkMarks(expected, "bars");
});

async function checkLegend(expected, withPrevious = true) {
  const rows = await page.$$eval('[data-testid="chart-legend"] tbody tr', (trs) =>
    trs.map((tr) => ({
      id: tr.dataset.seriesId,
      names: tr.querySelector("th").textContent.trim(),
      cells: Object.fromEntries(
        [...tr.querySelectorAll("[data-metric]")].map((td) => [td.dataset.metric, [td.dataset.value, td.textContent]]),
      ),
    })),
  );
  assert.deepEqual(rows.map((r) => r.id), expected.series.map((s) => s.id), "series, in the API's order");
  rows.forEach((row, i) => {
    const series = expected.series[i];
    assert.equal(row.names, series.names.join(" · "));
    for (const metric of ["sum", "average", "min", "max"]) {
      const [value, text] = row.cells[metric];
      assert.equal(Number(value), series.metrics[metric], `${series.id} ${metric}`);
      assert.equal(visibleNumber(text), series.metrics[metric], `${series.id} ${metric} as shown`);
    }
    if (!withPrevious) return;
    const previous = series.metrics.previous.sum;
    assert.equal(visibleNumber(row.cells["previous-sum"][1]), previous.value, `${series.id} previous sum`);
    if (previous.diff != null) assert.equal(visibleNumber(row.cells.change[1]), previous.diff, `${series.id} change`);
  });
  const total = await page.$$eval('[data-testid="legend-total"] [data-metric]', (tds) =>
    Object.fromEntries(tds.map((td) => [td.dataset.metric, td.textContent])),
  );
  for (const metric of ["sum", "average", "min", "max"]) {
    assert.equal(visibleNumber(total[metric]), expected.metrics[metric], `total ${metric}`);
  }
}

/** Every point (or bar) of every series and of its previous period, by value and position. */
async function checkMarks(expected, style) {
  const drawn = await page.$eval('[data-testid="chart-svg"]', (svg) => ({
    yMin: Number(svg.dataset.yMin),
    yMax: Number(svg.dataset.yMax),
    top: Number(svg.dataset.plotTop),
    bottom: Number(svg.dataset.plotBottom),
    marks: [...svg.querySelectorAll("[data-series-id][data-index]")].map((el) => ({
      series: el.dataset.seriesId,
      index: Number(el.dataset.index),
      date: el.dataset.date,
      count: Number(el.dataset.count),
      previous: el.classList.contains("previous"),
      tag: el.tagName,
      // The mark's top edge (a bar) or centre (a point), in the SVG's coordinates.
      y: el.tagName === "circle" ? Number(el.getAttribute("cy")) : Number(el.getAttribute("y")),
      height: el.tagName === "rect" ? Number(el.getAttribute("height")) : null,
    })),
  }));
  const position = (v) => drawn.bottom - ((v - drawn.yMin) / (drawn.yMax - drawn.yMin)) * (drawn.bottom - drawn.top);
  for (const series of expected.series) {
    for (const previous of [false, true]) {
      const marks = drawn.marks
        .filter((m) => m.series === series.id && m.previous === previous)
        .sort((a, b) => a.index - b.index);
      const points = series.data.filter((p) => !previous || p.previous);
      assert.equal(marks.length, points.length, `${series.id}: marks drawn (previous: ${previous})`);
      marks.forEach((mark, i) => {
        const point = points[i];
        const value = previous ? point.previous.value : point.count;
        assert.equal(mark.tag, style === "bars" ? "rect" : "circle");
        assert.equal(mark.date, point.date);
        assert.equal(mark.count, value, `${series.id} ${point.date} (previous: ${previous})`);
        assert.ok(drawn.yMin <= value && value <= drawn.yMax, "the axis holds every value");
        if (mark.height == null) {
          close(mark.y, position(value), `${series.id} ${point.date} (previous: ${previous})`);
        } else {
          // A bar spans from the zero line to its value.
          close(Math.min(position(value), position(0)), mark.y, `${series.id} ${point.date} bar top`);
          close(mark.height, Math.abs(position(value) - position(0)), `${series.id} ${point.date} bar height`);
        }
      });
    }
  }
}

// ---------------------------------------------------------------------------------------
// 5. The curl command shown returns what the page got (and explain shows the SQL)

test("the curl command shown returns the JSON the page shows, and explain shows the SQL", async () => {
  await openPage("charts");
  await page.fill('[data-testid="series-0-name"]', "screen_view");
  await page.click('[data-testid="series-0-add-filter"]');
  await page.fill('[data-testid="series-0-filter-0-name"]', "path");
  await page.selectOption('[data-testid="series-0-filter-0-operator"]', "startsWith");
  await page.fill('[data-testid="series-0-filter-0-value"]', "/docs, /pricing");
  await page.click("#add-breakdown");
  await page.fill('[data-testid="breakdown-0-name"]', "browser");
  await page.fill("#start-date", range.startDate);
  await page.fill("#end-date", range.endDate);
  await page.selectOption("#interval", "week");
  assert.equal(await clickAndWait("#run"), "done");
  const shown = JSON.parse(await page.textContent("#raw-response"));
  assert.ok(shown.series.length > 0);

  // Hidden, the secret comes from the environment; shown, it is in the command.
  const hidden = await page.textContent("#curl");
  assert.ok(!hidden.includes(SECRET), "the secret is hidden until asked for");
  const viaEnv = await run("bash", ["-c", hidden], { env: { ...process.env, OPENPANEL_CLIENT_SECRET: SECRET } });
  assert.deepEqual(JSON.parse(viaEnv.stdout), shown);

  await page.check("#reveal-secret");
  const revealed = await page.textContent("#curl");
  assert.ok(revealed.includes(SECRET));
  const literal = await run("bash", ["-c", revealed], { env: { PATH: process.env.PATH } });
  assert.deepEqual(JSON.parse(literal.stdout), shown);

  // Explain: the same request with explain=true. A server without it answers normally,
  // and the page must say so rather than show nothing.
  assert.equal(await clickAndWait("#explain"), "done", await page.textContent("#general-error"));
  const explained = await run("bash", ["-c", revealed.replace("curl -sG", "curl -sG --data-urlencode explain=true")]);
  const plan = JSON.parse(explained.stdout);
  if (Array.isArray(plan.statements)) {
    const sql = await page.$$eval('[data-testid="explain-sql"]', (pres) => pres.map((p) => p.textContent));
    assert.deepEqual(sql, plan.statements.map((s) => s.sql));
    const purposes = await page.$$eval('[data-testid="explain-statement"]', (divs) => divs.map((d) => d.dataset.purpose));
    assert.deepEqual(purposes, plan.statements.map((s) => s.purpose));
    const params = await page.$$eval('[data-testid="explain-params"]', (tables) =>
      tables.map((t) => [...t.querySelectorAll("tbody tr")].map((tr) => [...tr.cells].map((td) => td.textContent))),
    );
    params.forEach((rows, i) => {
      // Timestamps taken from "now" differ between two requests; types and the rest do not.
      const want = plan.statements[i].params.map((p, j) => [String(j + 1), p.type, JSON.stringify(p.value)]);
      assert.deepEqual(rows.map((r) => r.slice(0, 2)), want.map((r) => r.slice(0, 2)));
    });
    assert.ok((await page.textContent('[data-testid="explain-plan"]')).length > 0);
  } else {
    await page.waitForSelector('[data-testid="explain-unavailable"]');
  }
  await shot("explain");
});

// ---------------------------------------------------------------------------------------
// 2. Funnel

test("a funnel draws the API's step counts and percentages", async () => {
  await openPage("funnel");
  await page.fill('[data-testid="series-0-name"]', "session_start");
  await page.fill('[data-testid="series-1-name"]', "sign_up");
  await page.click("#add-series");
  await page.fill('[data-testid="series-2-name"]', "purchase");
  await page.selectOption("#funnel-group", "profile_id");
  await page.fill("#funnel-window", "48");
  await page.fill("#start-date", range.startDate);
  await page.fill("#end-date", range.endDate);
  assert.equal(await clickAndWait("#run"), "done");

  const expected = await api("funnel", {
    events: JSON.stringify([{ name: "session_start" }, { name: "sign_up" }, { name: "purchase" }]),
    startDate: range.startDate,
    endDate: range.endDate,
    funnelWindow: "48",
    funnelGroup: "profile_id",
  });
  assert.equal(expected._status, 200);
  assert.ok(expected.totalSessions > 0 && expected.steps[1].count > 0, "the demo data should convert");
  assert.equal(Number(await page.getAttribute('[data-testid="funnel-summary"]', "data-total")), expected.totalSessions);

  const rows = await page.$$eval('[data-testid="funnel-table"] tbody tr', (trs) =>
    trs.map((tr) => ({
      name: tr.querySelector("th").textContent,
      ...Object.fromEntries([...tr.querySelectorAll("[data-metric]")].map((td) => [td.dataset.metric, td.textContent])),
    })),
  );
  assert.equal(rows.length, expected.steps.length);
  expected.steps.forEach((step, i) => {
    assert.equal(rows[i].name, step.event.displayName);
    for (const key of ["count", "percent", "previousCount", "dropoffCount", "dropoffPercent"]) {
      assert.equal(visibleNumber(rows[i][key]), step[key], `step ${i + 1} ${key}`);
    }
  });

  const bars = await page.$eval('[data-testid="funnel-svg"]', (svg) => ({
    top: Number(svg.dataset.plotTop),
    bottom: Number(svg.dataset.plotBottom),
    bars: [...svg.querySelectorAll("rect[data-step]")].map((r) => ({
      count: Number(r.dataset.count),
      percent: Number(r.dataset.percent),
      height: Number(r.getAttribute("height")),
    })),
  }));
  assert.equal(bars.bars.length, expected.steps.length);
  expected.steps.forEach((step, i) => {
    assert.equal(bars.bars[i].count, step.count);
    assert.equal(bars.bars[i].percent, step.percent);
    close(bars.bars[i].height, (step.count / expected.totalSessions) * (bars.bottom - bars.top), `step ${i + 1} bar`);
  });
  await shot("funnel");
});

// ---------------------------------------------------------------------------------------
// 3. Events, page by page and by cursor

test("the events table shows the API's rows and pages through them", async () => {
  await openPage("events");
  const filters = [{ name: "country", operator: "is", value: ["US", "GB"] }];
  await page.fill("#event-names", "screen_view");
  await page.click("#add-event-filter");
  await page.fill('[data-testid="filter-0-name"]', "country");
  await page.fill('[data-testid="filter-0-value"]', "US, GB");
  await page.fill("#events-limit", "7");
  const query = { event: "screen_view", filters: JSON.stringify(filters), limit: "7" };

  const shownRows = () =>
    page.$$eval('[data-testid="events-table"] tbody tr', (trs) =>
      trs.map((tr) => ({
        id: tr.dataset.id,
        name: tr.querySelector('[data-field="name"]').textContent,
        country: tr.querySelector('[data-field="country"]').textContent,
      })),
    );
  const expectRows = async (expected) => {
    assert.equal(expected._status, 200);
    assert.ok(expected.data.length > 0);
    assert.deepEqual(await shownRows(), expected.data.map((e) => ({ id: e.id, name: e.name, country: e.country })));
  };

  // Offset pages: 1 → 2 → 1.
  assert.equal(await clickAndWait("#run"), "done");
  const first = await api("events", { ...query });
  assert.ok(first.meta.pages >= 2, "enough rows for two pages");
  await expectRows(first);
  assert.match(await page.textContent("#page-info"), new RegExp(`Page 1 of ${first.meta.pages.toLocaleString("en-US")}`));
  assert.ok(await page.isDisabled("#page-prev"));
  assert.equal(await clickAndWait("#page-next"), "done");
  await expectRows(await api("events", { ...query, page: "2" }));
  assert.equal(await page.inputValue("#page"), "2");
  await shot("events");
  assert.equal(await clickAndWait("#page-prev"), "done");
  await expectRows(first);

  // Keyset pages: first → next → back.
  await page.fill("#page", "");
  await page.check("#use-cursor");
  assert.equal(await clickAndWait("#run"), "done");
  const keyset = await api("events", { ...query, cursor: "" });
  await expectRows(keyset);
  assert.ok(keyset.meta.next);
  assert.equal(await clickAndWait("#page-next"), "done");
  await expectRows(await api("events", { ...query, cursor: keyset.meta.next }));
  assert.ok((await page.textContent("#curl")).includes(`cursor=${keyset.meta.next}`), "curl carries the cursor");
  assert.equal(await clickAndWait("#page-prev"), "done");
  await expectRows(keyset);
  assert.ok(await page.isDisabled("#page-prev"));
});

// ---------------------------------------------------------------------------------------
// 4. Errors beside their fields

/** The error shown for `param`, which must sit in the same label as the control it names. */
async function fieldError(param) {
  return page.$eval(`.field-error[data-error-for="${param}"]`, (error) => {
    const label = error.closest("label");
    const control = label?.querySelector("input, select");
    return {
      text: error.textContent,
      param: control?.dataset.param,
      invalid: control?.getAttribute("aria-invalid"),
      describedBy: control?.getAttribute("aria-describedby") ?? "",
      id: error.id,
    };
  });
}

test("a 400's details appear beside the fields they name", async () => {
  await openPage("charts");
  await page.fill('[data-testid="series-0-name"]', "screen_view");
  await page.click("#add-series");
  await page.fill('[data-testid="series-1-name"]', "sign_up");
  await page.click('[data-testid="series-1-add-filter"]');
  await page.fill('[data-testid="series-1-filter-0-name"]', "no_such_field");
  await page.fill('[data-testid="series-1-filter-0-value"]', "x");
  await page.fill("#start-date", "2024-02-30");
  await page.fill("#timezone", "Mars/Olympus_Mons");
  await page.fill("#chart-limit", "0");
  assert.equal(await clickAndWait("#run"), "error");

  const expected = await api("charts", {
    events: JSON.stringify([{ name: "screen_view" }, { name: "sign_up", filters: [{ name: "no_such_field", operator: "is", value: ["x"] }] }]),
    startDate: "2024-02-30",
    limit: "0",
    timezone: "Mars/Olympus_Mons",
  });
  assert.equal(expected._status, 400);
  const params = expected.details.map((d) => d.param).sort();
  assert.deepEqual(params, ["events[1].filters[0].name", "limit", "startDate", "timezone"]);
  for (const detail of expected.details) {
    const shown = await fieldError(detail.param);
    assert.equal(shown.param, detail.param, `${detail.param}: shown beside its own control`);
    assert.equal(shown.text, detail.message);
    assert.equal(shown.invalid, "true");
    assert.ok(shown.describedBy.split(" ").includes(shown.id), "the control is described by its error");
  }
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-invalid")), "true", "focus moves to a field in error");
  assert.ok(await page.isVisible("#general-error"));
  await shot("error");

  // Fixing the request clears the marks.
  await page.fill('[data-testid="series-1-filter-0-name"]', "country");
  await page.fill("#start-date", range.startDate);
  await page.fill("#timezone", "");
  await page.fill("#chart-limit", "");
  assert.equal(await clickAndWait("#run"), "done");
  assert.equal(await page.locator(".field-error").count(), 0);
  assert.ok(await page.isHidden("#general-error"));
});

test("events errors, a request the page cannot send, and 401, 403 and 429 answers are shown where they belong", async () => {
  await openPage("events");
  await page.click("#add-event-filter");
  await page.fill('[data-testid="filter-0-name"]', "country");
  await page.fill('[data-testid="filter-0-value"]', "");
  await page.fill("#events-start", "yesterday-ish");
  assert.equal(await clickAndWait("#run"), "error");
  const expected = await api("events", { start: "yesterday-ish", filters: JSON.stringify([{ name: "country", operator: "is", value: [] }]) });
  assert.equal(expected._status, 400);
  for (const detail of expected.details) {
    const shown = await fieldError(detail.param);
    assert.equal(shown.param, detail.param);
    assert.equal(shown.text, detail.message);
  }

  // Values that look like JSON but are not: caught before sending, beside the field.
  await page.fill('[data-testid="filter-0-value"]', '["US"');
  await page.fill("#events-start", "");
  assert.equal(await clickAndWait("#run"), "invalid");
  assert.equal((await fieldError("filters[0].value")).param, "filters[0].value");

  // A wrong secret: a general error naming the cause, no field blamed.
  await page.fill('[data-testid="filter-0-value"]', "US");
  await page.fill("#client-secret", "sec_wrong");
  assert.equal(await clickAndWait("#run"), "error");
  const unauthorized = await api("events", {}, { secret: "sec_wrong" });
  assert.equal(unauthorized._status, 401);
  assert.ok((await page.textContent("#general-error")).includes(unauthorized.message));
  assert.equal(await page.locator(".field-error").count(), 0);

  // Another project: a 403 in the general area.
  await page.fill("#client-secret", SECRET);
  await page.fill("#project-id", "someone-elses-project");
  assert.equal(await clickAndWait("#run"), "error");
  const forbidden = await api("events", { projectId: "someone-elses-project" });
  assert.equal(forbidden._status, 403);
  assert.ok((await page.textContent("#general-error")).includes(forbidden.message));

  // Rate limited (answered here by the test, not by 100 real requests): says when to retry.
  await page.fill("#project-id", "");
  await page.route("**/export/events?*", (route) =>
    route.fulfill({
      status: 429,
      headers: { "retry-after": "7", "content-type": "application/json" },
      body: JSON.stringify({ error: "Too Many Requests", code: "rate_limited", message: "Rate limit exceeded" }),
    }),
  );
  assert.equal(await clickAndWait("#run"), "error");
  assert.match(await page.textContent("#general-error"), /Rate limit exceeded.*7 s/);
  await page.unrouteAll();
});

test("explain says it is unavailable when a server lacks it or has it switched off", async () => {
  await openPage("charts");
  const answers = [
    // An older server ignores explain=true and runs the request.
    { status: 200, body: strip(await api("charts", { events: JSON.stringify([{ name: "*" }]) })) },
    // A server started with --explain false.
    { status: 400, body: { error: "Bad Request", code: "invalid_parameter", message: "explain is switched off on this server",
      details: [{ param: "explain", message: "explain is switched off on this server" }] } },
  ];
  for (const answer of answers) {
    await page.route("**/export/charts?*explain=true*", (route) =>
      route.fulfill({ status: answer.status, contentType: "application/json", body: JSON.stringify(answer.body) }),
    );
    assert.equal(await clickAndWait("#explain"), "done");
    assert.match(await page.textContent('[data-testid="explain-unavailable"]'), /unavailable/);
    assert.equal(await page.locator(".field-error").count(), 0);
    await page.unrouteAll();
  }
});

test("credentials stay in the tab: session storage only when asked, never a cookie", async () => {
  await page.goto(BASE);
  await page.fill("#client-id", CLIENT_ID);
  await page.fill("#client-secret", SECRET);
  await page.reload();
  assert.equal(await page.inputValue("#client-secret"), "", "not kept unless asked");

  await page.fill("#client-id", CLIENT_ID);
  await page.fill("#client-secret", SECRET);
  await page.check("#remember");
  await page.reload();
  assert.equal(await page.inputValue("#client-id"), CLIENT_ID);
  assert.equal(await page.inputValue("#client-secret"), SECRET);
  assert.deepEqual(await context.cookies(), []);

  await page.uncheck("#remember");
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
});

test("the page links the OpenAPI document", async () => {
  await page.goto(BASE);
  const href = await page.getAttribute("#openapi-link", "href");
  assert.equal(href, "/openapi.json");
  const response = await fetch(new URL(href, BASE));
  assert.equal(response.status, 200);
  await response.json();
});

// Last, so that it covers every page above.
test("the page raised no script errors and broke no Content-Security-Policy rule", () => {
  assert.deepEqual(pageProblems, []);
});
