/* cobrowse runtime, part s20: element paths, the addresses events travel with.
 *
 * Job: name a node of this document so that the same node is found in another participant's
 * copy of the page (same response, possibly different window size, extensions, timing).
 * A path is a list of steps from the nearest ancestor with a usable id (first step "#id") or
 * from <body> (no "#" step); each step is "tag:n", the n-th (1-based) child element of that tag
 * name; a text node ends the path with "text:n", its n-th text child.
 * Invariants: steps count only same-tag siblings, so an unrelated element of another tag
 * (a banner, an extension's node) does not shift anything; nothing is indexed globally;
 * ids that look generated (digit-heavy, framework ":r1:"-style, not unique) are not anchors;
 * the toolbar's host element is never part of a path nor counted; an unresolvable path gives
 * null, never a wrong guess at another index.
 */
const CB_UI_TAG = 'cobrowse-ui';
const CB_MAX_STEPS = 64; // the server refuses longer paths (sessions/protocol.py)

function cbInUi(node) {
  for (let n = node; n; n = n.parentNode || n.host) {
    if (n.localName === CB_UI_TAG) return true;
  }
  return false;
}

/** An id worth anchoring on: unique here and unlikely to be minted afresh on each load. */
function cbGoodId(el) {
  const id = el.id;
  if (!id || id.length > 64 || /[:\s]/.test(id)) return false;
  const digits = (id.match(/[0-9]/g) || []).length;
  if (digits >= 4 || digits * 3 > id.length) return false;
  return document.getElementById(id) === el;
}

function cbNthOfType(el) {
  let n = 1;
  for (let s = el.previousElementSibling; s; s = s.previousElementSibling) {
    if (s.localName === el.localName && s.localName !== CB_UI_TAG) n += 1;
  }
  return n;
}

function cbNthText(node) {
  let n = 1;
  for (let s = node.previousSibling; s; s = s.previousSibling) if (s.nodeType === 3) n += 1;
  return n;
}

/** The path of an element or text node in this document, or null (body itself, head,
 *  shadow trees, the UI, paths deeper than the protocol allows). */
function cbPathOf(node) {
  return cbTry(() => cbPathOfUnsafe(node), null);
}

function cbPathOfUnsafe(node) {
  if (!node || !node.isConnected || node.ownerDocument !== document || cbInUi(node)) return null;
  const tail = [];
  let el = node;
  if (node.nodeType === 3) {
    tail.push('text:' + cbNthText(node));
    el = node.parentNode;
  }
  const steps = [];
  const body = document.body;
  while (el && el !== body) {
    if (el.nodeType !== 1 || el === document.documentElement) return null;
    if (cbGoodId(el)) { steps.push('#' + el.id); break; }
    steps.push(el.localName + ':' + cbNthOfType(el));
    el = el.parentNode;
  }
  const path = el ? steps.reverse().concat(tail) : [];
  return path.length > 0 && path.length <= CB_MAX_STEPS ? path : null;
}

function cbStepParts(step) {
  const cut = step.lastIndexOf(':');
  if (cut < 1) return null;
  const n = parseInt(step.slice(cut + 1), 10);
  return n >= 1 ? [step.slice(0, cut), n] : null;
}

/** The node a path names here, or null. */
function cbResolve(path) {
  return cbTry(() => cbResolveUnsafe(path), null);
}

function cbResolveUnsafe(path) {
  if (!Array.isArray(path)) return null;
  let node = document.body;
  let i = 0;
  if (typeof path[0] === 'string' && path[0].startsWith('#')) {
    node = document.getElementById(path[0].slice(1));
    i = 1;
  }
  for (; node && i < path.length; i += 1) {
    const parts = typeof path[i] === 'string' ? cbStepParts(path[i]) : null;
    if (!parts) return null;
    const [tag, n] = parts;
    let seen = 0;
    let found = null;
    if (tag === 'text') {
      for (let c = node.firstChild; c && !found; c = c.nextSibling) if (c.nodeType === 3 && ++seen === n) found = c;
    } else {
      for (let c = node.firstElementChild; c && !found; c = c.nextElementSibling) {
        if (c.localName === tag && ++seen === n) found = c;
      }
    }
    node = found;
  }
  return node || null;
}

/** The path as one string: the key of form values in the server's state. */
function cbPathKey(path) {
  return JSON.stringify(path);
}

/** Read a state key back into a path (JSON list, or steps joined by "/", " > " or spaces). */
function cbPathFromKey(key) {
  if (Array.isArray(key)) return key;
  const s = String(key);
  if (s.startsWith('[')) return cbTry(() => JSON.parse(s), null);
  return s.split(/\s*>\s*|\/|\s+/).filter(Boolean);
}

/** Fraction of a point inside an element's box (for clicks and pointers, any window size). */
function cbFractionIn(el, x, y) {
  const r = el.getBoundingClientRect();
  const fx = r.width > 0 ? (x - r.left) / r.width : 0;
  const fy = r.height > 0 ? (y - r.top) / r.height : 0;
  return [Math.round(fx * 1000) / 1000, Math.round(fy * 1000) / 1000];
}

function cbPointIn(el, ox, oy) {
  const r = el.getBoundingClientRect();
  return [r.left + r.width * (Number(ox) || 0), r.top + r.height * (Number(oy) || 0)];
}
