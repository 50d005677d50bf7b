;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};;if(typeof __cb$im>"u")globalThis.__cb$im=function(v){return v};;if(typeof __cb$me>"u")globalThis.__cb$me=function(v){return v};// import() of a network URL goes through __cb$im; relative and bare specifiers stay as written.
import { a } from "./a.js";
const b = await import("./b.js");
const c = await import('react');
const cdn = await import(__cb$im("https://cdn.test/lib.js"));
const other = await import(__cb$im(`//cdn.test/${name}.js`));
const built = await import(__cb$im(base + "x.js"));
// import.meta reads through __cb$me: its url (and resolve) read as the real URLs.
const wasm = new URL("./engine.wasm", __cb$me(import.meta).url);
const next = __cb$me(import.meta).resolve("./next.js");
__cb$me(import.meta).hot?.accept();
const chunk = () => import(__cb$im(new URL("./chunk.js", __cb$me(import.meta).url).href));
// Not these: a method named import, new.target, importScripts.
loader.import("x");
function F() { return new.target; }
importScripts("w.js");
