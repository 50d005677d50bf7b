"""A session's target policy, and the admission check for endpoints that do not dial.

``policy_for`` is the one place a session's ``TargetPolicy`` (``sessions.policy``) is put
together: the server's ``--allow-domain``/``--deny-domain`` lists, narrowed by the session's
own lists (the API's ``options.allow_domains``/``deny_domains``). Every upstream path hands it to the upstream client
(``UpstreamClient.open``/``ws_connect`` judge it before any connection); ``refusal_page``
applies the same judgement to the endpoints that act for an origin without dialling it
(``/__cb/cookie``, ``/__cb/alias``), with the same page.
"""

from __future__ import annotations

from aiohttp import web

from proxy.config import Config
from proxy.netguard import InvalidHost, parse_host
from proxy.pages import error_page
from rewriter.origins import Origin
from sessions.model import Session
from sessions.options import SessionOptions
from sessions.policy import DomainLists, Refusal, TargetPolicy


def server_policy(config: Config) -> TargetPolicy:
    """The server's own layer: what any session may reach at most. Built once, at start-up
    (``proxy.keys.TARGETS``): requests only narrow it."""
    return TargetPolicy.for_server(config.allow_domains, config.deny_domains)


def policy_for(server: TargetPolicy, session: Session) -> TargetPolicy:
    """The target policy of ``session``: the server's, narrowed by the session's own lists
    (``options.allow_domains``/``deny_domains``), which can never widen it."""
    return policy_with(server, session.options)


def policy_with(server: TargetPolicy, options: SessionOptions) -> TargetPolicy:
    """The server's policy narrowed by a session's options (before the session exists, too)."""
    if not options.allow_domains and not options.deny_domains:
        return server
    return server.narrowed(DomainLists("session", options.allow_domains, options.deny_domains))


def judge_origin(policy: TargetPolicy, origin: Origin) -> Refusal | None:
    """``policy``'s verdict on ``origin``, its host read as a browser reads it (so ``0x7f.1``
    is judged as ``127.0.0.1``, the spelling the upstream client judges too)."""
    try:
        literal = parse_host(origin.host)
    except InvalidHost as exc:
        return Refusal("invalid-host", str(exc))
    return policy.judge(origin.host if literal is None else str(literal), origin.port)


def refusal_page(refusal: Refusal) -> web.Response:
    """The 403 page for a refused target, naming the rule (as the upstream path's page does)."""
    return error_page(403, "Site not allowed", f"This co-browsing server does not go there: {refusal}.")
