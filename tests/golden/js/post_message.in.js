// A window's message is delivered only where the target origin names the receiver's origin.
parent.postMessage(data, 'https://app.example');
top.postMessage(data, origin, [port]);
frame.contentWindow.postMessage(data, { targetOrigin: origin, transfer: [buf] });
postMessage(data, document.referrer);
window.postMessage(data, '*');       // any origin: unchanged
window.postMessage(data, '/');       // the sender's own: unchanged
port.postMessage(data, [buf]);       // a port's transfer list: unchanged
worker.postMessage(data);            // no target origin: unchanged
self.postMessage(...args);           // spread: left alone
