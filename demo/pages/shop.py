"""HTML of the shop origin (``shop.demo.test``), one function per page.

Every page shares ``_layout``: a header with the signed-in user, a cart badge filled by
``fetch`` to the API origin, and a theme switch driven by the non-HttpOnly ``theme`` cookie.
All dynamic text goes through ``escape``; links to other demo origins are absolute on purpose
(they are what a proxy must rewrite), links within the shop are root-relative.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from demo.catalogue import BLOG, POSTS, PRODUCTS, SHOP, USERS, Product
from demo.pages.assets import THEME_JS


def _layout(title: str, body: str, user: str | None, head: str = "") -> str:
    if user is None:
        who = '<a class="who" href="/login">Sign in</a>'
    else:
        who = (
            f'<span class="who">Signed in as <strong>{escape(user)}</strong></span>'
            '<form method="post" action="/logout" style="margin:0">'
            '<button class="secondary" type="submit">Log out</button></form>'
        )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Demo Shop</title>
<script>{THEME_JS}</script>
<link rel="icon" href="/img/logo.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/shop.css">
<script src="/static/shop.js" defer></script>
{head}</head>
<body>
<header class="top">
  <a class="brand" href="/"><img src="/img/logo.svg" alt="" width="28" height="28"> Demo Shop</a>
  <nav>
    <a href="/products">Products</a>
    <a href="/cart">Cart <span class="badge" data-cart-count>0</span></a>
    <a href="/playground">Playground</a>
    <a href="{BLOG}/">Blog</a>
  </nav>
  <button class="secondary" id="theme-toggle" type="button" title="Switch theme">◐</button>
  {who}
</header>
<main>
{body}
</main>
<footer>A self-contained demo site bundled with cobrowse. Nothing here leaves your machine.</footer>
</body>
</html>
"""


def _card(product: Product) -> str:
    return f"""<div class="card">
  <a href="/products/{product.slug}"><img src="/img/{product.slug}.svg"
     srcset="/img/{product.slug}.svg 1x, /img/{product.slug}.svg?size=2x 2x"
     alt="{escape(product.name)}" width="200" height="200"></a>
  <h3><a href="/products/{product.slug}">{escape(product.name)}</a></h3>
  <p class="price">{product.price}</p>
  <button type="button" data-add="{product.slug}">Add to cart</button>
</div>"""


def _grid(products: Iterable[Product]) -> str:
    return '<div class="grid">\n' + "\n".join(_card(p) for p in products) + "\n</div>"


def home(user: str | None) -> str:
    featured = list(PRODUCTS.values())[:3]
    post = next(iter(POSTS.values()))
    body = f"""<section class="hero">
  <h1>Small things, well made.</h1>
  <p>Browse the shop, fill the cart, sign in and check out. Open the playground to try forms.</p>
  <a class="button" href="/products">See all products</a>
</section>
<h2>Featured</h2>
{_grid(featured)}
<h2>From the blog</h2>
<p><a href="{BLOG}/posts/{post.slug}">{escape(post.title)}</a>
  <span class="muted">· {post.date}</span></p>"""
    return _layout("Home", body, user)


def product_list(user: str | None) -> str:
    return _layout("Products", f"<h1>Products</h1>\n{_grid(PRODUCTS.values())}", user)


def product_page(product: Product, user: str | None) -> str:
    canonical = f'<link rel="canonical" href="{SHOP}/products/{product.slug}">\n'
    body = f"""<p><a href="/products">← All products</a></p>
<div class="product">
  <img src="/img/{product.slug}.svg" alt="{escape(product.name)}" width="280" height="280">
  <div>
    <h1>{escape(product.name)}</h1>
    <p class="price">{product.price}</p>
    <p>{escape(product.blurb)}</p>
    <button type="button" data-add="{product.slug}">Add to cart</button>
    <a class="button" style="background:#2a9d8f" href="/cart">Go to cart</a>
  </div>
</div>"""
    return _layout(product.name, body, user, canonical)


def cart(user: str | None) -> str:
    hint = (
        '<p class="muted">You will need to <a href="/login?next=/cart">sign in</a> to check out.</p>'
        if user is None
        else ""
    )
    body = f"""<h1>Your cart</h1>
<p class="muted">This page is empty HTML; the cart comes from the API origin via fetch with credentials.</p>
<table class="cart">
  <thead><tr><th>Item</th><th>Qty</th><th>Price</th><th></th></tr></thead>
  <tbody id="cart-body"></tbody>
  <tfoot><tr><th colspan="2">Total</th><th id="cart-total">€0.00</th><th></th></tr></tfoot>
</table>
<p id="cart-empty">Loading…</p>
{hint}
<p><button id="checkout" type="button">Check out</button></p>
<div id="checkout-result" role="status"></div>"""
    return _layout("Cart", body, user)


def login(user: str | None, next_url: str, error: str | None = None) -> str:
    accounts = ", ".join(f"<code>{escape(n)}</code> / <code>{escape(p)}</code>" for n, p in USERS.items())
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    signed = f'<p class="notice">Signed in as {escape(user)}.</p>' if user else ""
    body = f"""<h1>Sign in</h1>
{signed}{message}
<form class="stack" method="post" action="/login">
  <input type="hidden" name="next" value="{escape(next_url)}">
  <label>Username <input type="text" name="username" autocomplete="username" required></label>
  <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
  <button type="submit">Sign in</button>
</form>
<p class="muted">Demo accounts: {accounts}.</p>"""
    return _layout("Sign in", body, user)


_FILLER = (
    "Scroll this box: co-browsing keeps its position in step between participants.",
    "Each line is a paragraph so the box is tall enough to scroll a fair way.",
    "Select some text here too; selections are part of what a session shares.",
)


def playground(user: str | None, received: Sequence[tuple[str, str]] | None = None) -> str:
    lines = "\n".join(f"<p><strong>{i + 1}.</strong> {_FILLER[i % len(_FILLER)]}</p>" for i in range(40))
    echo = ""
    if received is not None:
        rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in received)
        echo = f'<div class="notice"><h2>Received</h2><table class="cart">{rows}</table></div>'
    body = f"""<h1>Playground</h1>
{echo}
<div class="two">
<section>
  <h2>A scrollable box</h2>
  <div class="scrollbox" id="scrollbox">
{lines}
  </div>
</section>
<section>
  <h2>A form</h2>
  <form class="stack" method="post" action="/playground" id="playground-form">
    <label>Full name <input type="text" name="name" placeholder="Ada Lovelace"></label>
    <label>Email <input type="email" name="email" placeholder="ada@example.org"></label>
    <label>Shipping
      <select name="shipping">
        <option value="standard">Standard (3 to 5 days)</option>
        <option value="express">Express (next day)</option>
        <option value="pickup">Pick up in store</option>
      </select>
    </label>
    <fieldset>
      <legend>Payment</legend>
      <label class="inline"><input type="radio" name="payment" value="card" checked> Card</label>
      <label class="inline"><input type="radio" name="payment" value="invoice"> Invoice</label>
      <label class="inline"><input type="radio" name="payment" value="voucher"> Voucher</label>
    </fieldset>
    <label class="inline"><input type="checkbox" name="gift" value="yes"> Gift wrap</label>
    <label class="inline"><input type="checkbox" name="newsletter" value="yes"> Send me the newsletter</label>
    <label>Notes <textarea name="notes" rows="3"></textarea></label>
    <button type="submit">Submit</button>
  </form>
</section>
</div>"""
    return _layout("Playground", body, user)


def not_found(user: str | None) -> str:
    return _layout("Not found", '<h1>Not found</h1><p><a href="/">Back to the shop</a></p>', user)
