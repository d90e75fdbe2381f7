# Connections to ds01d's socket from one user, for tests/boundary_service.rs. Run as the
# user whose connections they must be (peer credentials), with one JSON argument:
#   {"mode": "flood", "socket": P, "initial": N, "loris": L, "hammer": K, "seconds": S}
#       N idle connections at once (L of them sending a head that never ends), then for S
#       seconds K more every round; prints a "ready" line, then a summary, as JSON.
#   {"mode": "streams", "socket": P, "count": C, "hold": H}
#       C followed event streams, each after the last answered; holds the open ones for H
#       seconds; closes one and opens another.
#   {"mode": "slowbody", "socket": P}
#       a request whose body never comes; prints the status of the answer and when it came.
#   {"mode": "probe", "socket": P}
#       one GET /v1/version; prints its status and milliseconds.
# Every loop is bounded in count and time; it talks only to the Unix socket it is given.
import json
import socket
import sys
import time

cfg = json.loads(sys.argv[1])
PATH = cfg["socket"]
ROUND = 0.25


def emit(obj):
    print(json.dumps(obj), flush=True)


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(PATH)
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s


def fate(s):
    """None while the server keeps the connection open and silent, else what it did."""
    try:
        data = s.recv(4096)
    except BlockingIOError:
        return None
    except ConnectionResetError:
        return "reset"
    if not data:
        return "closed"
    if data.startswith(b"HTTP/1.1 429"):
        return "429"
    return "other"


def read_head(s, limit=10.0):
    s.setblocking(True)
    s.settimeout(limit)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.setblocking(False)
    return data


def flood():
    stats = {"attempts": 0, "connect_failed": 0, "refused_429": 0, "refused_other": 0,
             "idle_closed_after": [], "loris_closed_after": [], "max_held": 0,
             "held_at_end": 0, "unexpected": 0}
    tracked = []  # [sock, kind, opened, first byte of a head or None]

    def open_some(k):
        for _ in range(k):
            stats["attempts"] += 1
            s = connect()
            if s is None:
                stats["connect_failed"] += 1
            else:
                tracked.append([s, "idle", time.monotonic(), None])

    def sweep():
        now = time.monotonic()
        for t in list(tracked):
            what = fate(t[0])
            if what is None:
                continue
            tracked.remove(t)
            t[0].close()
            if what == "429":
                stats["refused_429"] += 1
            elif what in ("closed", "reset") and now - t[2] < 1.0:
                stats["refused_other"] += 1
            elif what in ("closed", "reset") and t[1] == "loris":
                stats["loris_closed_after"].append(round(now - t[3], 2))
            elif what in ("closed", "reset"):
                stats["idle_closed_after"].append(round(now - t[2], 2))
            else:
                stats["unexpected"] += 1

    def held():
        now = time.monotonic()
        return sum(1 for t in tracked if now - t[2] >= 2.0)

    open_some(cfg["initial"])
    time.sleep(2.0)
    sweep()
    initially_held = len(tracked)
    for t in tracked[: cfg["loris"]]:
        t[1], t[3] = "loris", time.monotonic()
        t[0].send(b"GET /v1/version HTTP/1.1\r\nHost: ds01d\r\n")
    emit({"ready": True, "held": initially_held,
          "refused": stats["refused_429"] + stats["refused_other"]})
    end = time.monotonic() + cfg["seconds"]
    rounds = 0
    while time.monotonic() < end and rounds < cfg["seconds"] / ROUND + 1:
        rounds += 1
        time.sleep(ROUND)
        for t in tracked:
            if t[1] == "loris" and rounds % 2 == 0:
                try:
                    t[0].send(b"X-Slow: 1\r\n")
                except OSError:
                    pass
        sweep()
        stats["max_held"] = max(stats["max_held"], held())
        open_some(cfg["hammer"])
    time.sleep(ROUND)
    sweep()
    stats["held_at_end"] = len(tracked)
    for t in tracked:
        t[0].close()
    emit(stats)


def streams():
    request = b"GET /v1/events?follow=true HTTP/1.1\r\nHost: ds01d\r\n\r\n"
    out = {"statuses": [], "refusal": "", "open_after_hold": 0, "after_release": None}
    open_streams = []
    for _ in range(cfg["count"]):
        s = connect()
        if s is None:
            out["statuses"].append(0)
            continue
        s.send(request)
        head = read_head(s)
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
        out["statuses"].append(status)
        if status == 200:
            open_streams.append(s)
        else:
            out["refusal"] = head.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")
            s.close()
    time.sleep(cfg["hold"])
    out["open_after_hold"] = sum(1 for s in open_streams if fate(s) in (None, "other"))
    if open_streams:
        open_streams.pop().close()
    # The server learns of the close when it next reads; a few tries, bounded.
    for _ in range(20):
        time.sleep(ROUND)
        s = connect()
        if s is None:
            continue
        s.send(request)
        head = read_head(s)
        if head.startswith(b"HTTP/1.1 200"):
            out["after_release"] = 200
            open_streams.append(s)
            break
        out["after_release"] = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
        s.close()
    for s in open_streams:
        s.close()
    emit(out)


def slowbody():
    """A head that promises a body which never comes: how long until ds01d answers."""
    s = connect()
    start = time.monotonic()
    s.send(b"POST /v1/images HTTP/1.1\r\nHost: ds01d\r\nContent-Type: application/json\r\n"
           b"Content-Length: 1000\r\n\r\n{")
    head = read_head(s, limit=60.0)
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    emit({"status": status, "after": round(time.monotonic() - start, 2)})
    s.close()


def probe():
    start = time.monotonic()
    s = connect()
    if s is None:
        emit({"status": 0, "ms": None})
        return
    s.send(b"GET /v1/version HTTP/1.1\r\nHost: ds01d\r\nConnection: close\r\n\r\n")
    head = read_head(s, limit=60.0)
    ms = round((time.monotonic() - start) * 1000, 1)
    s.close()
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    emit({"status": status, "ms": ms})


{"flood": flood, "streams": streams, "slowbody": slowbody, "probe": probe}[cfg["mode"]]()
