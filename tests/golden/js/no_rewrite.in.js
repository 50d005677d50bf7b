// Mentions that are not references: strings, comments, regexps, labels, keys, private names.
var s = "location", t = 'window.location', u = `location`;
/* location.href */ // location
var r = /location\.href/g;
var o = { location: 1 };
o.locationX; o.xlocation; relocation(); locations.push(1);
class D { #location = 1; get l() { return this.#location; } }
//# sourceMappingURL=no_rewrite.js.map
