#!/usr/bin/env python3
"""A small authoritative DNS server over UDP (stdlib only) for the network rig (issue 23).

It answers the names it is given (`--record edge.test=127.0.0.2`, repeatable) and nothing else:

- A: the address, after `--cold-delay-ms` extra on the first query for that name in each `--ttl` window (a cold
  recursive lookup; default 0 ms: the link's own round trip is then the whole cost), at once otherwise;
- AAAA: after `--aaaa-delay-ms` (default 300, the field report's slow AAAA), with no answer (NODATA: NOERROR, an SOA
  in the authority section for negative caching) — a domain without IPv6;
- any other type of a known name: NODATA at once; an unknown name: NXDOMAIN at once; a malformed query: FORMERR or
  nothing.

Answers carry TTL `--ttl` (seconds). Every query is logged as one JSON line (time, client, id, name, type, delay,
answer) to stdout, or to `--log FILE`. Delays never block other queries (each answer is a timer).

  slow_dns.py --listen 127.0.0.2 --port 53 --record edge.test=127.0.0.2 [--cold-delay-ms 0] [--aaaa-delay-ms 300]
              [--ttl 60] [--log FILE]
"""
import argparse
import asyncio
import ipaddress
import json
import signal
import struct
import sys
import time

TYPE_A, TYPE_NS, TYPE_SOA, TYPE_AAAA, TYPE_OPT = 1, 2, 6, 28, 41
TYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
              41: "OPT", 64: "SVCB", 65: "HTTPS", 255: "ANY"}
RCODE_NOERROR, RCODE_FORMERR, RCODE_NXDOMAIN, RCODE_NOTIMP = 0, 1, 3, 4


class Malformed(Exception):
    pass


def parse_name(data, offset):
    """A query name (no compression pointers in a question; accepted anyway) → (lower-case name, next offset)."""
    labels, jumps, end = [], 0, None
    while True:
        if offset >= len(data):
            raise Malformed("name runs past the packet")
        length = data[offset]
        if length == 0:
            offset += 1
            break
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data) or jumps > 16:
                raise Malformed("bad compression pointer")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            jumps += 1
            continue
        if length > 63 or offset + 1 + length > len(data):
            raise Malformed("bad label")
        labels.append(data[offset + 1:offset + 1 + length].decode("ascii", "replace").lower())
        offset += 1 + length
    return ".".join(labels), (end if end is not None else offset)


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            raw = label.encode("ascii")
            out += bytes([len(raw)]) + raw
    return out + b"\x00"


class Zone:
    def __init__(self, records, ttl):
        self.records = records  # name → IPv4Address
        self.ttl = ttl

    def soa(self, name):
        """An SOA for NODATA/NXDOMAIN answers, owned by the name's parent zone (edge.test → test)."""
        parts = name.split(".")
        zone = ".".join(parts[1:]) if len(parts) > 1 else name
        rdata = (encode_name("ns." + zone) + encode_name("hostmaster." + zone) +
                 struct.pack("!IIIII", 1, 3600, 600, 86400, self.ttl))
        return encode_name(zone) + struct.pack("!HHIH", TYPE_SOA, 1, self.ttl, len(rdata)) + rdata


