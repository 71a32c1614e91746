"""A small authoritative-style DNS server on loopback for the dns probe tests (dnslib, UDP).

``LocalDnsServer`` answers from ``ZONE`` in a daemon thread on a free port:

* a known name and type → NOERROR with the records; a CNAME is followed inside the zone, as a
  recursive resolver would (the answer holds the CNAME and the target's records);
* a known name without that type → NOERROR with an empty answer (the "no records" case);
* an unknown name → NXDOMAIN;
* ``refused.test.`` → REFUSED, ``servfail.test.`` → SERVFAIL;
* ``silent=True`` → reads every query and never answers (the timeout case; reading keeps the
  kernel from sending "port unreachable").

The addresses in the zone are DATA only: nothing ever connects to them.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

from dnslib import QTYPE, RCODE, RR, DNSError, DNSRecord

ZONE = """
$TTL 60
a.test.              IN A     10.0.0.1
a.test.              IN A     10.0.0.2
a.test.              IN AAAA  2001:db8::1
v4only.test.         IN A     10.0.0.3
v6only.test.         IN AAAA  2001:db8::3
alias.test.          IN CNAME a.test.
txt.test.            IN TXT   "hello " "world"
txt.test.            IN TXT   "v=spf1 -all"
mail.test.           IN MX    20 mx2.test.
mail.test.           IN MX    10 mx1.test.
test.                IN NS    ns1.test.
test.                IN NS    ns2.test.
test.                IN SOA   ns1.test. hostmaster.test. 2024010101 3600 600 86400 60
_sip._tcp.test.      IN SRV   20 5 5061 backup.test.
_sip._tcp.test.      IN SRV   10 5 5060 sip.test.
1.0.0.10.in-addr.arpa. IN PTR a.test.
test.                IN CAA   0 issue "ca.example"
"""

REFUSED_NAME = "refused.test."
SERVFAIL_NAME = "servfail.test."


class LocalDnsServer:
    """Serve ``zone`` on ``host`` (``127.0.0.1`` or ``::1``) at ``port`` (0: a free one).

    Use as a context manager; ``server`` is the value for the probe's ``server`` property and
    ``queries`` counts the queries received.
    """

    def __init__(
        self, host: str = "127.0.0.1", *, port: int = 0, silent: bool = False, zone: str = ZONE
    ):
        self.host = host
        self.silent = silent
        self.queries = 0
        self._records = RR.fromZone(zone)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        # Room for bursts of concurrent queries: the default buffer holds only ~250 of them.
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._socket.bind((host, port))
        self._socket.settimeout(0.1)  # how often the thread looks at the stop flag
        self.port: int = self._socket.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="local-dns", daemon=True)

    @property
    def server(self) -> str:
        """``127.0.0.1:PORT`` or ``[::1]:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __enter__(self) -> LocalDnsServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                data, client = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.queries += 1
            if self.silent:
                continue
            try:
                request = DNSRecord.parse(data)
            except DNSError:
                continue  # not a DNS message: a real server ignores it too
            self._socket.sendto(self.answer(request).pack(), client)

    def answer(self, request: DNSRecord) -> DNSRecord:
        """The reply to ``request`` according to the rules in the module docstring."""
        reply = request.reply()
        name = str(request.q.qname).lower()
        qtype = request.q.qtype
        if name == REFUSED_NAME:
            reply.header.rcode = RCODE.REFUSED
            return reply
        if name == SERVFAIL_NAME:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if not any(self._owner(record) == name for record in self._records):
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for _ in range(8):  # follow CNAMEs inside the zone, as a recursive resolver does
            matches = [record for record in self._records if self._owner(record) == name]
            wanted = [record for record in matches if record.rtype == qtype]
            alias = [record for record in matches if record.rtype == QTYPE.CNAME]
            if wanted or not alias:
                for record in wanted:
                    reply.add_answer(record)
                break
            reply.add_answer(alias[0])
            name = str(alias[0].rdata.label).lower()
        return reply

    @staticmethod
    def _owner(record: RR) -> str:
        return str(record.rname).lower()
