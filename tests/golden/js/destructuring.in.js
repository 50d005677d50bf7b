// Destructuring: from `location` itself, and `location` keyed out of a window or document.
const { hostname, port } = location;
let { href: where } = window.location;
const { location: loc } = window;
const { location } = document;
var { location: { origin } } = self;
({ location: other } = top);
({ location } = window);
[a.location] = [1];
