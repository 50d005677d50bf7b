!function(){var e=__cb$loc(location).href;window.__x=e}();
//# sourceMappingURL=bundle.min.js.map
