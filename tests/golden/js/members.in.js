// Any expression's `.location` / `["location"]` goes through __cb$loc; plain objects keep theirs.
window.location.origin;
document.location.host;
self.location.href;
top.location.href;
parent.location.pathname;
frames[0].location.search;
window["location"].hostname;
window['location'].port;
win[`location`].href;
props.location.pathname;
this.location;
a.b().location.c;
x.location.location;
