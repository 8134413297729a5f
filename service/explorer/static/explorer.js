// The events explorer: reads the API on this origin and draws the list, the map (SVG,
// equirectangular projection written here), the timeline (from /v1/events/facets) and one
// event with its sources and revisions. No writes. The page's state is its query string.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 960, H = 480;
  const KEY_STORE = "events-explorer-key";
  const MAP_PAGES = 5; // at most 500 points on the map
  // Filters whose values are alternatives (repeated parameters).
  const MULTI = ["type", "certainty", "source_kind", "location_precision"];
  const LISTS = ["country"];
  const TEXT = ["q", "actor", "date_from", "date_to", "bbox"];
  const FILTERS = [...TEXT, ...MULTI, ...LISTS];
  const PIN_PRECISIONS = ["exact", "near", "town"];

  const $ = (id) => document.getElementById(id);
  const form = $("search");
  let nextCursor = null;
  // Each render's number: answers for an older render (the address changed meanwhile) are
  // dropped instead of drawn over the newer ones.
  let generation = 0;
  class Stale extends Error {}
  const current = (mine) => {
    if (mine !== generation) throw new Stale();
  };

  // --- helpers --------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    return node;
  }
  const project = (lon, lat) => [((lon + 180) / 360) * W, ((90 - lat) / 180) * H];
  const unproject = (x, y) => [(x / W) * 360 - 180, 90 - (y / H) * 180];
  const round = (n, d) => Math.round(n * 10 ** d) / 10 ** d;
  const clamp = (n, lo, hi) => Math.min(hi, Math.max(lo, n));
  const words = (s) => String(s).replace(/_/g, " ");
  const number = (n) => Number(n).toLocaleString("en-US");

  function message(text) {
    $("message").textContent = text || "";
  }

  // --- the API ------------------------------------------------------------------------
  class KeyNeeded extends Error {}

  async function api(path) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = "Bearer " + key;
    const response = await fetch(path, { headers, credentials: "omit" });
    if (response.status === 401) {
      $("key-panel").hidden = false;
      if (key) sessionStorage.removeItem(KEY_STORE);
      throw new KeyNeeded(key ? "That key was refused; enter another." : "An API key is needed.");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const fields = body.errors
        ? " " + Object.entries(body.errors).map(([f, m]) => `${f}: ${[].concat(m).join(" ")}`).join("; ")
        : "";
      throw new Error(`${body.title || response.status}: ${body.detail || ""}${fields}`);
    }
    return body;
  }

  // --- state: the query string <-> the form -------------------------------------------
  function stateFromUrl() {
    return new URLSearchParams(location.search);
  }
  function fillForm(params) {
    for (const name of TEXT) form.elements[name].value = params.get(name) || "";
    for (const name of LISTS) form.elements[name].value = params.getAll(name).join(", ");
    for (const name of MULTI) {
      const wanted = new Set(params.getAll(name));
      for (const option of form.elements[name].options) option.selected = wanted.has(option.value);
    }
  }
  function paramsFromForm() {
    const params = new URLSearchParams();
    for (const name of TEXT) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    for (const name of LISTS) {
      for (const value of form.elements[name].value.split(/[\s,]+/)) {
        if (value) params.append(name, value.toUpperCase());
      }
    }
    for (const name of MULTI) {
      for (const option of form.elements[name].selectedOptions) params.append(name, option.value);
    }
    return params;
  }
  function filtersOf(params) {
    const filters = new URLSearchParams();
    for (const [name, value] of params) if (FILTERS.includes(name)) filters.append(name, value);
    return filters;
  }
  function go(params, replace) {
    const url = "/explore" + (params.toString() ? "?" + params : "");
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    render();
  }

  // --- the map ------------------------------------------------------------------------
  // The atlas is not cut at the antimeridian (d3-geo would cut it): a ring crossing it is
  // unwrapped to continuous longitudes and drawn again one world to the left or right (the
  // SVG clips what falls outside); a ring around a pole (Antarctica) is closed along it.
  function unwrap(ring) {
    const out = [];
    let shift = 0;
    for (let i = 0; i < ring.length; i++) {
      const [lon, lat] = ring[i];
      if (i > 0) {
        const step = lon + shift - out[i - 1][0];
        if (step > 180) shift -= 360;
        else if (step < -180) shift += 360;
      }
      out.push([lon + shift, lat]);
    }
    const span = out[out.length - 1][0] - out[0][0];
    if (Math.abs(span) >= 180) {
      const pole = out.reduce((sum, [, lat]) => sum + lat, 0) < 0 ? -90 : 90;
      out.push([out[out.length - 1][0], pole], [out[0][0], pole]);
    }
    return out;
  }
  function ringPath(ring) {
    const points = unwrap(ring);
    const lons = points.map(([lon]) => lon);
    const shifts = [0];
    if (Math.min(...lons) < -180) shifts.push(360);
    if (Math.max(...lons) > 180) shifts.push(-360);
    return shifts
      .map((by) => "M" + points.map(([lon, lat]) => project(lon + by, lat).map((n) => round(n, 1)).join(",")).join("L") + "Z")
      .join("");
  }
  async function drawCountries() {
    const atlas = await fetch($("explorer-script").dataset.atlas).then((r) => r.json());
    const countries = topojson.feature(atlas, atlas.objects.countries).features;
    const group = $("countries");
    for (const country of countries) {
      const g = country.geometry;
      if (!g) continue;
      const polygons = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
      const d = polygons.map((rings) => rings.map(ringPath).join("")).join("");
      const path = svg("path", { d });
      path.append(Object.assign(svg("title"), { textContent: country.properties.name }));
      group.append(path);
    }
  }

  function drawPoints(events, total) {
    const group = $("points");
    group.replaceChildren();
    const countryOnly = {};
    let drawn = 0;
    for (const event of events) {
      const loc = event.location || {};
      if (loc.precision === "country" || typeof loc.lat !== "number" || typeof loc.lon !== "number") {
        if (loc.precision === "country") {
          const name = loc.country || loc.name;
          countryOnly[name] = (countryOnly[name] || 0) + 1;
        }
        continue;
      }
      const [x, y] = project(loc.lon, loc.lat);
      const precision = loc.precision || "unstated";
      const region = precision === "region";
      const pin = svg("circle", {
        cx: round(x, 1),
        cy: round(y, 1),
        r: region ? 12 : precision === "town" ? 4.5 : 4,
        class: `pin ${PIN_PRECISIONS.includes(precision) || region ? precision : "exact"}`,
        tabindex: "0",
        role: "link",
        "data-id": event.id,
        "data-precision": precision,
        "aria-label": `${event.title} (${loc.name || ""}, precision ${precision})`,
      });
      pin.append(Object.assign(svg("title"), { textContent: `${event.title} — ${loc.name || ""} (${precision})` }));
      const open = () => go(withEvent(event.id));
      pin.addEventListener("click", open);
      pin.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          open();
        }
      });
      group.append(pin);
      drawn++;
    }
    const shown = events.length < total ? ` (the first ${number(events.length)} of ${number(total)})` : "";
    $("map-summary").textContent = `${number(drawn)} event${drawn === 1 ? "" : "s"} drawn on the map${shown}.`;
    const names = Object.entries(countryOnly);
    $("country-only").textContent = names.length
      ? "Located only to a country: " + names.map(([c, n]) => `${c} (${n})`).join(", ") + "."
      : "";
  }

  async function loadMap(filters, total, mine) {
    const events = [];
    let cursor = null;
    for (let page = 0; page < MAP_PAGES; page++) {
      const params = new URLSearchParams(filters);
      params.set("limit", "100");
      if (cursor) params.set("cursor", cursor);
      const body = await api("/v1/events?" + params);
      current(mine);
      events.push(...body.items);
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    drawPoints(events, total);
  }

  // Dragging a box on the map searches it (bbox).
  function svgPoint(e) {
    const box = $("map").getBoundingClientRect();
    return [clamp(((e.clientX - box.left) / box.width) * W, 0, W), clamp(((e.clientY - box.top) / box.height) * H, 0, H)];
  }
  function enableDrag() {
    const map = $("map"), rect = $("drag");
    let start = null;
    map.addEventListener("pointerdown", (e) => {
      if (e.button !== 0 || e.target.classList.contains("pin")) return;
      start = svgPoint(e);
      map.setPointerCapture(e.pointerId);
      e.preventDefault();
    });
    map.addEventListener("pointermove", (e) => {
      if (!start) return;
      const [x, y] = svgPoint(e);
      rect.setAttribute("x", Math.min(x, start[0]));
      rect.setAttribute("y", Math.min(y, start[1]));
      rect.setAttribute("width", Math.abs(x - start[0]));
      rect.setAttribute("height", Math.abs(y - start[1]));
      rect.removeAttribute("hidden");
    });
    map.addEventListener("pointerup", (e) => {
      if (!start) return;
      const end = svgPoint(e);
      const from = start;
      start = null;
      rect.setAttribute("hidden", "");
      if (Math.abs(end[0] - from[0]) < 4 || Math.abs(end[1] - from[1]) < 4) return; // a click
      const [lon1, lat1] = unproject(Math.min(from[0], end[0]), Math.max(from[1], end[1]));
      const [lon2, lat2] = unproject(Math.max(from[0], end[0]), Math.min(from[1], end[1]));
      form.elements.bbox.value = [lon1, lat1, lon2, lat2].map((n) => round(n, 2)).join(",");
      go(paramsFromForm());
    });
  }

  // --- the timeline -------------------------------------------------------------------
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function monthLabel(key) {
    const open = key.startsWith("../");
    const [year, month] = key.replace("../", "").split("-");
    const text = month ? `${MONTHS[Number(month) - 1]} ${year}` : `${year} (year only)`;
    return open ? `by ${text}` : text;
  }
  function drawTimeline(months) {
    const list = $("timeline");
    list.replaceChildren();
    const keys = Object.keys(months).sort((a, b) => {
      const ka = a.replace("../", ""), kb = b.replace("../", "");
      return ka === kb ? (a.startsWith("../") ? 1 : -1) : ka < kb ? -1 : 1;
    });
    const most = Math.max(1, ...Object.values(months));
    for (const key of keys) {
      const count = months[key];
      const label = monthLabel(key);
      const button = el("button", { type: "button", title: `Search ${label}`, text: label });
      button.addEventListener("click", () => {
        const bare = key.replace("../", "");
        const params = paramsFromForm();
        params.set("date_from", key.startsWith("../") ? "1000" : bare);
        params.set("date_to", bare);
        if (key.startsWith("../")) params.set("date_basis", "on_or_before");
        go(params);
      });
      const meter = el("meter", { min: 0, max: most, value: count, "aria-label": `${label}: ${count}` });
      list.append(el("li", { "data-month": key, "data-count": count }, button, meter, el("span", { class: "n", text: count })));
    }
    if (!keys.length) list.append(el("li", { text: "No events." }));
  }

  // --- the list -----------------------------------------------------------------------
  function withEvent(id) {
    const params = stateFromUrl();
    params.set("event", id);
    return params;
  }
  function dateText(event) {
    let text = event.date_basis === "on_or_before" ? `on or before ${event.date}` : event.date;
    if (event.end_date) text += ` – ${event.end_date}`;
    return text;
  }
  function listItem(event) {
    const link = el("a", { href: "/explore?" + withEvent(event.id), "data-id": event.id, text: event.title });
    link.addEventListener("click", (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey) return;
      e.preventDefault();
      go(withEvent(event.id));
    });
    const loc = event.location || {};
    const where = loc.name ? `${loc.name}${loc.country ? ", " + loc.country : ""}${loc.precision ? ` (${loc.precision})` : ""}` : "";
    const meta = [words(event.type), dateText(event), where, event.certainty].filter(Boolean).join(" · ");
    return el("li", { "data-id": event.id }, link, el("span", { class: "meta", text: meta }));
  }
  async function loadList(filters, cursor, mine) {
    const params = new URLSearchParams(filters);
    const limit = stateFromUrl().get("limit"); // the page size, when the address gives one
    if (limit) params.set("limit", limit);
    if (cursor) params.set("cursor", cursor);
    const body = await api("/v1/events?" + params);
    if (mine !== undefined) current(mine);
    const list = $("list");
    if (!cursor) list.replaceChildren();
    for (const event of body.items) list.append(listItem(event));
    nextCursor = body.next_cursor;
    $("more").hidden = !nextCursor;
    return body.items.length;
  }

  // --- one event ----------------------------------------------------------------------
  // A Quantity as the source hedged it.
  function isQuantity(v) {
    return v && typeof v === "object" && !Array.isArray(v) && "unit" in v && ("value" in v || "min" in v || "max" in v);
  }
  function quantity(q) {
    const unit = q.unit ? " " + q.unit : "";
    let text;
    if ("min" in q && "max" in q) text = `${number(q.min)}–${number(q.max)}`;
    else if ("min" in q) text = `at least ${number(q.min)}`;
    else if ("max" in q) text = `at most ${number(q.max)}`;
    if ("value" in q) {
      const value = (q.approximate ? "around " : "") + number(q.value);
      text = text ? `${value} (within ${text})` : value;
    } else if (q.approximate) {
      text = "around " + text;
    }
    return text + unit + (q.note ? ` — ${q.note}` : "");
  }
  function valueNode(v) {
    if (isQuantity(v)) return el("span", { class: "quantity", text: quantity(v) });
    if (Array.isArray(v)) {
      if (v.every((x) => typeof x !== "object")) return document.createTextNode(v.map(words).join("; "));
      return el("ul", {}, ...v.map((x) => el("li", {}, valueNode(x))));
    }
    if (v && typeof v === "object") return facts(v);
    return document.createTextNode(typeof v === "boolean" ? (v ? "yes" : "no") : String(v));
  }
  function facts(obj) {
    const dl = el("dl", { class: "facts" });
    for (const [name, value] of Object.entries(obj)) {
      if (value === null || value === undefined) continue;
      dl.append(el("dt", { text: words(name) }), el("dd", {}, valueNode(value)));
    }
    return dl;
  }
  function link(l) {
    return typeof l === "string" ? l : `${l.name}${l.kind ? ` (${words(l.kind)})` : ""}`;
  }
  function sourceItem(s) {
    const head = `${s.publisher}${s.kind ? ` (${words(s.kind)})` : ""}`;
    const chain = (s.attributed_to || []).map(link);
    const li = el("li", { class: "source" }, el("strong", { text: head }));
    if (chain.length) li.append(el("span", { class: "chain", text: " citing " + chain.join(" ← ") }));
    const extra = [s.published ? `published ${s.published}` : null, s.title, s.language].filter(Boolean);
    if (extra.length) li.append(el("span", { class: "meta", text: " · " + extra.join(" · ") }));
    if (s.quote) li.append(el("blockquote", { text: s.quote }));
    if (s.url) li.append(" ", el("span", { class: "meta", text: s.url }));
    return li;
  }
  function actorText(a) {
    const about = [a.title, a.role && words(a.role), a.country].filter(Boolean).join(", ");
    return about ? `${a.name} (${about})` : a.name;
  }

  // Flatten an event to path -> JSON text, for a field-by-field diff.
  function flatten(value, path, out) {
    if (value && typeof value === "object" && !(Array.isArray(value) && value.every((x) => typeof x !== "object"))) {
      const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
      if (!entries.length) out[path] = JSON.stringify(value);
      for (const [k, v] of entries) flatten(v, path ? `${path}.${k}` : String(k), out);
    } else {
      out[path] = JSON.stringify(value);
    }
    return out;
  }
  function showDiff(revisions) {
    const from = Number($("diff-from").value), to = Number($("diff-to").value);
    const a = revisions.find((r) => r.version === from), b = revisions.find((r) => r.version === to);
    const table = $("diff"), body = table.tBodies[0];
    body.replaceChildren();
    if (!a || !b) return;
    const skip = new Set(["version", "updated_at"]);
    const before = flatten(a.event, "", {}), after = flatten(b.event, "", {});
    const paths = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    let changes = 0;
    for (const path of paths) {
      if (skip.has(path) || before[path] === after[path]) continue;
      changes++;
      body.append(
        el("tr", { "data-path": path },
          el("th", { scope: "row", text: path }),
          el("td", { class: path in before ? "removed" : null, text: before[path] ?? "—" }),
          el("td", { class: path in after ? "added" : null, text: after[path] ?? "—" })),
      );
    }
    $("diff-caption").textContent = `Version ${from} → version ${to}: ${changes} field${changes === 1 ? "" : "s"} changed`;
    table.hidden = false;
  }
  function drawRevisions(revisions) {
    const list = $("revisions");
    list.replaceChildren(
      ...revisions.map((r) =>
        el("li", { "data-version": r.version }, `Version ${r.version}: ${r.operation}, ${r.recorded_at}` + (r.written_by ? ` by ${r.written_by}` : " (by a management command)")),
      ),
    );
    const diffForm = $("diff-form");
    diffForm.hidden = revisions.length < 2;
    $("diff").hidden = true;
    if (revisions.length < 2) return;
    for (const [id, pick] of [["diff-from", revisions.length - 2], ["diff-to", revisions.length - 1]]) {
      const select = $(id);
      select.replaceChildren(...revisions.map((r) => el("option", { value: r.version, text: `version ${r.version}` })));
      select.selectedIndex = pick;
      select.onchange = () => showDiff(revisions);
    }
    showDiff(revisions);
  }
  async function showEvent(id, mine) {
    const event = await api(`/v1/events/${encodeURIComponent(id)}`);
    current(mine);
    $("event-title").textContent = event.title;
    const loc = event.location || {};
    const body = $("event-body");
    const summary = {
      kind: words(event.type),
      date: dateText(event),
      certainty: event.certainty,
      where: loc.name ? [loc.name, loc.region, loc.country].filter(Boolean).join(", ") + (loc.precision ? ` (precision: ${loc.precision})` : "") : null,
      coordinates: typeof loc.lat === "number" ? `${loc.lat}, ${loc.lon}` : null,
      actors: (event.actors || []).map(actorText),
      tags: event.tags,
    };
    body.replaceChildren(el("p", { text: event.summary || "" }), facts(summary));
    if (event.details && Object.keys(event.details).length) body.append(el("h3", { text: "Details" }), facts(event.details));
    $("event-sources").replaceChildren(...(event.sources || []).map(sourceItem));
    const back = new URLSearchParams(location.search);
    back.delete("event");
    $("back").href = "/explore" + (back.toString() ? "?" + back : "");
    $("event").hidden = false;
    $("event").focus();
    const revisions = await api(`/v1/events/${encodeURIComponent(id)}/revisions`);
    current(mine);
    drawRevisions(revisions.items);
  }

  // --- putting it together ------------------------------------------------------------
  async function render() {
    const mine = ++generation;
    const params = stateFromUrl();
    fillForm(params);
    message("");
    const filters = filtersOf(params);
    const eventId = params.get("event");
    $("event").hidden = !eventId;
    $("results").hidden = Boolean(eventId);
    try {
      if (eventId) await showEvent(eventId, mine);
      const facets = await api("/v1/events/facets?" + filters);
      current(mine);
      $("count").textContent = `${number(facets.total)} event${facets.total === 1 ? "" : "s"} match.`;
      drawTimeline(facets.month);
      await Promise.all([eventId ? null : loadList(filters, null, mine), loadMap(filters, facets.total, mine)]);
      document.body.dataset.ready = "true";
    } catch (error) {
      if (error instanceof Stale) return;
      message(error.message);
      document.body.dataset.ready = "error";
    }
  }

  async function start() {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      go(paramsFromForm());
    });
    $("reset").addEventListener("click", () => go(new URLSearchParams()));
    $("more").addEventListener("click", async () => {
      try {
        const before = $("list").children.length;
        await loadList(filtersOf(stateFromUrl()), nextCursor);
        $("list").children[before]?.querySelector("a")?.focus();
      } catch (error) {
        message(error.message);
      }
    });
    $("back").addEventListener("click", (e) => {
      e.preventDefault();
      const params = stateFromUrl();
      params.delete("event");
      go(params);
      $("results").focus();
    });
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      sessionStorage.setItem(KEY_STORE, $("key").value.trim());
      $("key").value = "";
      $("key-panel").hidden = true;
      render();
    });
    window.addEventListener("popstate", render);
    enableDrag();
    try {
      await drawCountries();
    } catch (error) {
      message("The world map could not be drawn: " + error.message);
    }
    await render();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
