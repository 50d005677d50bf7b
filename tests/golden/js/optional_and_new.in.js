// Optional chains keep short-circuiting; `new` keeps its callee; callees and operands stay.
a?.location.href;
a?.location["href"];
a?.location;
w?.location?.href;
new a.location.Ctor();
new location.constructor();
obj.location();
obj.location`tagged`;
delete obj.location;
obj.location++;
for (x.location in y);
for (const k in location) k;
