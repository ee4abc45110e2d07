// The backward page (tinygrad_mnist/viz/page.py): steps through the records of one backward pass.
// A step is the seed, an op's visit (what it received, what it sends each input) or a leaf's .grad.
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const nodes = Object.fromEntries(data.graph.nodes.map(n => [n.key, n]));
const opOf = Object.fromEntries(data.graph.nodes.filter(n => n.kind === "op").map(n => [n.output, n]));
const inputsOf = {};
for (const e of data.graph.edges) (inputsOf[e.to] = inputsOf[e.to] || []).push(e.from);

// Steps: each a list of record indices; a visit takes the constant and sent records that follow it.
const steps = [];
data.records.forEach((r, i) => {
  if (r.kind === "constant" || r.kind === "sent") steps[steps.length - 1].push(i);
  else steps.push([i]);
});
let current = 0;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function colour(v, scale) {  // negative blue, positive red, white at zero
  const t = scale > 0 ? 0.65 * Math.min(1, Math.abs(v) / scale) : 0;  // light enough to read the number on
  const c = Math.round(255 * (1 - t));
  return v < 0 ? `rgb(${c},${c},255)` : `rgb(255,${c},${c})`;
}

function matrix(s) {  // a small gradient, all its values, coloured by sign
  if (!s.values || s.shape.length > 2) return document.createTextNode("");
  const cols = s.shape.length === 2 ? s.shape[1] : Math.max(s.values.length, 1);
  const scale = Math.max(...s.values.map(v => Math.abs(Number(v)) || 0), 0);
  const table = el("table", {class: "matrix"});
  for (let i = 0; i < s.values.length; i += cols) {
    const row = el("tr");
    for (const v of s.values.slice(i, i + cols)) {
      const td = el("td", {}, Number(v).toPrecision(3));
      td.style.background = colour(Number(v), scale);
      row.append(td);
    }
    table.append(row);
  }
  return table;
}

function images(s) {  // rows of 784: each a 28×28 image of the weight gradient for that row (class)
  const box = el("div", {class: "images"});
  if (!s.values || s.shape.length !== 2 || s.shape[1] !== 784) return box;
  const scale = Math.max(...s.values.map(v => Math.abs(Number(v)) || 0), 0);
  for (let r = 0; r < s.shape[0]; r++) {
    const canvas = el("canvas", {width: 28, height: 28, title: `row ${r}`});
    canvas.style.width = canvas.style.height = "56px";
    const ctx = canvas.getContext("2d");
    for (let p = 0; p < 784; p++) {
      ctx.fillStyle = colour(Number(s.values[r * 784 + p]), scale);
      ctx.fillRect(p % 28, Math.floor(p / 28), 1, 1);
    }
    box.append(canvas);
  }
  return box;
}

function stats(s, cls, id) {  // a gradient: as the trace prints it, its norm, min and max, and its values when few
  const norm = el("span", id ? {class: cls, id} : {class: cls}, s.norm_text);
  return el("div", {class: "stats"}, `${s.text}`, el("br"), "norm ", norm, `, min ${s.min_text}, max ${s.max_text}`,
            matrix(s));
}

function panelFor(records) {
  const r = data.records[records[0]];
  const panel = [];
  if (r.kind === "start") {
    panel.push(el("h2", {}, "backward from ", el("span", {id: "step-node"}, r.node)),
               el("p", {}, `seeded with d${r.node}/d${r.node} = `, el("span", {id: "received-norm"}, r.seed.norm_text)),
               el("p", {}, "Then each op, from the loss back to the leaves, in reverse topological order."));
  } else if (r.kind === "visit") {
    const op = opOf[r.key];
    const names = (inputsOf[op.key] || []).map(k => nodes[k].name).join(", ");
    panel.push(el("h2", {}, el("span", {id: "step-node"}, r.node), ` = ${r.op}(${names})`),
               el("p", {class: "derivative"}, "local derivative: ", op.derivative),
               el("div", {class: "received"}, "received ", stats(r.received, "received-norm", "received-norm")));
    for (const i of records.slice(1)) {
      const s = data.records[i];
      if (s.kind === "constant") {
        panel.push(el("div", {class: "constant", "data-input": s.input}, `${s.input}: no gradient (a constant)`));
        continue;
      }
      const box = el("div", {class: "sent", "data-input": s.input}, `→ ${s.input}: `, stats(s.grad, "sent-norm"));
      if (s.unbroadcast) {
        const u = s.unbroadcast;
        box.append(el("p", {class: "unbroadcast"}, `un-broadcast: summed [${u.from.join(", ")}] to [${u.to.join(", ")}]` +
                      ` (over axis ${u.axes.join(", ")}): the input was broadcast there, so its gradient is the sum over its copies`));
      }
      if (s.adds) box.append(el("p", {class: "adds"}, "added to the gradient from its other use"));
      panel.push(box);
    }
  } else {
    panel.push(el("h2", {}, el("span", {id: "step-node"}, r.node), ` leaf [${r.shape.join(", ")}]`),
               el("div", {class: "leafgrad"}, ".grad += ", stats(r.grad, "received-norm", "received-norm")),
               el("p", {}, ".grad now: norm ", el("span", {class: "total-norm"}, r.total.norm_text)), images(r.total));
  }
  return panel;
}

