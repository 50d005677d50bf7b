;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};!function(){var e=__cb$loc(location).href;window.__x=e}();
//# sourceMappingURL=bundle.min.js.map
