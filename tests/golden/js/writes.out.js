;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};// Writes: bare `location` through the stand-in's href; `X.location = v` through __cb$set.
__cb$loc(location).href = "/next";
__cb$loc(location).href = "https://example.com/x";
__cb$loc(location).href += "#top";
__cb$loc(location).hash = "#a";
__cb$set(window).location = url;
__cb$set(document).location = url;
__cb$set(top)["location"] = url;
__cb$set(obj).location = { pathname: "/" };
__cb$loc(window.location).href = url;
__cb$loc(location).assign("https://example.com/a");
__cb$loc(location).replace(u);
__cb$loc(location).reload();
