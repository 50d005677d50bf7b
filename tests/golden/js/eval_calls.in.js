// Direct eval keeps its callee (the identifier `eval`), so it stays direct: local scope kept.
function local(code) { var secret = 1; return eval(code); }
eval(a + b);
(eval)(c);
(0, eval)(d);
window.eval(e); globalThis.eval(f); self.eval(g);
eval?.(h);
obj.eval(i);            // someone's own eval method: left alone
eval("1 + 1");          // a literal that cannot need it: left alone
eval("location.href");  // a literal that does: rewritten at run time
eval(...parts);         // spread: left alone
eval();
eval(/* why */ code, 2);
new Function("return location.href");  // the runtime rewrites Function bodies itself
