// newsindex search page. The URL holds the whole state (shareable; Back works); every change of state
// is a pushState followed by render(), which reads the URL and asks the JSON API for what it shows.
"use strict";

const PAGE_SIZE = 10;
const $ = (id) => document.getElementById(id);
const numberFormat = new Intl.NumberFormat("en");
let generation = 0; // answers to an older render are dropped
let toFirstHit = false; // after "Next" (or another page): scroll to the first new hit and focus it
// Search options beyond the filters: in the URL as in the API (`match=any`, `fuzzy=1` …), off by default.
const OPTIONS = ["fuzzy", "expand", "all_versions"];

// -- state <-> URL -----------------------------------------------------------------------------------

function readState(search = location.search) {
  const params = new URLSearchParams(search);
  return {
    q: params.get("q") || "",
    from: params.get("from") || "",
    to: params.get("to") || "",
    bylines: params.getAll("bylines").filter(Boolean),
    location: params.get("location") || "",
    source: params.get("source") || "",
    sort: params.get("sort") || "relevance",
    page: Math.max(1, parseInt(params.get("page") || "1", 10) || 1),
    plain: params.get("plain") === "1",
    match: params.get("match") === "any" ? "any" : "all",
    ...Object.fromEntries(OPTIONS.map((name) => [name, params.get(name) === "1"])),
    story: params.get("story") || "",
  };
}

function stateQuery(state) {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  if (state.from) params.set("from", state.from);
  if (state.to) params.set("to", state.to);
  for (const name of state.bylines) params.append("bylines", name);
  if (state.location) params.set("location", state.location);
  if (state.source) params.set("source", state.source);
  if (state.sort && state.sort !== "relevance") params.set("sort", state.sort);
  if (state.page > 1) params.set("page", String(state.page));
  if (state.plain) params.set("plain", "1");
  if (state.match === "any") params.set("match", "any");
  for (const name of OPTIONS) if (state[name]) params.set(name, "1");
  if (state.story) params.set("story", state.story);
  const text = params.toString();
  return text ? "?" + text : location.pathname;
}

function hasSearch(state) {
  return Boolean(state.q.trim() || state.from || state.to || state.bylines.length || state.location || state.source);
}

function go(changes, { replace = false } = {}) {
  const state = { ...readState(), ...changes };
  const url = stateQuery(state);
  if (url === location.search || (url === location.pathname && !location.search)) {
    render();
    return;
  }
  history[replace ? "replaceState" : "pushState"](null, "", url);
  render();
}

function linkTo(changes) {
  return stateQuery({ ...readState(), ...changes });
}

// Internal links carry real hrefs (open in a new tab works); a plain click stays in the page.
function onInternalClick(event) {
  const link = event.target.closest("a[data-internal]");
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  if (link.dataset.back === "1" && history.state && history.state.fromResults) {
    history.back();
    return;
  }
  const fromResults = link.dataset.story === "1";
  toFirstHit = link.dataset.pager === "1";
  history.pushState(fromResults ? { fromResults: true } : null, "", link.getAttribute("href"));
  render();
}

// -- API ---------------------------------------------------------------------------------------------

async function api(path, params) {
  const url = params ? `${path}?${params}` : path;
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    throw new Error(`the server answered ${response.status} without JSON`);
  }
  if (!response.ok) throw new Error(body && body.message ? body.message : `the server answered ${response.status}`);
  return body;
}

function searchParams(state, extra = {}) {
  const params = new URLSearchParams();
  params.set("q", state.q);
  if (state.from) params.set("from", state.from);
  if (state.to) params.set("to", state.to);
  for (const name of state.bylines) params.append("bylines", name);
  if (state.location) params.set("location", state.location);
  if (state.source) params.set("source", state.source);
  if (state.plain) params.set("plain", "1");
  if (state.match === "any") params.set("match", "any");
  if (state.fuzzy) params.set("fuzzy", "1");
  for (const [key, value] of Object.entries(extra)) {
    if (Array.isArray(value)) for (const item of value) params.append(key, item);
    else params.set(key, value);
  }
  return params;
}

// -- rendering ---------------------------------------------------------------------------------------

