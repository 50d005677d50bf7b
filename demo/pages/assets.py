"""Static assets of the demo sites as Python strings: SVG images, stylesheets, scripts.

Kept as strings (not files) so the package needs no package-data entry and the demo works
from any install. Nothing here refers to a resource outside the demo origins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType

from demo.catalogue import API, Product

# One simple drawing per product slug, drawn in a 200x200 box on the product's colour.
_DRAWINGS: Mapping[str, str] = MappingProxyType(
    {
        "mug": '<rect x="55" y="60" width="75" height="90" rx="10" fill="#fff"/>'
        '<path d="M130 80 h15 a18 18 0 0 1 0 40 h-15" stroke="#fff" stroke-width="10" fill="none"/>'
        '<path d="M75 40 q8 -10 0 -20 M95 40 q8 -10 0 -20" stroke="#fff" stroke-width="4" fill="none"/>',
        "lamp": '<path d="M70 60 h60 l15 40 h-90 z" fill="#fff"/>'
        '<rect x="96" y="100" width="8" height="55" fill="#fff"/>'
        '<rect x="70" y="152" width="60" height="10" rx="5" fill="#fff"/>',
        "plant": '<path d="M75 120 h50 l-8 45 h-34 z" fill="#fff"/>'
        '<ellipse cx="100" cy="95" rx="14" ry="30" fill="#fff"/>'
        '<ellipse cx="78" cy="105" rx="10" ry="22" fill="#fff" transform="rotate(-35 78 105)"/>'
        '<ellipse cx="122" cy="105" rx="10" ry="22" fill="#fff" transform="rotate(35 122 105)"/>',
        "notebook": '<rect x="60" y="40" width="80" height="120" rx="6" fill="#fff"/>'
        '<rect x="60" y="40" width="12" height="120" fill="#ddd"/>'
        '<g fill="#bbb"><circle cx="90" cy="70" r="2"/><circle cx="105" cy="70" r="2"/>'
        '<circle cx="120" cy="70" r="2"/><circle cx="90" cy="85" r="2"/><circle cx="105" cy="85" r="2"/>'
        '<circle cx="120" cy="85" r="2"/></g>',
        "headphones": '<path d="M55 120 v-20 a45 45 0 0 1 90 0 v20" stroke="#fff" stroke-width="10" '
        'fill="none"/><rect x="45" y="110" width="25" height="45" rx="8" fill="#fff"/>'
        '<rect x="130" y="110" width="25" height="45" rx="8" fill="#fff"/>',
        "clock": '<circle cx="100" cy="100" r="55" fill="#fff"/>'
        '<path d="M100 100 v-35 M100 100 l25 15" stroke="#444" stroke-width="6" stroke-linecap="round"/>',
    }
)


def product_svg(product: Product) -> str:
    drawing = _DRAWINGS.get(product.slug, '<circle cx="100" cy="100" r="50" fill="#fff"/>')
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" viewBox="0 0 200 200">'
        f"<title>{product.name}</title>"
        f'<rect width="200" height="200" rx="16" fill="{product.colour}"/>{drawing}</svg>'
    )


LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="8" fill="#264653"/>'
    '<path d="M9 12 h14 l-2 12 h-10 z" fill="#e9c46a"/>'
    '<path d="M12 12 a4 4 0 0 1 8 0" stroke="#e9c46a" stroke-width="2" fill="none"/></svg>'
)

PAPER_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" viewBox="0 0 40 40">'
    '<rect width="40" height="40" fill="#fbf7ef"/>'
    '<path d="M0 39.5 H40" stroke="#efe6d4" stroke-width="1"/></svg>'
)

HERO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="200" viewBox="0 0 800 200">'
    '<rect width="800" height="200" fill="#264653"/>'
    '<circle cx="680" cy="60" r="90" fill="#2a9d8f" opacity=".6"/>'
    '<circle cx="560" cy="190" r="70" fill="#e9c46a" opacity=".5"/>'
    '<circle cx="760" cy="180" r="40" fill="#e76f51" opacity=".7"/></svg>'
)

SHOP_CSS = """\
:root { --bg: #f7f5f2; --fg: #1d2b33; --card: #fff; --muted: #61707a; --accent: #e76f51;
        --line: #e3ded7; }
:root[data-theme="dark"] { --bg: #151c21; --fg: #e8e6e3; --card: #1f2a31; --muted: #98a5ad;
        --line: #2f3b43; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
       background: var(--bg); color: var(--fg); }
a { color: inherit; }
header.top { display: flex; align-items: center; gap: 1.25rem; padding: .75rem 1.5rem;
             background: var(--card); border-bottom: 1px solid var(--line); }
header.top .brand { display: flex; align-items: center; gap: .5rem; font-weight: 700;
                    text-decoration: none; }
header.top nav { display: flex; gap: 1rem; flex: 1; }
header.top nav a { text-decoration: none; color: var(--muted); }
header.top nav a:hover { color: var(--fg); }
.who { color: var(--muted); font-size: .9rem; }
.badge { display: inline-block; min-width: 1.4em; padding: 0 .4em; border-radius: 1em;
         background: var(--accent); color: #fff; font-size: .8rem; text-align: center; }
main { max-width: 960px; margin: 2rem auto; padding: 0 1.5rem; }
.hero { border-radius: 16px; padding: 2.5rem; color: #fff;
        background: #264653 url("/img/hero.svg") right center / cover no-repeat; }
.hero h1 { margin: 0 0 .5rem; font-size: 2.2rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 1.25rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1rem; }
.card img { width: 100%; height: auto; border-radius: 10px; display: block; }
.card h3 { margin: .6rem 0 .2rem; font-size: 1.05rem; }
.price { font-weight: 700; }
.muted { color: var(--muted); }
button, .button { font: inherit; border: 0; border-radius: 8px; padding: .55rem 1rem; cursor: pointer;
                  background: var(--accent); color: #fff; text-decoration: none; display: inline-block; }
button.secondary { background: transparent; color: var(--fg); border: 1px solid var(--line); }
.product { display: grid; grid-template-columns: 280px 1fr; gap: 2rem; align-items: start; }
.product img { width: 100%; border-radius: 16px; }
form.stack { display: grid; gap: .9rem; max-width: 420px; }
label { display: grid; gap: .25rem; font-size: .95rem; }
input[type=text], input[type=password], input[type=email], select, textarea {
  font: inherit; padding: .5rem .6rem; border-radius: 8px; border: 1px solid var(--line);
  background: var(--card); color: var(--fg); }
fieldset { border: 1px solid var(--line); border-radius: 10px; }
.inline { display: flex; gap: .5rem; align-items: center; }
.error { color: #c0392b; }
.notice { background: var(--card); border-left: 4px solid #2a9d8f; padding: .75rem 1rem; }
table.cart { width: 100%; border-collapse: collapse; }
table.cart td, table.cart th { padding: .5rem; border-bottom: 1px solid var(--line); text-align: left; }
.scrollbox { height: 220px; overflow: auto; border: 1px solid var(--line); border-radius: 10px;
             padding: 0 1rem; background: var(--card); }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 2rem; }
footer { max-width: 960px; margin: 3rem auto; padding: 0 1.5rem; color: var(--muted); font-size: .85rem; }
"""

# Read before the body paints: the theme comes from the non-HttpOnly "theme" cookie, read and
# written through document.cookie (a co-browsing proxy must keep that working).
THEME_JS = """\
(function () {
  var m = document.cookie.match(/(?:^|;\\s*)theme=([^;]*)/);
  document.documentElement.dataset.theme = m ? decodeURIComponent(m[1]) : "light";
})();
"""

SHOP_JS = (
    "const API = "
    + json.dumps(API)
    + ";\n"
    + """\
function money(cents) { return "€" + Math.floor(cents / 100) + "." + String(cents % 100).padStart(2, "0"); }

async function api(path, options) {
  const init = Object.assign({credentials: "include", headers: {}}, options || {});
  if (init.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(init.body);
  }
  const response = await fetch(API + path, init);
  const data = await response.json();
  if (!response.ok) { throw new Error(data.error || ("HTTP " + response.status)); }
  return data;
}

function showCount(cart) {
  document.querySelectorAll("[data-cart-count]").forEach(function (el) {
    el.textContent = String(cart.count);
  });
}

async function refreshCount() {
  try { showCount(await api("/cart")); } catch (e) { /* the badge is decoration */ }
}

async function addToCart(slug, button) {
  const cart = await api("/cart/items", {method: "POST", body: {slug: slug, qty: 1}});
  showCount(cart);
  if (button) { button.textContent = "Added ✓"; }
}

function renderCart(cart) {
  const body = document.getElementById("cart-body");
  if (!body) { return; }
  body.innerHTML = "";
  cart.items.forEach(function (item) {
    const row = document.createElement("tr");
    row.innerHTML = "<td></td><td></td><td></td><td><button class='secondary'>Remove</button></td>";
    row.children[0].textContent = item.name;
    row.children[1].textContent = String(item.qty);
    row.children[2].textContent = money(item.price_cents * item.qty);
    row.querySelector("button").addEventListener("click", async function () {
      renderCart(await api("/cart/items/" + encodeURIComponent(item.slug), {method: "DELETE"}));
    });
    body.appendChild(row);
  });
  document.getElementById("cart-total").textContent = money(cart.total_cents);
  const empty = document.getElementById("cart-empty");
  empty.textContent = "Your cart is empty.";
  empty.hidden = cart.items.length > 0;
  showCount(cart);
}

async function checkout() {
  const out = document.getElementById("checkout-result");
  try {
    const order = await api("/checkout", {method: "POST", body: {}});
    out.className = "notice";
    out.textContent = "Order #" + order.order + " placed for " + order.user +
      " (" + money(order.total_cents) + ").";
    renderCart(await api("/cart"));
  } catch (e) {
    out.className = "error";
    out.textContent = e.message;
  }
}

function toggleTheme() {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  document.cookie = "theme=" + next + "; path=/; max-age=31536000; samesite=lax";
  document.documentElement.dataset.theme = next;
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-add]").forEach(function (button) {
    button.addEventListener("click", function () { addToCart(button.dataset.add, button); });
  });
  const toggle = document.getElementById("theme-toggle");
  if (toggle) { toggle.addEventListener("click", toggleTheme); }
  const pay = document.getElementById("checkout");
  if (pay) { pay.addEventListener("click", checkout); }
  if (document.getElementById("cart-body")) {
    api("/cart").then(renderCart).catch(function (e) {
      document.getElementById("cart-empty").textContent = "Could not load the cart: " + e.message;
    });
  } else {
    refreshCount();
  }
});
"""
)

BLOG_CSS = """\
body { margin: 0; font: 18px/1.7 Georgia, "Times New Roman", serif; color: #2b2b2b;
       background: #fbf7ef url("paper.svg") repeat; }
header { padding: 1.5rem 2rem; border-bottom: 1px solid #e7dcc6; background: rgba(255,255,255,.6); }
header a { color: #264653; text-decoration: none; font-weight: bold; }
main { max-width: 680px; margin: 2rem auto; padding: 0 1.5rem; }
h1, h2 { font-family: system-ui, sans-serif; color: #264653; }
.date { color: #8a7f6c; font-size: .9rem; }
article .date + p::first-letter { font-size: 2.6em; float: left; line-height: 1; padding-right: .1em; }
a { color: #b5543a; }
"""
