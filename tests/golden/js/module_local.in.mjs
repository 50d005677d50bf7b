// In a module, a top-level binding named `location` is the module's own.
const location = { href: "x" };
export const h = location.href;
