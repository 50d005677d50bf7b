;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};// Local bindings named `location` are not the global: left alone.
function f(location) { return location.href; }
const g = (location) => location.x;
const h = location => location.y;
function k({ location }) { return location; }
function m() { var location = 1; return location + 1; }
function n() { return __cb$loc(location).href; }
{ let location = {}; location.z; }
__cb$loc(location).afterBlock;
try { x(); } catch (location) { location.message; }
(function location() { return location; });
class C { location = 1; location() { return __cb$loc(this.location); } static location = 2; #location; }
const o = { location: 1, location() {}, get location() { return 1; } };