class DNSProtocol(asyncio.DatagramProtocol):
    def __init__(self, zone, cold_delay, aaaa_delay, log):
        self.zone = zone
        self.cold_delay = cold_delay
        self.aaaa_delay = aaaa_delay
        self.log = log
        self.warm_since = {}  # name → monotonic time of the cold query that opened its TTL window
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        received = time.monotonic()
        try:
            reply, delay, entry = self.answer(data, received)
        except Malformed as error:
            entry = {"error": str(error)}
            reply, delay = None, 0.0
            if len(data) >= 12:  # FORMERR with the query's id, no question
                ident, flags = struct.unpack("!HH", data[:4])
                reply = struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x0100) | RCODE_FORMERR, 0, 0, 0, 0)
        entry.update({"t": round(time.time(), 6), "client": "%s:%d" % addr[:2], "delay_ms": round(delay * 1000, 1)})
        self.log(entry)
        if reply is None:
            return
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self.transport.sendto, reply, addr)
        else:
            self.transport.sendto(reply, addr)

    def answer(self, data, now):
        if len(data) < 12:
            raise Malformed("shorter than a header")
        ident, flags, qdcount, _, _, arcount = struct.unpack("!HHHHHH", data[:12])
        if flags & 0x8000:
            raise Malformed("a response, not a query")
        if qdcount != 1:
            raise Malformed("%d questions" % qdcount)
        name, offset = parse_name(data, 12)
        if offset + 4 > len(data):
            raise Malformed("question truncated")
        qtype, qclass = struct.unpack("!HH", data[offset:offset + 4])
        question = data[12:offset + 4]
        entry = {"id": ident, "name": name, "type": TYPE_NAMES.get(qtype, str(qtype))}
        opcode = (flags >> 11) & 0xF
        rd = flags & 0x0100
        header_flags = 0x8000 | 0x0400 | rd | 0x0080  # QR, AA, RD copied, RA (clients expect recursion)
        answers, authority, delay = b"", b"", 0.0
        if opcode != 0:
            rcode = RCODE_NOTIMP
        elif name not in self.zone.records:
            rcode = RCODE_NXDOMAIN
            authority = self.zone.soa(name)
            entry["answer"] = "NXDOMAIN"
        else:
            rcode = RCODE_NOERROR
            if qtype == TYPE_A and qclass == 1:
                address = self.zone.records[name]
                answers = (b"\xc0\x0c" + struct.pack("!HHIH", TYPE_A, 1, self.zone.ttl, 4) + address.packed)
                since = self.warm_since.get(name)
                if since is None or now - since >= self.zone.ttl:
                    self.warm_since[name] = now
                    delay = self.cold_delay
                    entry["cold"] = True
                entry["answer"] = str(address)
            elif qtype == TYPE_AAAA:
                delay = self.aaaa_delay
                authority = self.zone.soa(name)
                entry["answer"] = "NODATA"
            else:
                authority = self.zone.soa(name)
                entry["answer"] = "NODATA"
        ancount = 1 if answers else 0
        nscount = 1 if authority else 0
        header = struct.pack("!HHHHHH", ident, header_flags | rcode, 1, ancount, nscount, 0)
        return header + question + answers + authority, delay, entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.2", help="address to bind (default 127.0.0.2)")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--record", action="append", default=[], metavar="NAME=IPV4",
                        help="an A record (repeatable; default edge.test=127.0.0.2)")
    parser.add_argument("--cold-delay-ms", type=float, default=0.0,
                        help="extra delay of the first A query per name per TTL window (default 0)")
    parser.add_argument("--aaaa-delay-ms", type=float, default=300.0,
                        help="delay of every AAAA answer, which is NODATA (default 300)")
    parser.add_argument("--ttl", type=int, default=60, help="TTL of answers and of the cold window, s (default 60)")
    parser.add_argument("--log", help="append the query log here (default: stdout)")
    args = parser.parse_args()
    records = {}
    for item in args.record or ["edge.test=127.0.0.2"]:
        name, _, address = item.partition("=")
        try:
            records[name.strip(".").lower()] = ipaddress.IPv4Address(address)
        except ValueError:
            parser.error("--record %r: expected NAME=IPV4" % item)
    if args.ttl < 0 or args.cold_delay_ms < 0 or args.aaaa_delay_ms < 0:
        parser.error("delays and TTL must be non-negative")
    out = open(args.log, "a", buffering=1) if args.log else sys.stdout

    def log(entry):
        out.write(json.dumps(entry, sort_keys=True) + "\n")
        out.flush()

    async def serve():
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        transport, _ = await loop.create_datagram_endpoint(
            lambda: DNSProtocol(Zone(records, args.ttl), args.cold_delay_ms / 1000, args.aaaa_delay_ms / 1000, log),
            local_addr=(args.listen, args.port))
        log({"t": round(time.time(), 6), "event": "listening", "addr": "%s:%d" % (args.listen, args.port),
             "records": {k: str(v) for k, v in records.items()}, "cold_delay_ms": args.cold_delay_ms,
             "aaaa_delay_ms": args.aaaa_delay_ms, "ttl": args.ttl})
        try:
            await stop
        finally:
            transport.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
