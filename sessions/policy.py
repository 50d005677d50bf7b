"""Target policy: which origins a session may reach, beyond the SSRF guard's address rules.

A ``TargetPolicy`` is a pure value, judged before any connection is made on every upstream
path (HTTP, WebSocket, CORS preflight) and at admission of the endpoints that act for an
origin without dialling it (``/__cb/cookie``, ``/__cb/alias``). It holds:

- the Fetch standard's "bad ports" (``BAD_PORTS``): ports browsers refuse to fetch from,
  because a text protocol there (SSH, SMTP, IRC, ...) can be spoken to by a crafted request;
- layers of domain allow/deny lists (``DomainLists``): the server's (``--allow-domain``,
  ``--deny-domain``) first, then any a session adds (``narrowed``).

Invariants:

- Layers only narrow: a target must pass every layer, so a session can never reopen what the
  server closed. In a layer, deny wins over allow; an empty allow list allows every domain.
- A pattern ``example.com`` (also written ``.example.com`` or ``*.example.com``) matches that
  host and every host under it; hosts and patterns are compared in the one normal form of
  ``rewriter.origins.normalise_host`` (lower case, no trailing dot, IDN as punycode). IP
  literals must reach ``judge`` in canonical form (the caller reads them as browsers do).
- Every refusal names the rule that decided it (``Refusal.reason``), for a page people can act on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rewriter.origins import Origin, normalise_host

# The Fetch standard's bad ports (https://fetch.spec.whatwg.org/#port-blocking), with the
# service each protects. Browsers refuse http(s) and ws(s) requests to them.
BAD_PORTS: dict[int, str] = {
    0: "reserved", 1: "tcpmux", 7: "echo", 9: "discard", 11: "systat", 13: "daytime", 15: "netstat",
    17: "qotd", 19: "chargen", 20: "ftp-data", 21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp",
    37: "time", 42: "name", 43: "nicname", 53: "domain", 69: "tftp", 77: "priv-rjs", 79: "finger",
    87: "ttylink", 95: "supdup", 101: "hostname", 102: "iso-tsap", 103: "gppitnp", 104: "acr-nema",
    109: "pop2", 110: "pop3", 111: "sunrpc", 113: "auth", 115: "sftp", 117: "uucp-path", 119: "nntp",
    123: "ntp", 135: "epmap", 137: "netbios-ns", 139: "netbios-ssn", 143: "imap", 161: "snmp",
    179: "bgp", 389: "ldap", 427: "svrloc", 465: "smtp+tls", 512: "exec", 513: "login", 514: "shell",
    515: "printer", 526: "tempo", 530: "courier", 531: "chat", 532: "netnews", 540: "uucp", 548: "afp",
    554: "rtsp", 556: "remotefs", 563: "nntp+tls", 587: "submission", 601: "syslog-conn",
    636: "ldap+tls", 989: "ftps-data", 990: "ftps", 993: "imap+tls", 995: "pop3+tls", 1719: "h323gatestat",
    1720: "h323hostcall", 1723: "pptp", 2049: "nfs", 3659: "apple-sasl", 4045: "npp", 4190: "sieve",
    5060: "sip", 5061: "sips", 6000: "x11", 6566: "sane-port", 6665: "ircu", 6666: "ircu", 6667: "ircu",
    6668: "ircu", 6669: "ircu", 6679: "osaut", 6697: "ircs-u", 10080: "amanda",
}
# Not on the Fetch list (browsers dial it), refused here too: a proxy reaches machines no
# browser of the participants could, and Redis is the classic target of cross-protocol requests.
SERVER_BAD_PORTS: dict[int, str] = {6379: "redis"}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a target is refused: ``rule`` is a short name, ``reason`` a sentence for people."""

    rule: str
    reason: str

    def __str__(self) -> str:
        return self.reason


def normal_pattern(pattern: str) -> str:
    """A domain pattern in host normal form (``*.``/leading dot dropped); ValueError if invalid."""
    text = pattern.strip()
    text = text[2:] if text.startswith("*.") else text.lstrip(".")
    return normalise_host(text)


def _matches(host: str, pattern: str) -> bool:
    return host == pattern or host.endswith("." + pattern)


@dataclass(frozen=True, slots=True)
class DomainLists:
    """One layer of domain patterns, and whose they are (``source``, named in refusals)."""

    source: str
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    @classmethod
    def build(cls, source: str, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> DomainLists:
        return cls(source, tuple(normal_pattern(p) for p in allow), tuple(normal_pattern(p) for p in deny))

    def judge(self, host: str) -> Refusal | None:
        denied = next((p for p in self.deny if _matches(host, p)), None)
        if denied is not None:
            return Refusal("deny-domain", f"{host} is on the {self.source}'s deny list (entry {denied!r})")
        if self.allow and not any(_matches(host, p) for p in self.allow):
            shown = ", ".join(self.allow[:5]) + (", ..." if len(self.allow) > 5 else "")
            return Refusal("allow-domain", f"{host} is not on the {self.source}'s allow list ({shown})")
        return None


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """Bad ports and layered domain lists; ``judge`` is None when a target may be reached."""

    layers: tuple[DomainLists, ...] = ()

    @classmethod
    def for_server(cls, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> TargetPolicy:
        lists = DomainLists.build("server", allow, deny)
        return cls((lists,) if lists.allow or lists.deny else ())

    def narrowed(self, lists: DomainLists) -> TargetPolicy:
        """This policy with one more layer (a session's own lists): it can only refuse more."""
        if not lists.allow and not lists.deny:
            return self
        return TargetPolicy((*self.layers, lists))

    def judge(self, host: str, port: int) -> Refusal | None:
        """``host`` in normal form (IP literals canonical, IPv6 without brackets)."""
        service = BAD_PORTS.get(port)
        if service is not None:
            return Refusal("bad-port", f"port {port} ({service}) is a bad port: browsers refuse to fetch from it "
                                       "(Fetch standard), and so does this server")
        service = SERVER_BAD_PORTS.get(port)
        if service is not None:
            return Refusal("bad-port", f"port {port} ({service}) is refused by this server: a web request must "
                                       "not reach that service")
        name = host.rstrip(".").lower()
        for lists in self.layers:
            refusal = lists.judge(name)
            if refusal is not None:
                return refusal
        return None

    def judge_origin(self, origin: Origin) -> Refusal | None:
        return self.judge(origin.host, origin.port)


# No domain lists: bad ports only (the policy of a server started without --allow/--deny-domain).
BASELINE = TargetPolicy()
