import { location as imported } from "./nav.js";
export const here = __cb$loc(location).href;
export { imported };
const u = new URL(import.meta.url, __cb$loc(location).origin);
export default __cb$loc(location);
