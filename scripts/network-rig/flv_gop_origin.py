#!/usr/bin/env python3
"""An HTTP-FLV origin with a GOP cache, for the network rig (issue 23). Python 3 stdlib (asyncio) only.

It pulls one live stream once (`ffmpeg -i SOURCE -c copy -f flv pipe:1`, restarted with a back-off when it ends),
parses the FLV tags and keeps: the FLV header, the latest onMetaData, the latest AVC and AAC sequence headers, and
every tag since the latest video keyframe (the GOP cache). A viewer's `GET /live/room.flv` gets, at once, the
response header, the FLV header, metadata, sequence headers and the cached GOP (starting with its keyframe), then the
live tags as they come. The body is close-delimited (HTTP/1.1, `Connection: close`, no length) or, with
`--body chunked`, chunked. `GET /status` gives the cache's state as JSON (the latest keyframe's size among it).

  flv_gop_origin.py --source rtmp://127.0.0.2:1936/live/room --listen 127.0.0.2:8081 [--unix PATH]
                    [--path /live/room.flv] [--body close|chunked] [--burst one-write|per-tag]

`--burst one-write` (default) hands the whole burst to the kernel in one write, as servers that gather their
buffers do (the keyframe then fills whole segments); `per-tag` writes tag by tag (with TCP_NODELAY, which asyncio
sets, each small tag leaves as its own segment: how a naive server spends its initial congestion window).
`--unix PATH` also serves on a Unix socket (the rig's TLS terminator proxies there, so that hop is not on the
emulated link).
"""
import argparse
import asyncio
import collections
import json
import os
import signal
import statistics
import sys
import time

TAG_AUDIO, TAG_VIDEO, TAG_SCRIPT = 8, 9, 18
CLIENT_QUEUE_TAGS = 3000  # ~50 s of a 25 fps stream with audio; a viewer further behind is dropped


def log(message, **fields):
    fields.update({"t": round(time.time(), 3), "msg": message})
    sys.stderr.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stderr.flush()


class Cache:
    """The stream as a late joiner needs it. Tags are kept as their full bytes (11-byte header, data, 4-byte
    PreviousTagSize), ready to send."""

    def __init__(self):
        self.reset()
        self.keyframe_sizes = collections.deque(maxlen=50)  # video tag data sizes of recent keyframes
        self.pulls = 0

    def reset(self):
        self.header = None  # FLV header + PreviousTagSize0
        self.metadata = None
        self.video_sequence = None
        self.audio_sequence = None
        self.gop = []  # tags since the latest video keyframe, that keyframe first
        self.gop_bytes = 0
        self.gop_start_ts = None
        self.last_ts = None
        self.tags = 0
        self.video_codec = None

    def ready(self):
        return self.header is not None and bool(self.gop)

    def add(self, tag_type, data, ts, raw):
        """Record a tag; True when it is to be sent to live viewers (sequence headers and metadata are sent too:
        a mid-stream change reaches everyone)."""
        self.tags += 1
        self.last_ts = ts
        if tag_type == TAG_SCRIPT:
            if data[:13] == b"\x02\x00\x0aonMetaData":
                self.metadata = raw
            return True
        if tag_type == TAG_VIDEO and data:
            frame_type, codec = data[0] >> 4, data[0] & 0x0F
            self.video_codec = codec
            if codec in (7, 12) and len(data) > 1 and data[1] == 0:  # AVC/HEVC sequence header
                self.video_sequence = raw
                return True
            if frame_type == 1:  # keyframe: a new GOP starts
                self.gop = []
                self.gop_bytes = 0
                self.gop_start_ts = ts
                self.keyframe_sizes.append(len(data))
        elif tag_type == TAG_AUDIO and data:
            if data[0] >> 4 == 10 and len(data) > 1 and data[1] == 0:  # AAC sequence header
                self.audio_sequence = raw
                return True
        if self.gop or (tag_type == TAG_VIDEO and data and data[0] >> 4 == 1):
            self.gop.append(raw)
            self.gop_bytes += len(raw)
        return True

    def burst(self):
        """What a new viewer gets at once, as a list of buffers: header, metadata, sequence headers, the GOP."""
        parts = [self.header]
        parts += [p for p in (self.metadata, self.video_sequence, self.audio_sequence) if p]
        return parts + list(self.gop)

    def status(self):
        sizes = list(self.keyframe_sizes)
        prefix = sum(len(p) for p in (self.header, self.metadata, self.video_sequence, self.audio_sequence) if p)
        return {
            "ready": self.ready(),
            "pulls": self.pulls,
            "tags": self.tags,
            "video_codec": self.video_codec,
            "gop_tags": len(self.gop),
            "gop_bytes": self.gop_bytes,
            "gop_ms": (self.last_ts - self.gop_start_ts) if self.gop else None,
            "burst_prefix_bytes": prefix,
            "keyframe_tag_bytes": (len(self.gop[0]) if self.gop else None),
            "keyframe_data_bytes_last": sizes[-1] if sizes else None,
            "keyframe_data_bytes_median": int(statistics.median(sizes)) if sizes else None,
            "keyframes_seen": len(sizes),
        }


class Viewer:
    def __init__(self, peer):
        self.peer = peer
        self.queue = asyncio.Queue(maxsize=CLIENT_QUEUE_TAGS)
        self.dropped = False


