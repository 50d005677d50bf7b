;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};import { location as imported } from "./nav.js";
export const here = __cb$loc(location).href;
export { imported };
const u = new URL(import.meta.url, __cb$loc(location).origin);
export default __cb$loc(location);
