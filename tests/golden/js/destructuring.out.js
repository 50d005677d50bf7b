;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};// Destructuring: from `location` itself, and `location` keyed out of a window or document.
const { hostname, port } = __cb$loc(location);
let { href: where } = __cb$loc(window.location);
const { location: loc } = __cb$pat(window);
const { location } = __cb$pat(document);
var { location: { origin } } = __cb$pat(self);
({ location: other } = __cb$pat(top));
({ location } = window);
[a.location] = [1];
