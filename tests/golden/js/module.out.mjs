;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};;if(typeof __cb$me>"u")globalThis.__cb$me=function(v){return v};import { location as imported } from "./nav.js";
export const here = __cb$loc(location).href;
export { imported };
const u = new URL(__cb$me(import.meta).url, __cb$loc(location).origin);
export default __cb$loc(location);