async function render() {
  const state = readState();
  const mine = ++generation;
  fillForm(state);
  renderActiveFilters(state);
  showMessage("");
  if (state.story) {
    await renderStory(state, mine);
    return;
  }
  $("story").hidden = true;
  $("results").hidden = false;
  $("refine").hidden = false;
  document.title = state.q ? `${state.q} · newsindex` : "newsindex";
  $("results").setAttribute("aria-busy", "true");
  try {
    if (hasSearch(state)) {
      const options = { sort: state.sort, page: String(state.page), limit: String(PAGE_SIZE), facet: ["bylines", "location", "source", "year"], timeline: "auto" };
      if (state.expand) options.expand = "1";
      if (state.all_versions) options.all_versions = "1";
      const params = searchParams(state, options);
      const results = await api("/api/search", params);
      if (mine !== generation) return;
      renderResults(state, results);
      renderFacets(state, results.facets, results.facets_exact ? "" :
        `Counts over the best ${numberFormat.format(results.facets_counted)} of ${numberFormat.format(results.total)} stories.`);
      renderTimeline(results.timeline);
      if (toFirstHit) showFirstHit();
    } else {
      const stats = await api("/api/stats", "top=10");
      if (mine !== generation) return;
      renderLanding(stats);
    }
  } catch (error) {
    if (mine !== generation) return;
    clearResults();
    showMessage(`Error: ${error.message}`);
  } finally {
    if (mine === generation) {
      $("results").removeAttribute("aria-busy");
      toFirstHit = false;
    }
  }
}

// The first hit of the page in view, its link focused: where a reader goes on from "Next".
function showFirstHit() {
  const link = $("hits").querySelector(".hit h2 a");
  if (!link) return;
  link.focus({ preventScroll: true });
  link.closest(".hit").scrollIntoView({ block: "start" });
}

function fillForm(state) {
  if (document.activeElement !== $("q") || $("q").value.trim() !== state.q.trim()) $("q").value = state.q;
  $("from").value = asDateInput(state.from, false);
  $("to").value = asDateInput(state.to, true);
  $("sort").value = state.sort;
  $("plain").checked = state.plain;
  $("match").value = state.match;
  for (const name of OPTIONS) $(name).checked = state[name];
}

// A date input shows whole days; a URL may hold a year or a month (`from=2019`, `to=2019-10`).
function asDateInput(value, isEnd) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  if (/^\d{4}$/.test(value)) return isEnd ? `${value}-12-31` : `${value}-01-01`;
  const month = /^(\d{4})-(\d{2})$/.exec(value);
  if (month) {
    if (!isEnd) return `${value}-01`;
    const last = new Date(Date.UTC(Number(month[1]), Number(month[2]), 0)).getUTCDate();
    return `${value}-${String(last).padStart(2, "0")}`;
  }
  return "";
}

function periodRange(period) {
  return { from: asDateInput(period, false), to: asDateInput(period, true) };
}

function showMessage(text) {
  $("message").hidden = !text;
  $("message").textContent = text;
}