function keysOf(r) {  // the graph nodes a record's step lights up
  if (r.kind === "visit") return [opOf[r.key].key, r.key];
  return [r.key];
}

function show(n) {
  current = Math.max(0, Math.min(steps.length - 1, n));
  const records = steps[current];
  const first = data.records[records[0]];
  document.getElementById("counter").textContent = `step ${current} of ${steps.length - 1}`;
  document.getElementById("panel").replaceChildren(...panelFor(records));
  const lit = new Set(keysOf(first));
  const done = new Set();
  for (const step of steps.slice(0, current)) for (const k of keysOf(data.records[step[0]])) done.add(k);
  document.querySelectorAll(".node").forEach(g => {
    g.classList.toggle("current", lit.has(g.dataset.key));
    g.classList.toggle("done", done.has(g.dataset.key));
  });
  const op = first.kind === "visit" ? opOf[first.key].key : null;
  document.querySelectorAll(".edge").forEach(p => p.classList.toggle("current", op !== null && p.dataset.to === op));
  const badges = {};
  for (const step of steps.slice(0, current + 1)) {
    const r = data.records[step[0]];
    if (r.kind === "leaf") badges[r.key] = r.total.norm_text;
  }
  document.querySelectorAll(".badge").forEach(b => {
    const key = b.parentNode.dataset.key;
    b.textContent = key in badges ? `.grad ‖${badges[key]}‖` : "";
  });
  document.querySelectorAll("#trace .line").forEach(l => l.classList.toggle("current", Number(l.dataset.step) === current));
  const node = document.querySelector(".node.current"), pane = document.getElementById("graph");
  if (node) {  // keep the node in view in the graph's pane
    const r = node.getBoundingClientRect(), box = pane.getBoundingClientRect();
    if (r.top < box.top || r.bottom > box.bottom) pane.scrollTop += r.top - box.top - box.height / 3;
  }
  const line = document.querySelector("#trace .line.current");  // scroll the trace pane only, not the page
  if (line) trace.scrollTop = line.offsetTop - trace.offsetTop - trace.clientHeight / 3;
}

const trace = document.getElementById("trace");
steps.forEach((records, s) => {
  for (const i of records) for (const text of data.lines[i]) trace.append(el("div", {class: "line", "data-step": s}, text));
});
trace.addEventListener("click", e => { if (e.target.dataset.step) show(Number(e.target.dataset.step)); });
document.querySelectorAll(".node").forEach(g => g.addEventListener("click", () => {
  const s = steps.findIndex(records => keysOf(data.records[records[0]]).includes(g.dataset.key));
  if (s >= 0) show(s);
}));
document.getElementById("first").onclick = () => show(0);
document.getElementById("prev").onclick = () => show(current - 1);
document.getElementById("next").onclick = () => show(current + 1);
document.getElementById("last").onclick = () => show(steps.length - 1);
document.addEventListener("keydown", e => {
  const to = {ArrowRight: current + 1, ArrowDown: current + 1, ArrowLeft: current - 1, ArrowUp: current - 1,
              Home: 0, End: steps.length - 1}[e.key];
  if (to !== undefined) { e.preventDefault(); show(to); }
});
if (steps.length) show(0);
else document.getElementById("counter").textContent = "no backward pass recorded";
