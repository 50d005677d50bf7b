;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};// Free references to the global `location` are read through the runtime.
var host = __cb$loc(location).hostname + ":" + __cb$loc(location).port;
console.log(__cb$loc(location).origin, __cb$loc(location).href, __cb$loc(location).protocol);
if (typeof __cb$loc(location) !== "undefined" && __cb$loc(location).search) go(__cb$loc(location));
const here = `${__cb$loc(location).pathname}${__cb$loc(location).hash}`;
const all = {location: __cb$loc(location), other: __cb$loc(location)};
f(...[__cb$loc(location)]);
label: for (;;) { break label; }
