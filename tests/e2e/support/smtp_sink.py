"""An SMTP server for the e2e tests: accepts mail on 127.0.0.1:PORT and appends each message
as one JSON line to LOG, so a test (tests/e2e/support/mail.rs) sees what a real SMTP client
really sent, and the client sees real SMTP replies.

Usage: python3 smtp_sink.py PORT LOG

Recipients steer the replies, so a test can provoke failures without reconfiguring the
server: a local part starting with `reject-` gets a permanent 550, one starting with
`defer-` a transient 451. While a file LOG.down exists the server is "down": it answers
every EHLO, HELO and MAIL with 421 (service not available) and takes nothing, yet keeps its
port, so no other test's server can take it meanwhile. Prints `ready 127.0.0.1:PORT` once it accepts connections, or
`busy <error>` and exits when it cannot listen on the port (the caller may try again).
"""

import json
import os
import signal
import socket
import sys
import threading

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
REJECT = "550 5.1.1 mailbox unavailable"
DEFER = "451 4.3.0 try again later"
DOWN = "421 4.3.2 service not available"


class Sink:
    def __init__(self, log, down_flag):
        self.log = log
        self.down_flag = down_flag
        # aiosmtpd may serve several sessions at once; one line must never interleave.
        self.lock = threading.Lock()

    def down(self):
        return os.path.exists(self.down_flag)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if self.down():
            return [DOWN]
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        if self.down():
            return DOWN
        session.host_name = hostname
        return "250 {}".format(server.hostname)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.down():
            return DOWN
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.rsplit("@", 1)[0].lower()
        if local.startswith("reject-"):
            return REJECT
        if local.startswith("defer-"):
            return DEFER
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content
        if isinstance(content, bytes):
            content = content.decode("utf-8", errors="replace")
        line = json.dumps(
            {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "data": content}
        )
        with self.lock:
            self.log.write(line + "\n")
            # The test reads the file while this process runs, and may SIGKILL it any time.
            self.log.flush()
        return "250 Message accepted for delivery"


def probe_port(port):
    """Raises OSError at once when the port cannot be listened on, as asyncio would bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((HOST, port))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: smtp_sink.py PORT LOG")
    port, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "a", encoding="utf-8") as log:
        # SMTPUTF8, so that a client may send non-ASCII addresses as lettre can.
        controller = Controller(Sink(log, path + ".down"), hostname=HOST, port=port, enable_SMTPUTF8=True)
        try:
            # Controller.start() notices a taken port only after its 5 s ready timeout.
            probe_port(port)
            # It returns only once the server answers a connection.
            controller.start()
        except OSError as error:
            print(f"busy {error}", flush=True)
            sys.exit(1)
        print(f"ready {HOST}:{port}", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        controller.stop()


if __name__ == "__main__":
    main()
