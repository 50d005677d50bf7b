!function(){var e=location.href;window.__x=e}();
//# sourceMappingURL=bundle.min.js.map
