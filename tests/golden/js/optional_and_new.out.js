;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};// Optional chains keep short-circuiting; `new` keeps its callee; callees and operands stay.
__cb$loc(a?.location)?.href;
__cb$loc(a?.location)?.["href"];
__cb$loc(a?.location);
__cb$loc(w?.location)?.href;
new (__cb$loc(a.location)).Ctor();
new (__cb$loc(location)).constructor();
obj.location();
obj.location`tagged`;
delete obj.location;
obj.location++;
for (x.location in y);
for (const k in location) k;
