import { location as imported } from "./nav.js";
export const here = location.href;
export { imported };
const u = new URL(import.meta.url, location.origin);
export default location;
