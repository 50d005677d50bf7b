;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};// Inside `with`, reads are still safe to wrap (non-Location values pass through); bare writes
// are left to the runtime's navigate fallback since `location` may name the object's own.
with (scope) {
  __cb$loc(location).href;
  location = "/x";
  __cb$loc(location).hash = "#y";
}