class Origin:
    def __init__(self, args):
        self.args = args
        self.cache = Cache()
        self.viewers = set()
        self.served = 0
        self.keyframe_event = asyncio.Event()

    # The pull: one ffmpeg, restarted when it ends.

    async def pull_forever(self):
        backoff = 0.5
        while True:
            started = time.monotonic()
            try:
                await self.pull_once()
            except (asyncio.IncompleteReadError, ValueError) as error:
                log("pull ended", error=repr(error))
            except Exception as error:  # keep serving; a new pull follows
                log("pull failed", error=repr(error))
            self.cache.reset()
            self.keyframe_event.clear()
            backoff = 0.5 if time.monotonic() - started > 10 else min(backoff * 2, 5.0)
            await asyncio.sleep(backoff)

    async def pull_once(self):
        command = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-i", self.args.source,
                   "-c", "copy", "-f", "flv", "-flvflags", "no_duration_filesize", "pipe:1"]
        self.cache.pulls += 1
        log("pull starting", command=" ".join(command))
        process = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.DEVNULL,
                                                       stdout=asyncio.subprocess.PIPE, limit=1 << 20)
        try:
            stream = process.stdout
            header = await stream.readexactly(9)
            if header[:3] != b"FLV":
                raise ValueError("not FLV: %r" % header[:3])
            offset = int.from_bytes(header[5:9], "big")
            if offset > 9:
                header += await stream.readexactly(offset - 9)
            header += await stream.readexactly(4)  # PreviousTagSize0
            self.cache.header = header
            log("pull streaming")
            while True:
                head = await stream.readexactly(11)
                tag_type = head[0] & 0x1F
                size = int.from_bytes(head[1:4], "big")
                ts = int.from_bytes(head[4:7], "big") | (head[7] << 24)
                body = await stream.readexactly(size + 4)
                raw = head + body
                if not self.cache.add(tag_type, body[:size], ts, raw):
                    continue
                if self.cache.ready():
                    self.keyframe_event.set()
                self.broadcast(raw)
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()

    def broadcast(self, raw):
        for viewer in list(self.viewers):
            try:
                viewer.queue.put_nowait(raw)
            except asyncio.QueueFull:
                viewer.dropped = True
                self.viewers.discard(viewer)
                viewer.queue = None

    # HTTP.

    async def handle(self, reader, writer):
        peer = writer.get_extra_info("peername") or "unix"
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        try:
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            method, target, version = line.split(" ", 2)
        except ValueError:
            await self.reply(writer, 400, "Bad Request", b"bad request line\n")
            return
        path = target.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            await self.reply(writer, 405, "Method Not Allowed", b"GET or HEAD\n")
        elif path == "/status":
            body = dict(self.cache.status(), viewers=len(self.viewers), served=self.served)
            await self.reply(writer, 200, "OK", (json.dumps(body) + "\n").encode(), "application/json")
        elif path == self.args.path:
            await self.stream(reader, writer, method, peer)
        else:
            await self.reply(writer, 404, "Not Found", b"no such stream\n")

    async def reply(self, writer, code, reason, body, content_type="text/plain"):
        head = ("HTTP/1.1 %d %s\r\nServer: flv-gop-origin\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                "Connection: close\r\n\r\n" % (code, reason, content_type, len(body))).encode()
        try:
            writer.write(head + body)
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def stream(self, reader, writer, method, peer):
        if not self.cache.ready():
            try:
                await asyncio.wait_for(self.keyframe_event.wait(), 10)
            except asyncio.TimeoutError:
                await self.reply(writer, 503, "Service Unavailable", b"stream not available\n")
                return
        chunked = self.args.body == "chunked"
        head = ("HTTP/1.1 200 OK\r\nServer: flv-gop-origin\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache\r\n"
                + ("Transfer-Encoding: chunked\r\n" if chunked else "") + "Connection: close\r\n\r\n").encode()
        if method == "HEAD":
            writer.write(head)
            writer.close()
            return

        def frame(data):
            return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

        # Snapshot and subscribe in one step of the event loop: nothing can come between them.
        viewer = Viewer(peer)
        burst = self.cache.burst()
        self.viewers.add(viewer)
        self.served += 1
        try:
            if self.args.burst == "one-write":
                writer.write(head + frame(b"".join(burst)))
            else:
                writer.write(head)
                for part in burst:
                    writer.write(frame(part))
            await writer.drain()
            while viewer.queue is not None:
                queue = viewer.queue
                items = [await queue.get()]
                while not queue.empty():
                    items.append(queue.get_nowait())
                writer.write(frame(b"".join(items)))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.viewers.discard(viewer)
            if viewer.dropped:
                log("viewer dropped: too far behind", peer=str(peer))
            writer.close()


async def main(args):
    origin = Origin(args)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    host, _, port = args.listen.rpartition(":")
    servers = [await asyncio.start_server(origin.handle, host or None, int(port), backlog=128)]
    if args.unix:
        if os.path.exists(args.unix):
            os.unlink(args.unix)
        servers.append(await asyncio.start_unix_server(origin.handle, args.unix))
        os.chmod(args.unix, 0o666)
    log("listening", listen=args.listen, unix=args.unix, path=args.path, body=args.body, burst=args.burst)
    pull = asyncio.create_task(origin.pull_forever())
    await stop
    pull.cancel()
    for server in servers:
        server.close()
    if args.unix and os.path.exists(args.unix):
        os.unlink(args.unix)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="what ffmpeg pulls (e.g. rtmp://127.0.0.2:1936/live/room)")
    parser.add_argument("--listen", default="127.0.0.2:8081", help="HOST:PORT (default 127.0.0.2:8081)")
    parser.add_argument("--unix", help="also serve on this Unix socket path")
    parser.add_argument("--path", default="/live/room.flv", help="the stream's path (default /live/room.flv)")
    parser.add_argument("--body", choices=("close", "chunked"), default="close",
                        help="close-delimited (default) or chunked response body")
    parser.add_argument("--burst", choices=("one-write", "per-tag"), default="one-write",
                        help="the join burst in one write (default) or one write per tag")
    asyncio.run(main(parser.parse_args()))
