;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};// Any expression's `.location` / `["location"]` goes through __cb$loc; plain objects keep theirs.
__cb$loc(window.location).origin;
__cb$loc(document.location).host;
__cb$loc(self.location).href;
__cb$loc(top.location).href;
__cb$loc(parent.location).pathname;
__cb$loc(frames[0].location).search;
__cb$loc(window["location"]).hostname;
__cb$loc(window['location']).port;
__cb$loc(win[`location`]).href;
__cb$loc(props.location).pathname;
__cb$loc(this.location);
__cb$loc(a.b().location).c;
__cb$loc(__cb$loc(x.location).location);
