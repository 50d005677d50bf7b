/* cobrowse runtime, part 05: safe patching helpers.
 *
 * Job: replace a method, accessor or constructor so that our mapping runs first and the
 * native always runs after it.
 * Invariants: the helpers themselves never throw (a patch that cannot be made is skipped);
 * an exception inside our mapping is swallowed and the native runs with the
 * page's original arguments (the runtime must never break a page); exceptions from the
 * native itself reach the page unchanged; prototypes are kept so `instanceof` holds.
 */
let cbErrors = 0;

function cbReport(err) {
  // Count, and say it once: a noisy console would itself change what some pages do.
  cbErrors += 1;
  if (cbErrors === 1) {
    try { console.debug('[cobrowse] runtime fallback to native:', err); } catch (e) { /* ignore */ }
  }
}

function cbTry(fn, fallback) {
  try { return fn(); } catch (e) { cbReport(e); return fallback; }
}

/** Wrap obj[name]; mapArgs(args) returns new arguments (or undefined to keep them). */
function cbPatchMethod(obj, name, mapArgs, mapResult) {
  return cbTry(() => cbPatchMethodUnsafe(obj, name, mapArgs, mapResult), null);
}

function cbPatchMethodUnsafe(obj, name, mapArgs, mapResult) {
  const d = obj && Object.getOwnPropertyDescriptor(obj, name);
  if (!d || typeof d.value !== 'function' || !(d.configurable || d.writable)) return null;
  const native = d.value;
  const wrapper = {
    [name](...args) {
      let mapped = args;
      try { mapped = mapArgs ? mapArgs.call(this, args) || args : args; } catch (e) { cbReport(e); mapped = args; }
      const result = native.apply(this, mapped);
      return mapResult ? cbTry(() => mapResult.call(this, result, args), result) : result;
    },
  }[name];
  cbTry(() => Object.defineProperty(wrapper, 'length', { value: native.length }));
  Object.defineProperty(obj, name, { ...d, value: wrapper });
  return native;
}

/** Wrap an accessor: get(v) maps what the native getter returned, set(v) maps what is stored. */
function cbPatchAccessor(obj, name, get, set) {
  return cbTry(() => cbPatchAccessorUnsafe(obj, name, get, set), null);
}

function cbPatchAccessorUnsafe(obj, name, get, set) {
  const d = obj && Object.getOwnPropertyDescriptor(obj, name);
  if (!d || !d.configurable || (!d.get && !d.set)) return null;
  const nd = { configurable: true, enumerable: d.enumerable };
  if (d.get) {
    nd.get = get
      ? function () { const v = d.get.call(this); return cbTry(() => get.call(this, v), v); }
      : d.get;
  }
  if (d.set) {
    nd.set = set
      ? function (v) { d.set.call(this, cbTry(() => set.call(this, v), v)); }
      : d.set;
  }
  Object.defineProperty(obj, name, nd);
  return d;
}

/** Replace window[name], a constructor, by one that maps its arguments first. */
function cbPatchCtor(name, mapArgs) {
  return cbTry(() => cbPatchCtorUnsafe(name, mapArgs), null);
}

function cbPatchCtorUnsafe(name, mapArgs) {
  const d = Object.getOwnPropertyDescriptor(window, name);
  const Native = d && d.value;
  if (typeof Native !== 'function' || !(d.configurable || d.writable)) return null;
  const Wrapped = function (...args) {
    if (!new.target) return Native.apply(this, args); // the native throws its own TypeError
    let mapped = args;
    try { mapped = mapArgs(args) || args; } catch (e) { cbReport(e); mapped = args; }
    return Reflect.construct(Native, mapped, new.target === Wrapped ? Native : new.target);
  };
  Wrapped.prototype = Native.prototype;
  Object.setPrototypeOf(Wrapped, Native); // static members such as WebSocket.OPEN
  cbTry(() => Object.defineProperty(Wrapped, 'name', { value: name }));
  cbTry(() => Object.defineProperty(Wrapped, 'length', { value: Native.length }));
  cbTry(() => Object.defineProperty(Native.prototype, 'constructor', {
    value: Wrapped, writable: true, configurable: true, enumerable: false,
  }));
  Object.defineProperty(window, name, { ...d, value: Wrapped });
  return Native;
}

/** Map one argument in place when the mapping changes it (keeps URL objects etc. otherwise). */
function cbMapArg(args, index, fn) {
  if (args.length <= index || args[index] === undefined || args[index] === null) return args;
  const before = String(args[index]);
  const after = fn(before);
  if (after === before) return args;
  const out = Array.prototype.slice.call(args);
  out[index] = after;
  return out;
}
