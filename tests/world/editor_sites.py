"""A site with code editors that draw their own text, for co-browsing them in real Chromium.

``editors.test`` serves real editor libraries from installed packages, not copies of them:
- ``/cm5``: CodeMirror 5 as Datasette bundles it (``datasette/static``): a ``<textarea>`` turned
  into an editor that takes input through a hidden textarea it resets by script, reads it on
  ``input`` and by polling, and ignores it unless the editor has focus.
- ``/rich``: a plain contenteditable ``<div>`` (``#doc``; ``window.inputTypes`` lists the
  inputType of each ``input`` it gets, which editors that read the DOM back go by), and a
  model-driven one (``#model``) that handles every ``beforeinput`` itself (prevents it, edits its
  own list of paragraphs, draws them again), as Lexical, Slate and ProseMirror do: it changes
  only on an edit the browser announces.
- ``/context``: an element with an EditContext (how Monaco takes text in Chromium): the browser
  edits no DOM, it hands the text to the EditContext and fires ``textupdate``, from which the
  page keeps its document (``window.model``).

Every request is recorded in the world's ``HitLog``.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from aiohttp import web

from world.hits import HitLog, hit_middleware
from world.pages import static_html
from world.targets import AppFactory

EDITORS = "editors.test"


def _package_dir(name: str) -> Path:
    spec = find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"package {name} is not installed")
    return Path(spec.origin).parent


CM5_STATIC = _package_dir("datasette") / "static"
CM5_SCRIPT = "codemirror-5.57.0.min.js"
CM5_STYLE = "codemirror-5.57.0.min.css"

CM5 = f"""<!doctype html><html><head><meta charset="utf-8"><title>CodeMirror 5</title>
<link rel="stylesheet" href="/static/{CM5_STYLE}">
<script src="/static/{CM5_SCRIPT}"></script></head>
<body><h1 id="title">CodeMirror 5</h1>
<form id="query"><textarea id="sql" name="sql">select * from planets</textarea></form>
<script>
window.editor = CodeMirror.fromTextArea(document.getElementById('sql'), {{ lineNumbers: true }});
</script></body></html>
"""

RICH = """<!doctype html><html><head><meta charset="utf-8"><title>Rich text</title></head>
<body><h1 id="title">Rich text</h1>
<div id="doc" contenteditable="true"><p>first line</p></div>
<div id="model" contenteditable="true"></div>
<script>
window.inputTypes = [];
document.getElementById('doc').addEventListener('input', (e) => inputTypes.push(e.inputType || '(none)'));
// window.paragraphs is the editor's document; the DOM only shows it. The caret is kept as
// [paragraph, offset] and put back after each drawing.
window.paragraphs = ['model'];
const box = document.getElementById('model');
function draw(at) {
  box.replaceChildren(...paragraphs.map((t) => {
    const p = document.createElement('p');
    p.textContent = t;
    return p;
  }));
  const text = box.children[at[0]].firstChild || box.children[at[0]];
  getSelection().setBaseAndExtent(text, at[1], text, at[1]);
}
function caret() {
  const s = getSelection();
  const p = s.focusNode.nodeType === 3 ? s.focusNode.parentNode : s.focusNode;
  return [Math.max(0, Array.prototype.indexOf.call(box.children, p)), s.focusNode.nodeType === 3 ? s.focusOffset : 0];
}
const EDITS = {
  insertText: ([i, o], data) => {
    paragraphs[i] = paragraphs[i].slice(0, o) + data + paragraphs[i].slice(o);
    return [i, o + data.length];
  },
  insertParagraph: ([i, o]) => {
    paragraphs.splice(i + 1, 0, paragraphs[i].slice(o));
    paragraphs[i] = paragraphs[i].slice(0, o);
    return [i + 1, 0];
  },
  deleteContentBackward: ([i, o]) => {
    if (o > 0) {
      paragraphs[i] = paragraphs[i].slice(0, o - 1) + paragraphs[i].slice(o);
      return [i, o - 1];
    }
    if (i === 0) return [i, o];
    const at = paragraphs[i - 1].length;
    paragraphs[i - 1] += paragraphs[i];
    paragraphs.splice(i, 1);
    return [i - 1, at];
  },
};
box.addEventListener('beforeinput', (e) => {
  e.preventDefault();
  const edit = EDITS[e.inputType];
  if (edit) draw(edit(caret(), e.data || ''));
});
draw([0, 0]);
</script>
</body></html>
"""


CONTEXT = """<!doctype html><html><head><meta charset="utf-8"><title>EditContext</title></head>
<body><h1 id="title">EditContext</h1>
<div id="ctx" tabindex="0"></div>
<script>
// window.model is the editor's document, kept from textupdate events only (as Monaco keeps its own).
window.model = 'context';
const el = document.getElementById('ctx');
const ctx = new EditContext({ text: model, selectionStart: model.length, selectionEnd: model.length });
el.editContext = ctx;
ctx.addEventListener('textupdate', (e) => {
  model = model.slice(0, e.updateRangeStart) + e.text + model.slice(e.updateRangeEnd);
  el.textContent = model;
});
el.textContent = model;
</script></body></html>
"""


def editor_site(log: HitLog, host: str = EDITORS) -> web.Application:
    app = web.Application(middlewares=[hit_middleware(log, host)])
    app.router.add_get("/cm5", static_html(CM5))
    app.router.add_get("/rich", static_html(RICH))
    app.router.add_get("/context", static_html(CONTEXT))
    app.router.add_static("/static/", CM5_STATIC)
    return app


EDITOR_APPS: dict[str, AppFactory] = {EDITORS: editor_site}
