;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};;if(typeof __cb$po>"u")globalThis.__cb$po=function(v){return v};// A window's message is delivered only where the target origin names the receiver's origin.
parent.postMessage(data, __cb$po('https://app.example'));
top.postMessage(data, __cb$po(origin), [port]);
frame.contentWindow.postMessage(data, __cb$po({ targetOrigin: origin, transfer: [buf] }));
postMessage(data, __cb$po(document.referrer));
window.postMessage(data, '*');       // any origin: unchanged
window.postMessage(data, '/');       // the sender's own: unchanged
port.postMessage(data, [buf]);       // a port's transfer list: unchanged
worker.postMessage(data);            // no target origin: unchanged
self.postMessage(...args);           // spread: left alone
