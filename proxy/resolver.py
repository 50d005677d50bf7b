"""The guarded resolver: the upstream client's only source of addresses, and the DNS seam.

``GuardedResolver`` answers aiohttp's connector with numeric results only, each vetted by the
SSRF guard's ``AddressPolicy`` (``proxy.netguard``), so the connector dials exactly the address
that was judged and a rebinding DNS server gets no second question. Answers come from, in
order: the host itself when it is an IP literal (read as browsers read it), ``overrides``
(``"host:port" -> (ip, port)``, for tests and the demo), else the ``Lookup`` (the system
resolver by default; tests stand in for DNS here, and only here).

Invariant: if any answer for a name is refused, the whole name is refused (``BlockedTarget``
naming the range that decided it); a name pointing both inside and outside is hostile.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from ipaddress import IPv4Address, ip_address

from aiohttp.abc import AbstractResolver, ResolveResult

from proxy.netguard import AddressPolicy, InvalidHost, Verdict, parse_host
from proxy.upstream_errors import BlockedTarget

# (name, port, family) -> [(numeric address, port), ...]: a DNS lookup. Its answers are vetted.
Lookup = Callable[[str, int, socket.AddressFamily], Awaitable[list[tuple[str, int]]]]


def blocked_message(host: str, verdicts: Iterable[Verdict]) -> str:
    return f"{host} is not an allowed address: " + "; ".join(v.describe() for v in verdicts)


class GuardedResolver(AbstractResolver):
    """Resolves, vets every answer, and returns numeric results the connector dials as is."""

    def __init__(self, policy: AddressPolicy, overrides: Mapping[str, tuple[str, int]],
                 lookup: Lookup | None = None) -> None:
        self._policy = policy
        self._overrides = {key.lower().rstrip("."): value for key, value in overrides.items()}
        self._lookup: Lookup = lookup or system_lookup

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.rstrip(".").lower()
        try:
            literal = parse_host(name)
        except InvalidHost as exc:
            raise BlockedTarget(str(exc)) from exc
        if literal is not None:
            answers = [(str(literal), port)]
        elif f"{name}:{port}" in self._overrides:
            answers = [self._overrides[f"{name}:{port}"]]
        else:
            answers = await self._lookup(name, port, family)
        verdicts = tuple(self._policy.judge(ip_address(ip.split("%", 1)[0])) for ip, _ in answers)
        refused = tuple(v for v in verdicts if not v.allowed)
        if refused:
            raise BlockedTarget(blocked_message(host, refused), refused)
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=p,
                family=socket.AF_INET if isinstance(v.address, IPv4Address) else socket.AF_INET6,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for (ip, p), v in zip(answers, verdicts, strict=True)
        ]

    async def close(self) -> None:
        return None


async def system_lookup(name: str, port: int, family: socket.AddressFamily) -> list[tuple[str, int]]:
    """The system resolver's numeric answers for ``name`` (the default ``Lookup``)."""
    infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM, family=family)
    answers: list[tuple[str, int]] = []
    for fam, _, _, _, sockaddr in infos:
        ip, p = str(sockaddr[0]), int(sockaddr[1])
        if fam == socket.AF_INET6 and len(sockaddr) > 3 and sockaddr[3] and "%" not in ip:
            ip = f"{ip}%{sockaddr[3]}"  # keep the scope id so a link-local answer dials right
        if (ip, p) not in answers:
            answers.append((ip, p))
    if not answers:
        raise OSError(f"no address for {name}")
    return answers