function clearResults() {
  $("results-status").textContent = "";
  $("suggestion").hidden = true;
  $("notes").hidden = true;
  $("hits").replaceChildren();
  $("pager").replaceChildren();
  $("timeline").hidden = true;
  $("facets").replaceChildren();
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function internalLink(href, text, extra = {}) {
  return el("a", { href, "data-internal": "", text, ...extra });
}

// The snippet is an HTML fragment from our server: escaped text with <mark> around matches. Rebuild
// it from text nodes and <mark>s only, so nothing else can ever reach the page.
function markedText(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  const fragment = document.createDocumentFragment();
  for (const node of template.content.childNodes) {
    if (node.nodeName === "MARK") fragment.append(el("mark", { text: node.textContent }));
    else fragment.append(document.createTextNode(node.textContent));
  }
  return fragment;
}

function metaLine(item) {
  const parts = [];
  const line = el("p", { class: "meta" });
  line.append(el("span", { class: "date", text: item.published ? item.published.slice(0, 10) : "undated" }));
  const place = [item.location, item.region].filter(Boolean).join(", ");
  for (const value of [place, (item.bylines || []).join(", "), item.source]) if (value) parts.push(value);
  if (parts.length) line.append(" · " + parts.join(" · "));
  return line;
}

function renderResults(state, results) {
  const hits = $("hits");
  hits.replaceChildren();
  const first = (results.page - 1) * results.limit + 1;
  const count = results.hits.length;  // the total counts duplicate groups, one hit each
  let status;
  if (results.total === 0) status = "No stories matched.";
  else if (results.hits.length === 0) status = `No stories on page ${results.page}; ${numberFormat.format(results.total)} in all.`;
  else status = `Stories ${numberFormat.format(first)}–${numberFormat.format(first + count - 1)} of ${numberFormat.format(results.total)}`;
  // "no story has every word; showing stories with some": the counts are of those
  if (results.message) status = `${results.message.charAt(0).toUpperCase()}${results.message.slice(1)}. ${status}`;
  $("results-status").textContent = `${status} · ${Math.round(results.took_ms)} ms`;
  renderSuggestion(results.suggestion);
  $("notes").hidden = !(results.notes && results.notes.length);
  $("notes").textContent = (results.notes || []).join("; ");
  for (const hit of results.hits) {
    const item = el("li", { class: "hit" });
    item.append(metaLine(hit));
    item.append(el("h2", {}, internalLink(linkTo({ story: hit.id }), hit.headline || hit.lead, { dataset: { story: "1" } })));
    item.append(el("p", { class: "snippet" }, markedText(hit.snippet)));
    if (hit.versions && hit.versions.length) {
      const n = hit.versions.length;
      const list = el("ul");
      for (const version of hit.versions) {
        const label = [version.published ? version.published.slice(0, 10) : "undated", version.location, version.source].filter(Boolean).join(" · ");
        list.append(el("li", {}, internalLink(linkTo({ story: version.id }), `${label} (${version.id})`, { dataset: { story: "1" } })));
      }
      item.append(el("details", { class: "versions" }, el("summary", { text: `+${n} similar version${n === 1 ? "" : "s"}` }), list));
    }
    item.append(el("p", { class: "id", text: `id: ${hit.id}` }));
    hits.append(item);
  }
  renderPager(results);
}

// "Did you mean": one click runs the corrected query (the same filters, first page); Back returns.
function renderSuggestion(suggestion) {
  const box = $("suggestion");
  box.hidden = !suggestion;
  if (!suggestion) return;
  const link = $("suggestion-link");
  link.textContent = suggestion;
  link.setAttribute("href", linkTo({ q: suggestion, page: 1, story: "" }));
}

function renderPager(results) {
  const pager = $("pager");
  pager.replaceChildren();
  const pages = results.pages;
  if (pages <= 1) return;
  const current = results.page;
  const link = (page, text, label) => internalLink(linkTo({ page, story: "" }), text, { "aria-label": label || `Page ${page}`, dataset: { pager: "1" } });
  if (current > 1) pager.append(link(current - 1, "← Previous", "Previous page"));
  const shown = new Set([1, pages, current - 2, current - 1, current, current + 1, current + 2]);
  let last = 0;
  for (let page = 1; page <= pages; page++) {
    if (!shown.has(page)) continue;
    if (page - last > 1) pager.append(el("span", { class: "gap", text: "…", "aria-hidden": "true" }));
    if (page === current) pager.append(el("span", { "aria-current": "page", text: String(page) }));
    else pager.append(link(page, String(page)));
    last = page;
  }
  if (current < pages) pager.append(link(current + 1, "Next →", "Next page"));
}

// The facets as the API names them (and `newsindex search --facet`).
const FACET_TITLES = { bylines: "Bylines", location: "Locations", source: "Sources", year: "Years" };

function renderFacets(state, facets, note) {
  const nav = $("facets");
  nav.replaceChildren();
  if (!facets) return;
  for (const name of Object.keys(FACET_TITLES)) {
    const values = facets[name] || [];
    if (!values.length) continue;
    const list = el("ul", { class: "facet-list", "aria-label": FACET_TITLES[name] });
    const shown = name === "year" ? values.filter((value) => value.stories > 0).reverse() : values;
    for (const value of shown) {
      const pressed = isActive(state, name, value.name);
      const button = el("button", { type: "button", "aria-pressed": String(pressed), dataset: { facet: name, value: value.name } },
        el("span", { class: "name", text: value.name }),
        el("span", { class: "count", text: numberFormat.format(value.stories) }));
      list.append(el("li", {}, button));
    }
    nav.append(el("h2", { text: FACET_TITLES[name] }), list);
  }
  if (note) nav.append(el("p", { class: "facet-note", text: note }));
}

function isActive(state, facet, value) {
  if (facet === "bylines") return state.bylines.includes(value);
  if (facet === "location") return state.location === value;
  if (facet === "source") return state.source === value;
  const range = periodRange(value);
  return asDateInput(state.from, false) === range.from && asDateInput(state.to, true) === range.to;
}

function onFacetClick(event) {
  const button = event.target.closest("button[data-facet]");
  if (!button) return;
  const state = readState();
  const { facet, value } = button.dataset;
  const on = button.getAttribute("aria-pressed") !== "true";
  const changes = { page: 1, story: "" };
  if (facet === "bylines") changes.bylines = on ? [...state.bylines, value] : state.bylines.filter((name) => name !== value);
  else if (facet === "location") changes.location = on ? value : "";
  else if (facet === "source") changes.source = on ? value : "";
  else Object.assign(changes, on ? periodRange(value) : { from: "", to: "" });
  go(changes);
}

function renderActiveFilters(state) {
  const box = $("active");
  box.replaceChildren();
  const chip = (label, changes) => {
    const remove = el("button", { type: "button", "aria-label": `Remove filter ${label}`, text: "×" });
    remove.addEventListener("click", () => go({ ...changes, page: 1, story: "" }));
    box.append(el("span", { class: "chip" }, el("span", { text: label }), remove));
  };
  for (const name of state.bylines) chip(`by ${name}`, { bylines: state.bylines.filter((other) => other !== name) });
  if (state.location) chip(`in ${state.location}`, { location: "" });
  if (state.source) chip(`from ${state.source}`, { source: "" });
  if (state.from || state.to) chip(`${state.from || "…"} to ${state.to || "…"}`, { from: "", to: "" });
}

function renderTimeline(timeline) {
  const figure = $("timeline");
  const buckets = timeline.buckets || [];
  if (buckets.length < 2) {
    figure.hidden = true;
    return;
  }
  figure.hidden = false;
  const unit = { year: "year", month: "month", day: "day" }[timeline.by];
  const counted = timeline.exact ? "" : ` (the best ${numberFormat.format(timeline.counted)} of ${numberFormat.format(timeline.total)})`;
  $("timeline-caption").textContent = `Matching stories per ${unit}${counted}; click a bar to narrow the dates`;
  const ns = "http://www.w3.org/2000/svg";
  const svg = (tag, attributes = {}) => {
    const node = document.createElementNS(ns, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    return node;
  };
  // Drawn at the size it is shown (no stretching), so the labels keep their shape on a phone.
  const width = Math.max(280, Math.round($("timeline-chart").clientWidth) || 1000), height = 112, top = 14, bottom = 18;
  const peak = Math.max(...buckets.map((bucket) => bucket.stories), 1);
  const step = width / buckets.length;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": `Stories per ${unit}` });
  buckets.forEach((bucket, i) => {
    const h = bucket.stories ? Math.max(1.5, ((height - top - bottom) * bucket.stories) / peak) : 0;
    const link = svg("a", { href: linkTo({ ...periodRange(bucket.period), page: 1, story: "" }), "data-internal": "", "aria-label": `${bucket.period}: ${bucket.stories} stories` });
    const hit = svg("rect", { x: i * step, y: 0, width: step, height: height - bottom, fill: "transparent" });
    const bar = svg("rect", { class: "bar", x: i * step + step * 0.1, y: height - bottom - h, width: Math.max(step * 0.8, 0.5), height: h });
    const title = svg("title");
    title.textContent = `${bucket.period}: ${numberFormat.format(bucket.stories)} ${bucket.stories === 1 ? "story" : "stories"}`;
    link.append(title, hit, bar);
    chart.append(link);
  });
  const label = (x, anchor, text) => {
    const node = svg("text", { x, y: height - 4, "text-anchor": anchor });
    node.textContent = text;
    chart.append(node);
  };
  label(2, "start", buckets[0].period);
  label(width - 2, "end", buckets[buckets.length - 1].period);
  // Ticks in between: each year (of a chart by month) or month (by day), thinned to about eight.
  const ticks = buckets
    .map((bucket, i) => ({ i, text: timeline.by === "year" ? bucket.period : bucket.period.endsWith("-01") ? bucket.period.slice(0, -3) : "" }))
    .filter((tick) => tick.text && tick.i > 0 && tick.i < buckets.length - 1 && tick.i * step > 60 && (buckets.length - tick.i) * step > 60);
  const every = Math.max(1, Math.ceil(ticks.length / Math.max(1, Math.floor(width / 110))));
  ticks.forEach((tick, n) => { if (n % every === 0) label(tick.i * step + step / 2, "middle", tick.text); });
  const peakLabel = svg("text", { x: 2, y: 11 });
  peakLabel.textContent = `max ${numberFormat.format(peak)}`;
  chart.append(peakLabel);
  $("timeline-chart").replaceChildren(chart);
}

function renderLanding(stats) {
  clearResults();
  const span = stats.first_published ? ` from ${stats.first_published} to ${stats.last_published}` : "";
  $("results-status").textContent = `${numberFormat.format(stats.stories)} ${stats.stories === 1 ? "story" : "stories"}${span}. Search them, or start from a byline, place, source or year.`;
  const toFacet = (values) => values.map((value) => ({ name: value.name, stories: value.stories }));
  renderFacets(readState(), {
    bylines: toFacet(stats.top_bylines),
    location: toFacet(stats.top_locations),
    source: toFacet(stats.top_sources),
    year: Object.entries(stats.years).map(([name, stories]) => ({ name, stories })),
  }, "");
  const years = Object.entries(stats.years).map(([period, stories]) => ({ period, stories }));
  renderTimeline({ by: "year", exact: true, counted: stats.stories, total: stats.stories, buckets: years });
  const examples = el("ul");
  const samples = [];
  if (stats.top_locations[0]) samples.push(`location:"${stats.top_locations[0].name}"`);
  if (stats.top_bylines[0]) samples.push(`byline:"${stats.top_bylines[0].name}"`);
  for (const sample of samples) examples.append(el("li", {}, internalLink(linkTo({ q: sample, page: 1 }), sample)));
  const landing = el("li", { class: "landing" }, el("h2", { text: "Try" }), examples);
  if (samples.length) $("hits").append(landing);
}

async function renderStory(state, mine) {
  $("results").hidden = true;
  $("refine").hidden = true;
  const article = $("story");
  article.hidden = false;
  const back = $("story-back");
  back.setAttribute("href", linkTo({ story: "" }));
  back.setAttribute("data-internal", "");
  back.dataset.back = "1";
  back.textContent = hasSearch(state) ? "← Back to results" : "← Back";
  $("story-title").textContent = "Loading…";
  $("story-meta").replaceChildren();
  $("story-body").replaceChildren();
  $("story-credits").replaceChildren();
  $("similar").replaceChildren();
  $("story-id").textContent = state.story;
  try {
    const [story, similar] = await Promise.all([
      api(`/api/stories/${encodeURIComponent(state.story).replaceAll("%2F", "/")}`),
      api(`/api/similar/${encodeURIComponent(state.story).replaceAll("%2F", "/")}`, "limit=5"),
    ]);
    if (mine !== generation) return;
    document.title = `${story.headline || story.lead} · newsindex`;
    $("story-meta").replaceWith(Object.assign(metaLine(story), { id: "story-meta" }));
    $("story-title").textContent = story.headline || story.lead;
    const paragraphs = story.body.split(/\n\s*\n/).map((text) => text.trim()).filter(Boolean);
    $("story-body").replaceChildren(...paragraphs.map((text) => el("p", { text })));
    const credits = $("story-credits");
    for (const [role, names] of Object.entries(story.credits || {})) credits.append(el("dt", { text: role }), el("dd", { text: names.join(", ") }));
    for (const [label, values] of [["Topics", story.topics], ["Places", story.places], ["Organisations", story.orgs], ["People", story.people]]) {
      if (values && values.length) credits.append(el("dt", { text: label }), el("dd", { text: values.join(", ") }));
    }
    const list = $("similar");
    for (const hit of similar.hits) {
      const item = el("li");
      item.append(internalLink(linkTo({ story: hit.id }), hit.headline || hit.lead, { dataset: { story: "1" } }));
      item.append(metaLine(hit));
      list.append(item);
    }
    if (!similar.hits.length) list.append(el("li", { text: "No similar stories found." }));
    $("story-title").focus({ preventScroll: true });
    window.scrollTo(0, 0);
  } catch (error) {
    if (mine !== generation) return;
    $("story-title").textContent = "Story not available";
    showMessage(`Error: ${error.message}`);
    $("results").hidden = false;
    $("hits").replaceChildren();
    $("pager").replaceChildren();
    $("results-status").textContent = "";
    $("timeline").hidden = true;
  }
}

// -- events ------------------------------------------------------------------------------------------

function formChanges() {
  return {
    q: $("q").value.trim(),
    from: $("from").value,
    to: $("to").value,
    sort: $("sort").value,
    plain: $("plain").checked,
    match: $("match").value,
    ...Object.fromEntries(OPTIONS.map((name) => [name, $(name).checked])),
    page: 1,
    story: "",
  };
}

function toggleSyntax(open) {
  const panel = $("syntax");
  panel.hidden = !open;
  $("syntax-toggle").setAttribute("aria-expanded", String(open));
  if (open) panel.querySelector(".example").focus();
}

function setUp() {
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    go(formChanges());
  });
  for (const id of ["from", "to", "sort", "match", "plain", ...OPTIONS]) $(id).addEventListener("change", () => go(formChanges()));
  // From the search box, ↓ goes to the first result (type, Enter, ↓, Enter: the story); ↑/↓ move between results.
  $("q").addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" || event.altKey || event.ctrlKey || event.metaKey) return;
    const first = $("hits").querySelector(".hit h2 a");
    if (!first) return;
    event.preventDefault();
    first.focus();
  });
  $("hits").addEventListener("keydown", (event) => {
    if (!["ArrowDown", "ArrowUp"].includes(event.key) || !event.target.matches(".hit h2 a")) return;
    const links = [...$("hits").querySelectorAll(".hit h2 a")];
    const at = links.indexOf(event.target) + (event.key === "ArrowDown" ? 1 : -1);
    event.preventDefault();
    if (at < 0) $("q").focus();
    else if (at < links.length) links[at].focus();
  });
  $("syntax-toggle").addEventListener("click", () => toggleSyntax($("syntax").hidden));
  $("syntax-close").addEventListener("click", () => {
    toggleSyntax(false);
    $("syntax-toggle").focus();
  });
  $("syntax").addEventListener("click", (event) => {
    const example = event.target.closest(".example");
    if (!example) return;
    toggleSyntax(false);
    $("q").value = example.textContent;
    go({ ...formChanges(), plain: false });
    $("q").focus();
  });
  $("home").addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState(null, "", location.pathname);
    render();
  });
  $("facets").addEventListener("click", onFacetClick);
  document.addEventListener("click", onInternalClick);
  window.addEventListener("popstate", render);
  document.addEventListener("keydown", (event) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      $("q").focus();
      $("q").select();
    } else if (event.key === "Escape") {
      if (!$("syntax").hidden) {
        toggleSyntax(false);
        $("syntax-toggle").focus();
      } else if (readState().story) {
        $("story-back").click();
      }
    }
  });
  const wide = window.matchMedia("(min-width: 761px)");
  const syncRefine = () => { $("refine").open = wide.matches; };
  wide.addEventListener("change", syncRefine);
  syncRefine();
  render();
}

document.addEventListener("DOMContentLoaded", setUp);
