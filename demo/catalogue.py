"""The demo's fixed data: its origins, its products, its users and its blog posts.

Everything here is a constant value; the mutable state of a running demo (sign-ins, carts,
orders) lives in ``sites.DemoState``, one per ``run_demo()``. Origins are the names the
pages use in absolute links and ``fetch`` calls; ``run_demo()`` points them at loopback ports
through the proxy's resolver overrides, so they must stay on port 80.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

SHOP_HOST = "shop.demo.test"
API_HOST = "api.demo.test"
BLOG_HOST = "blog.demo.test"

SHOP = f"http://{SHOP_HOST}"
API = f"http://{API_HOST}"
BLOG = f"http://{BLOG_HOST}"

# The parent domain of all three: the shop's session cookie carries Domain=demo.test so the
# cart API (another origin of the same site) can tell who is signed in at checkout.
COOKIE_DOMAIN = "demo.test"

# Origins the cart API answers with CORS + credentials. Never reflected blindly.
CORS_ORIGINS = frozenset({SHOP, BLOG})


@dataclass(frozen=True, slots=True)
class Product:
    slug: str
    name: str
    price_cents: int
    colour: str
    blurb: str

    @property
    def price(self) -> str:
        return format_price(self.price_cents)


def format_price(cents: int) -> str:
    return f"€{cents // 100}.{cents % 100:02d}"


PRODUCTS: Mapping[str, Product] = MappingProxyType(
    {
        p.slug: p
        for p in (
            Product(
                "mug", "Morning Mug", 1400, "#e76f51", "Stoneware, 350 ml, keeps coffee warm for a while."
            ),
            Product("lamp", "Desk Lamp", 4900, "#e9c46a", "Warm light, adjustable arm, one soft click."),
            Product(
                "plant", "Pocket Plant", 1900, "#2a9d8f", "A small succulent that forgives a missed week."
            ),
            Product("notebook", "Dot Notebook", 900, "#264653", "A5, 160 pages of dotted paper, lies flat."),
            Product(
                "headphones", "Quiet Headphones", 8900, "#8e6cc9", "Closed-back, soft pads, a long cable."
            ),
            Product("clock", "Wall Clock", 3200, "#f4a261", "Silent sweep hand, 30 cm, one AA battery."),
        )
    }
)

# Demo credentials, printed on the login page: this is a toy, not a user store.
USERS: Mapping[str, str] = MappingProxyType({"alice": "wonderland", "bob": "builder"})


@dataclass(frozen=True, slots=True)
class Post:
    slug: str
    title: str
    date: str
    paragraphs: tuple[str, ...]


POSTS: Mapping[str, Post] = MappingProxyType(
    {
        p.slug: p
        for p in (
            Post(
                "slow-mornings",
                "The case for slow mornings",
                "2024-03-02",
                (
                    "A good morning starts before the first message arrives. Put the kettle on, "
                    "open a window, and give yourself ten minutes that belong to nobody else.",
                    "We asked twelve customers how they start their day. Most of them mentioned "
                    "a favourite mug; two of them mentioned a plant that needed watering.",
                    "None of them mentioned their inbox. That is probably the point.",
                ),
            ),
            Post(
                "desk-setup",
                "A desk that works for you",
                "2024-02-11",
                (
                    "Light from the side, not from behind the screen. A lamp you can aim. A notebook "
                    "within reach, because some thoughts are faster on paper.",
                    "Cable clutter is optional. Headphones that block the room are not.",
                ),
            ),
        )
    }
)
