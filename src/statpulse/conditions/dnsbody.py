"""What ``[BODY]`` holds for a DNS check: each answer's value, written as Gatus writes it.

Gatus (``client.QueryDNS``) makes the body the value of an A, AAAA, CNAME, MX or NS answer: the
address, or the target name with its final dot; for MX only the exchange, without the
preference. The DNS probe gives each record's text (``10 mail.example.com.`` for MX; TXT
strings already unquoted and joined), so only MX answers change here.
"""

from __future__ import annotations

import re

from statpulse.model import DnsInfo

_MX_RE = re.compile(r"[0-9]+\s+(\S+)")


def dns_body(dns: DnsInfo) -> tuple[str, ...]:
    """The values ``[BODY]`` compares for a DNS answer, one per answer record."""
    if dns.record_type.upper() != "MX":
        return tuple(dns.answers)
    return tuple(mx[1] if (mx := _MX_RE.fullmatch(a.strip())) else a for a in dns.answers)
