"""httpc.py - raw-socket HTTP/1.x client helpers for the qps-server tests.

Deliberately independent of the server's code: it frames responses itself
(status line, headers, Content-Length body; HEAD has no body).
"""
import socket
import time


class Resp:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers      # lower-case name -> value (last wins)
        self.body = body
        self.raw_head = raw_head

    def __repr__(self):
        return "Resp(%d %s, %d bytes)" % (self.status, self.reason, len(self.body))


def connect(port, host="127.0.0.1", timeout=5.0):
    s = socket.create_connection((host, port), timeout=timeout)
    return s


class Reader:
    """Buffered response reader on one socket."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""
        self.eof = False

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def response(self, head_only=False):
        """Next response, or None on a clean EOF before any byte."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                if self.buf:
                    raise EOFError("EOF inside a response head: %r" % self.buf[:200])
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        ver, status, reason = (lines[0].decode("latin-1").split(" ", 2) + [""])[:3]
        if not ver.startswith("HTTP/1."):
            raise ValueError("bad status line %r" % lines[0])
        headers = {}
        for l in lines[1:]:
            k, v = l.decode("latin-1").split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = 0 if head_only else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("EOF inside a body (%d of %d)" % (len(self.buf), n))
        body, self.buf = self.buf[:n], self.buf[n:]
        return Resp(int(status), reason, headers, body, head)

    def closed(self, timeout=3.0):
        """True if the peer closes (EOF or reset) within @timeout with no more data."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return self.buf == b""
                self.buf += d
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def request(port, data, head_only=False, timeout=5.0):
    """Sends @data on a new connection, returns (first response, closed_after)."""
    s = connect(port, timeout=timeout)
    try:
        s.sendall(data)
        r = Reader(s)
        resp = r.response(head_only=head_only)
        return resp, r.closed(timeout=1.0)
    finally:
        s.close()


def get(port, path, headers="", timeout=5.0):
    data = ("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n" % (path, headers)).encode()
    resp, _ = request(port, data, timeout=timeout)
    return resp


def metrics(port):
    """Prometheus text -> {'name{labels}': float}"""
    r = get(port, "/metrics")
    out = {}
    for line in r.body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        k, v = line.rsplit(" ", 1)
        out[k] = float(v)
    return out


def wait_until(fn, timeout=5.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return True
        time.sleep(step)
    return fn()
