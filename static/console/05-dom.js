// Small DOM helpers. Lists are updated in place (keyed nodes, text and attributes changed only
// when they differ), so a refresh never takes focus away from what the agent is on.
function $(id) { return document.getElementById(id); }

function el(tag, props, children) {
  var node = document.createElement(tag);
  Object.keys(props || {}).forEach(function (name) {
    if (name === "text") { node.textContent = props.text; }
    else if (name === "class") { node.className = props[name]; }
    else { node.setAttribute(name, props[name]); }
  });
  (children || []).forEach(function (child) { node.appendChild(child); });
  return node;
}

function setText(node, text) {
  if (node.textContent !== text) { node.textContent = text; }
}

function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) { node.setAttribute(name, value); }
}

function show(node, visible) {
  if (node.hidden === !visible) { return; }
  node.hidden = !visible;
}

function visible(node) {
  return !!node && node.isConnected && node.getClientRects().length > 0;
}

// Links drawn as buttons answer Space as buttons do (a plain link takes Enter only).
function linksPressLikeButtons() {
  document.addEventListener("keydown", function (event) {
    var link = event.target.closest ? event.target.closest("a.button") : null;
    if (link && event.key === " ") {
      event.preventDefault();
      link.click();
    }
  });
}
