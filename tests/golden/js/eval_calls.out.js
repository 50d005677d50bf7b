;if(typeof __cb$loc>"u")globalThis.__cb$loc=globalThis.__cb$set=globalThis.__cb$pat=function(v){return v};;if(typeof __cb$rw>"u")globalThis.__cb$rw=function(v){return v};// Direct eval keeps its callee (the identifier `eval`), so it stays direct: local scope kept.
function local(code) { var secret = 1; return eval(__cb$rw(code)); }
eval(__cb$rw(a + b));
(eval)(__cb$rw(c));
(0, eval)(__cb$rw(d));
window.eval(__cb$rw(e)); globalThis.eval(__cb$rw(f)); self.eval(__cb$rw(g));
eval?.(__cb$rw(h));
obj.eval(i);            // someone's own eval method: left alone
eval("1 + 1");          // a literal that cannot need it: left alone
eval(__cb$rw("location.href"));  // a literal that does: rewritten at run time
eval(...parts);         // spread: left alone
eval();
eval(/* why */ __cb$rw(code), 2);
new Function("return location.href");  // the runtime rewrites Function bodies itself
