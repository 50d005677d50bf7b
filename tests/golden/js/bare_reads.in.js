// Free references to the global `location` are read through the runtime.
var host = location.hostname + ":" + location.port;
console.log(location.origin, location.href, location.protocol);
if (typeof location !== "undefined" && location.search) go(location);
const here = `${location.pathname}${location.hash}`;
const all = {location, other: location};
f(...[location]);
label: for (;;) { break label; }
