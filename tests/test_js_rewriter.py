"""The JavaScript rewriter (``rewriter/js.py``): golden files, the hot path, failing open,
real scripts, and Hypothesis for "never raises; output parses when input parses".

Golden files are ``tests/golden/js/NAME.in.js`` (classic scripts), ``NAME.in.mjs``
(modules) and ``NAME.in.fnbody`` (function bodies: event-handler attributes, ``javascript:``
code) with the expected ``NAME.out.*`` beside them. Whether output parses is judged by
the same tree-sitter grammar the rewriter uses; the Chromium test in
``tests/test_runtime_location.py`` runs rewritten code for real.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from fuzz import scaled
from hypothesis import example, given, settings
from hypothesis import strategies as st

import rewriter.js as js
from rewriter.body import rewriter_for
from rewriter.html import PageContext, rewrite_html_text
from rewriter.js import PROLOGUE, parses, rewrite_js, rewrite_js_body, rewrite_js_body_bytes, rewrite_js_bytes
from rewriter.space import ProxySpace

P = PROLOGUE.decode()

GOLDEN = Path(__file__).parent / "golden" / "js"


def golden_cases() -> list[str]:
    return sorted(p.name.split(".in.")[0] + "." + p.suffix[1:] for p in GOLDEN.glob("*.in.*"))


def load(case: str) -> tuple[bytes, bytes, str]:
    name, ext = case.rsplit(".", 1)
    return (GOLDEN / f"{name}.in.{ext}").read_bytes(), (GOLDEN / f"{name}.out.{ext}").read_bytes(), ext


def as_function(body: bytes) -> bytes:
    """A function body as the browser compiles it (the oracle for "output parses")."""
    return b"(function(event){" + body + b"\n})"


# -- golden files ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", golden_cases())
def test_golden_js_rewrites_to_expected_output(case: str) -> None:
    source, expected, ext = load(case)
    if ext == "fnbody":
        assert rewrite_js_body_bytes(source) == expected
    else:
        assert rewrite_js_bytes(source, module=ext == "mjs") == expected


@pytest.mark.parametrize("case", golden_cases())
def test_golden_output_parses_whenever_input_parses(case: str) -> None:
    source, expected, ext = load(case)
    if ext == "fnbody":
        assert parses(as_function(expected)) or not parses(as_function(source))
    else:
        assert parses(expected) or not parses(source)


def is_subsequence(short: bytes, long: bytes) -> bool:
    it = iter(long)
    return all(any(b == c for c in it) for b in short)


@pytest.mark.parametrize("case", golden_cases())
def test_golden_output_keeps_every_input_byte_in_order(case: str) -> None:
    """The edits only insert (``.`` -> ``?.`` keeps its dot), so the input is a subsequence of
    the output and nothing outside the rewritten spans moves or changes."""
    source, expected, _ = load(case)
    assert is_subsequence(source, expected)


def test_golden_set_covers_every_construct_in_the_brief() -> None:
    assert {
        "bare_reads.js",
        "members.js",
        "writes.js",
        "locals.js",
        "destructuring.js",
        "with_block.js",
        "optional_and_new.js",
        "no_rewrite.js",
        "source_map.js",
        "minified.js",
        "module.mjs",
        "module_local.mjs",
        "parse_error.js",
        "eval_calls.js",
        "handler.fnbody",
        "handler_local.fnbody",
        "handler_strict.fnbody",
        "handler_escape.fnbody",
        "post_message.js",
        "dynamic_import.mjs",
    } <= set(golden_cases())


def test_source_map_comment_is_kept_byte_for_byte() -> None:
    source, expected, _ = load("source_map.js")
    assert expected.endswith(b"//# sourceMappingURL=bundle.min.js.map\n")
    assert expected != source


# -- the hot path and failing open ------------------------------------------------------------


def test_script_without_location_comes_back_as_the_same_object_without_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_parser(*_: object) -> None:
        raise AssertionError("parsed a script that cannot mention location")

    monkeypatch.setattr(js, "Parser", no_parser)
    data = b"var a = window.loc + 'ation'; document.title = a;"
    assert rewrite_js_bytes(data) is data
    text = "const locatio = 1; // no name here"
    assert rewrite_js(text) is text


def test_script_that_mentions_location_only_in_strings_and_comments_is_byte_identical() -> None:
    source, expected, _ = load("no_rewrite.js")
    assert expected == source
    assert rewrite_js_bytes(source) is source


def test_script_that_does_not_parse_is_served_unchanged() -> None:
    for bad in (b"location.href = ;", b"if (location { x", b"location.href\x00 = 'a' +"):
        assert rewrite_js_bytes(bad) is bad


def test_text_api_round_trips_non_ascii_and_leaves_lone_surrogates_alone() -> None:
    assert rewrite_js("const é = '☃'; location.href") == P + "const é = '☃'; __cb$loc(location).href"
    odd = "location.href; '\ud800'"
    assert rewrite_js(odd) is odd


def test_prologue_goes_after_the_directives_so_strict_scripts_stay_strict() -> None:
    assert rewrite_js('"use strict"\nlocation.href') == '"use strict"' + P + "\n__cb$loc(location).href"
    assert rewrite_js("/* c */ 'use strict'; 'b'; location") == "/* c */ 'use strict'; 'b';" + P + " __cb$loc(location)"
    assert rewrite_js("#!/usr/bin/env x\nlocation") == "#!/usr/bin/env x\n" + P + "__cb$loc(location)"
    assert rewrite_js("'a' + b; location") == P + "'a' + b; __cb$loc(location)"


def test_module_top_level_binding_shadows_but_a_classic_scripts_global_var_does_not() -> None:
    assert rewrite_js("var location; location.href", module=False) == P + "var location; __cb$loc(location).href"
    assert rewrite_js("var location; location.href", module=True) == "var location; location.href"


def test_inner_function_binding_shadows_only_inside_that_function() -> None:
    src = "function a(){ var location = {}; return location.x } function b(){ return location.x }"
    out = rewrite_js(src)
    assert out == P + "function a(){ var location = {}; return location.x } function b(){ return __cb$loc(location).x }"


# -- real scripts -------------------------------------------------------------------------------


def django_admin_scripts() -> list[Path]:
    root = Path(str(resources.files("django"))) / "contrib" / "admin" / "static" / "admin" / "js"
    return sorted(p for p in root.rglob("*.js") if b"location" in p.read_bytes())


def test_real_django_admin_scripts_are_rewritten_and_still_parse() -> None:
    scripts = django_admin_scripts()
    assert scripts, "Django admin ships scripts that read location"
    rewritten = 0
    for path in scripts:
        data = path.read_bytes()
        out = rewrite_js_bytes(data)
        if not parses(data):
            assert out is data
            continue
        assert parses(out), path
        rewritten += out != data
    assert rewritten > 0


# -- Hypothesis ----------------------------------------------------------------------------------

TOKENS = [
    "location", "window", "document", "top", "self", "x", "a", "this", ".", "?.", "[", "]", "(", ")",
    "{", "}", "=", "+=", "==", ",", ";", ":", "...", "'location'", '"href"', "`location`", "new ", "delete ",
    "typeof ", "var ", "let ", "const ", "function ", "=>", "with ", "for ", " in ", " of ", "++", "\n",
    " ", "/* location */", "// c\n", "return ", "if ", "class ", "import ", "export ", "#", "1", "0x1",
]


@settings(max_examples=scaled(300))
@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.booleans())
@example(["(", "location", ")", "=", "1"], False)
@example(["x", "?.", "location", "[", "'location'", "]", ".", "x"], False)
@example(["new ", "x", ".", "location", ".", "x", "(", ")"], False)
def test_token_soup_never_raises_and_output_parses_when_input_parses(tokens: list[str], module: bool) -> None:
    data = "".join(tokens).encode()
    out = rewrite_js_bytes(data, module=module)
    assert is_subsequence(data, out)
    if parses(data):
        assert parses(out), (data, out)
    else:
        assert out is data


@settings(max_examples=scaled(200))
@given(st.text(max_size=200), st.booleans())
def test_arbitrary_text_with_location_never_raises(text: str, module: bool) -> None:
    source = text[: len(text) // 2] + "location" + text[len(text) // 2 :]
    out = rewrite_js(source, module=module)
    assert isinstance(out, str)
    if "location" not in text and "__cb$" not in out:
        assert out == source


# -- the cache ---------------------------------------------------------------------------------


def test_cache_rewrites_each_distinct_script_once_and_serves_repeats_from_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import rewriter.js_cache as js_cache

    calls: list[bytes] = []
    real = js_cache.rewrite_js_bytes

    def counting(data: bytes, *, module: bool = False) -> bytes:
        calls.append(data)
        return real(data, module=module)

    monkeypatch.setattr(js_cache, "rewrite_js_bytes", counting)
    cache = js_cache.ScriptCache()
    script = b"location.href"
    assert cache.rewrite(script) == PROLOGUE + b"__cb$loc(location).href"
    assert cache.rewrite(bytes(script)) == PROLOGUE + b"__cb$loc(location).href"
    assert cache.rewrite(script, module=True) == PROLOGUE + b"__cb$loc(location).href"
    assert len(calls) == 2  # classic and module are separate entries
    plain = b"var a = 1;"
    assert cache.rewrite(plain) is plain
    assert len(calls) == 2 and len(cache) == 2  # no location: neither hashed nor stored
    assert cache.rewrite_text("x.location = 1") == P + "__cb$set(x).location = 1"


def test_cache_stays_within_its_byte_bound_evicting_the_least_recently_used() -> None:
    from rewriter.js_cache import ScriptCache

    cache = ScriptCache(max_bytes=1000)
    scripts = [f"location.href + {i:0300d}".encode() for i in range(10)]
    for s in scripts:
        cache.rewrite(s)
        assert cache.size <= 1000
    assert 0 < len(cache) < 10
    cache.rewrite(scripts[-1])
    assert cache.hits == 1
    cache.rewrite(scripts[0])
    assert cache.misses == 11


# -- inline scripts in HTML (rewriter/html.py) and script bodies (rewriter/body.py) -------------


def html_ctx() -> PageContext:
    return PageContext("https://example.com/", ProxySpace("abcdefghij", "cobrowse.localhost", port=8080), "",
                       js=lambda source, module: rewrite_js(source, module=module))


def test_inline_classic_and_module_scripts_are_rewritten_and_data_scripts_are_not() -> None:
    page = (
        "<script>location.href</script><script type=module>location.href</script>"
        "<script type='text/javascript'>x.location</script><script type=text/template>location.href</script>"
        '<script type="application/ld+json">{"location": "x"}</script><p>location.href</p>'
    )
    out = rewrite_html_text(page, html_ctx())
    assert out == (
        f"<script>{P}__cb$loc(location).href</script><script type=module>{P}__cb$loc(location).href</script>"
        f"<script type='text/javascript'>{P}__cb$loc(x.location)</script><script type=text/template>location.href"
        '</script><script type="application/ld+json">{"location": "x"}</script><p>location.href</p>'
    )


def test_html_without_a_script_rewriter_leaves_inline_scripts_alone() -> None:
    ctx = PageContext("https://example.com/", ProxySpace("abcdefghij", "cobrowse.localhost", port=8080), "")
    assert rewrite_html_text("<script>location.href</script>", ctx) == "<script>location.href</script>"


def test_script_bodies_are_rewritten_only_for_a_pages_script_and_sent_as_utf8() -> None:
    for mime in ("application/javascript", "text/javascript; charset=utf-8", "application/x-javascript"):
        assert rewriter_for(mime) is None
        found = rewriter_for(mime, script=True)
        assert found is not None and found.content_type == "text/javascript; charset=utf-8"
    js = rewriter_for("text/javascript", script=True)
    assert js is not None
    plain = b"var a = 1;"
    assert js.rewrite(plain, html_ctx(), None) is plain
    assert js.rewrite("location.href; '\u00e9'".encode("latin-1"), html_ctx(), "iso-8859-1") == (
        PROLOGUE + "__cb$loc(location).href; '\u00e9'".encode()
    )
    assert js.rewrite(b"\xef\xbb\xbflocation", html_ctx(), None) == PROLOGUE + b"__cb$loc(location)"


# -- eval, function bodies, handlers and javascript: URLs ------------------------------------


@settings(max_examples=scaled(300))
@given(st.text(max_size=300), st.sampled_from(["classic", "module", "body"]))
@example("var a = window.loc + 'ation'; evaluate(e)", "classic")
def test_script_without_the_rewritten_names_comes_out_byte_identical(text: str, kind: str) -> None:
    source = text.replace("location", "").replace("eval", "").replace("postMessage", "").replace("import", "")
    data = source.encode("utf-8", "surrogatepass")
    if kind == "body":
        assert rewrite_js_body(source) is source
        assert rewrite_js_body_bytes(data) is data
    else:
        assert rewrite_js(source, module=kind == "module") is source
        assert rewrite_js_bytes(data, module=kind == "module") is data


BODY_TOKENS = [*TOKENS, "eval", "(0, eval)", "event", "arguments", "return false", "this", "'use strict';",
               "postMessage", ".postMessage", "'*'", "{targetOrigin: o}", "import(", "import.meta", ".url",
               "'https://cdn.test/x.js'", "'./x.js'", "await "]


@settings(max_examples=scaled(300))
@given(st.lists(st.sampled_from(BODY_TOKENS), max_size=40))
@example(["eval", "(", "x", ")"])
@example(["return false", ";", "location", ".", "x", "=", "1"])
def test_function_bodies_never_raise_and_output_parses_when_input_parses(tokens: list[str]) -> None:
    data = "".join(tokens).encode()
    out = rewrite_js_body_bytes(data)
    assert is_subsequence(data, out)
    if parses(as_function(data)):
        assert parses(as_function(out)), (data, out)
    else:
        assert out is data


@settings(max_examples=scaled(200))
@given(st.lists(st.sampled_from(BODY_TOKENS), max_size=40), st.booleans())
def test_scripts_with_eval_never_raise_and_output_parses_when_input_parses(tokens: list[str], module: bool) -> None:
    data = "".join(tokens).encode()
    out = rewrite_js_bytes(data, module=module)
    assert is_subsequence(data, out)
    assert parses(out) if parses(data) else out is data


def test_direct_eval_keeps_the_identifier_eval_as_its_callee() -> None:
    out = rewrite_js("function f(c) { var x = 1; return eval(c) }")
    assert out.endswith("function f(c) { var x = 1; return eval(__cb$rw(c)) }")
    assert "__cb$rw" in out.split(";", 3)[-1] and out.startswith(P)  # the prologue defines __cb$rw too


def test_cache_keeps_function_bodies_apart_from_scripts() -> None:
    from rewriter.js_cache import ScriptCache

    cache = ScriptCache()
    text = b"var location = 1; return location.x"
    assert cache.rewrite_body(text) is text  # a local inside a function
    assert cache.rewrite(text) != text  # a classic script's global var is window.location
    assert cache.rewrite_body(b"location.x") == PROLOGUE + b"__cb$loc(location).x"
    assert cache.rewrite_body(b"location.x") == PROLOGUE + b"__cb$loc(location).x"
    assert cache.hits == 1 and len(cache) == 3
    assert cache.rewrite_body_text("return 1") == "return 1"


def test_event_handler_attributes_are_rewritten_as_function_bodies() -> None:
    page = (
        '<button onclick="location.href = \'/x\'; return false">a</button>'
        "<body ONLOAD='top.location.hash'><p onclick=\"go()\" data-location=\"location.x\">"
        '<a onmouseover=location.reload()>b</a>'
    )
    out = rewrite_html_text(page, html_ctx())
    assert out == (
        '<button onclick="' + P.replace('"', "&quot;") + '__cb$loc(location).href = \'/x\'; return false">a</button>'
        # A changed value is written in double quotes (the tag is written again: rewriter/html_lol.py).
        '<body ONLOAD="' + P.replace('"', "&quot;") + "__cb$loc(top.location).hash\"><p onclick=\"go()\" "
        'data-location="location.x">'
        '<a onmouseover="' + P.replace('"', "&quot;") + '__cb$loc(location).reload()">b</a>'
    )


def test_javascript_urls_have_their_code_rewritten_and_percent_encoded_again() -> None:
    page = (
        '<a href="javascript:location.href=%27/y%27">a</a>'
        "<iframe src=' JavaScript:parent.location.hostname'></iframe>"
        '<a href="javascript:void(0)">b</a><a href="javascript:alert(%22100%25 location%22)">c</a>'
        '<form action="javascript:eval(code)"></form>'
    )
    out = rewrite_html_text(page, html_ctx())
    q = P.replace('"', "&quot;")
    assert out == (
        f'<a href="javascript:{q}__cb$loc(location).href=\'/y\'">a</a>'
        f'<iframe src=" JavaScript:{q}__cb$loc(parent.location).hostname"></iframe>'
        '<a href="javascript:void(0)">b</a><a href="javascript:alert(%22100%25 location%22)">c</a>'
        f'<form action="javascript:{q}{js.EVAL_PROLOGUE.decode().replace(chr(34), "&quot;")}eval(__cb$rw(code))">'
        "</form>"
    )


def test_javascript_url_whose_code_is_not_utf8_once_decoded_is_left_alone() -> None:
    page = '<a href="javascript:location.x%ff">a</a>'
    assert rewrite_html_text(page, html_ctx()) == page


def test_handlers_and_javascript_urls_are_left_alone_without_a_script_rewriter() -> None:
    ctx = PageContext("https://example.com/", ProxySpace("abcdefghij", "cobrowse.localhost", port=8080), "")
    page = '<a onclick="location.href=1" href="javascript:location.reload()">a</a>'
    assert rewrite_html_text(page, ctx) == page
