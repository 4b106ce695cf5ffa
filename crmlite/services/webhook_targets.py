"""Where a webhook may point: the one parser of a webhook URL and the SSRF rule.

A webhook makes crmlite's server send requests to an address an admin typed. Without a rule
that address could be inside the network the server sits in: the cloud's metadata service
(169.254.169.254), a database on localhost, an intranet page. So:

- only ``http`` and ``https`` URLs, with a host, without a user name or password in them;
- the target must be a public address: private (10/8, 172.16/12, 192.168/16, fc00::/7),
  loopback, link-local (169.254/16 with the metadata service, fe80::/10), multicast,
  reserved, unspecified (0.0.0.0, ::) and shared (100.64/10) addresses are refused, also
  when written as an IPv4-mapped IPv6 address;
- checked when the URL is saved, and again at every delivery **after** resolving the name,
  and the connection goes to the address that was checked (``Target.address``), so a name
  that resolves to a public address at save time and to an inside one later (DNS rebinding)
  is refused then, not followed;
- unless an admin ticked "allow private targets" on that subscription (an internal
  receiver), which the audit log records.

This module sits at the bottom: it knows URLs and addresses, nothing of the models.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from crmlite.models.webhooks import URL_LENGTH

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses the name resolves to (tests put a fake one in)
Resolver = Callable[[str, int], list[str]]
SCHEMES = {"http": 80, "https": 443}


class TargetRefused(ValueError):
    """The URL is not one crmlite will send to (the message says why, for the admin)."""


@dataclass(frozen=True)
class Target:
    """A URL taken apart, and (once resolved) the checked address to connect to."""

    url: str
    scheme: str
    host: str  # the name (or literal address) as written, lower-case, no brackets
    port: int
    path: str  # path and query, as sent on the request line
    address: str = ""


def parse_url(typed: str) -> Target:
    """The URL as the admin typed it, checked for form (not yet for where it leads)."""
    url = (typed or "").strip()
    if not url:
        raise TargetRefused("Enter the URL to send events to.")
    if len(url) > URL_LENGTH:
        raise TargetRefused(f"The URL is too long (at most {URL_LENGTH} characters).")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise TargetRefused("The URL cannot contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused("This is not a valid URL.") from error
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise TargetRefused("Only http:// and https:// URLs can receive webhooks.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("Leave the user name and password out of the URL.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetRefused("The URL needs a host name, e.g. https://hooks.example.com/crm.")
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise TargetRefused("The host name is not valid.") from error
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url=url, scheme=scheme, host=host, port=port or SCHEMES[scheme], path=path)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_refusal(address: IPAddress) -> str | None:
    """Why crmlite will not send to this address (None: a public address)."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.is_loopback:
        return "a loopback address (this server itself)"
    if address.is_link_local:
        return "a link-local address (such as the cloud metadata service)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address (inside the network)"
    if not address.is_global:
        return "a reserved address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for the name (TCP), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve(target: Target, *, allow_private: bool, resolver: Resolver | None = None) -> Target:
    """The target with the address to connect to: every address its name resolves to must
    be public (unless private targets are allowed); the first is the one used. Refused with
    the reason otherwise; an OSError when the name cannot be resolved now."""
    literal = _literal(target.host)
    if literal is not None:
        addresses: list[str] = [str(literal)]
    else:
        addresses = (resolver or system_resolver)(target.host, target.port)
        if not addresses:
            raise OSError(f"{target.host} has no address")
    if not allow_private:
        for text in addresses:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError as error:
                raise TargetRefused(f"{target.host} resolves to {text!r}") from error
            reason = address_refusal(address)
            if reason is not None:
                where = target.host if literal is not None else f"{target.host} ({text})"
                raise TargetRefused(
                    f"{where} is {reason}: webhooks go to public addresses only, unless "
                    "private targets are allowed for this webhook."
                )
    return dataclasses.replace(target, address=addresses[0])


def check_url(typed: str, *, allow_private: bool, resolver: Resolver | None = None) -> Target:
    """A URL fit to save: its form, and where its name leads today (a name that does not
    resolve is refused too: it could not be checked)."""
    target = parse_url(typed)
    try:
        return resolve(target, allow_private=allow_private, resolver=resolver)
    except OSError as error:
        raise TargetRefused(
            f"The address of {target.host} cannot be found, so it cannot be checked."
        ) from error
