// import() of a network URL goes through __cb$im; relative and bare specifiers stay as written.
import { a } from "./a.js";
const b = await import("./b.js");
const c = await import('react');
const cdn = await import("https://cdn.test/lib.js");
const other = await import(`//cdn.test/${name}.js`);
const built = await import(base + "x.js");
// import.meta reads through __cb$me: its url (and resolve) read as the real URLs.
const wasm = new URL("./engine.wasm", import.meta.url);
const next = import.meta.resolve("./next.js");
import.meta.hot?.accept();
const chunk = () => import(new URL("./chunk.js", import.meta.url).href);
// Not these: a method named import, new.target, importScripts.
loader.import("x");
function F() { return new.target; }
importScripts("w.js");
