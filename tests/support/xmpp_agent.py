#!/usr/bin/python3
"""An XMPP user for Switchboard's integration tests, driven over stdin/stdout.

Run it with Debian's /usr/bin/python3 (python3-slixmpp 1.8). The Rust harness in
tests/common/mod.rs spawns it; every line on stdin and stdout is one JSON object.

stdout (flushed after every line):
  {"event": "ready"}                 session started (and initial presence sent with --presence)
  {"stanza": "<iq xmlns=\"jabber:client\" ...>"}
                                     every top-level element received after "ready", as raw XML
                                     whose top element declares its namespace, so it parses alone
  {"event": "connection_failed"}     TCP connect failed (then exit 1)
  {"event": "auth_failed"}           SASL failed (then exit 1)
  {"event": "disconnected"}          the stream ended (then exit: 0 after quit/EOF, else 1)
  {"event": "error", "detail": "..."}
                                     a stdin line was not understood or could not be sent
stdin:
  {"send": "<message .../>"}         written to the stream as-is
  {"quit": true}                     close the stream and exit 0; so does EOF on stdin

Logs go to stderr.
"""

import argparse
import asyncio
import json
import logging
import sys
import threading

import slixmpp
from slixmpp.xmlstream.tostring import tostring


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Agent(slixmpp.ClientXMPP):
    def __init__(self, jid, password, presence):
        # Plaintext c2s on loopback: let SASL PLAIN through without TLS.
        super().__init__(jid, password,
                         plugin_config={"feature_mechanisms": {"unencrypted_plain": True}})
        self.send_initial_presence = presence
        self.ready = False
        self.quitting = False
        # Subscription requests are the test's (and the gateway's) business: neither accept,
        # refuse nor subscribe back on our own.
        self.auto_authorize = None
        self.auto_subscribe = False
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("failed_all_auth", self.on_failed_auth)
        self.add_event_handler("disconnected", self.on_disconnected)
        self.done = asyncio.Future()
        self.exit_code = 1

    def incoming_filter(self, xml):
        # Called for every top-level element read off the stream, before slixmpp turns it
        # into a stanza object or any handler (or a default reply) runs, so iq results and
        # errors, presence and message errors all show up here unchanged. Serialising without
        # a stream context makes tostring() declare the top element's namespace
        # (xmlns="jabber:client"), which minidom needs to parse the stanza on its own.
        if self.ready:
            emit({"stanza": tostring(xml).strip()})
        return xml

    async def on_session_start(self, _event):
        if self.send_initial_presence:
            self.send_presence()
        self.ready = True
        emit({"event": "ready"})

    def on_connection_failed(self, _error):
        emit({"event": "connection_failed"})
        self.finish(1)

    def on_failed_auth(self, _event):
        emit({"event": "auth_failed"})
        self.finish(1)

    def on_disconnected(self, _reason):
        emit({"event": "disconnected"})
        self.finish(0 if self.quitting else 1)

    def finish(self, code):
        self.exit_code = code
        if not self.done.done():
            self.done.set_result(None)

    def command(self, line):
        """Runs one stdin line on the event loop; None means stdin reached EOF."""
        if line is not None:
            line = line.strip()
            if not line:
                return
            try:
                cmd = json.loads(line)
            except ValueError:
                emit({"event": "error", "detail": "not JSON: %r" % line})
                return
            if "send" in cmd:
                if self.transport is None:
                    emit({"event": "error", "detail": "not connected, dropped: " + cmd["send"]})
                else:
                    self.send_raw(cmd["send"])
                return
            if not cmd.get("quit"):
                emit({"event": "error", "detail": "unknown command: %r" % line})
                return
        # quit, or EOF
        self.quitting = True
        if self.transport is None:
            self.finish(0)
        else:
            self.disconnect()


def read_stdin(loop, agent):
    # A plain thread: reading a pipe blocks, and the loop only has to receive whole lines.
    for line in sys.stdin:
        loop.call_soon_threadsafe(agent.command, line)
    loop.call_soon_threadsafe(agent.command, None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--presence", action="store_true",
                        help="send initial available presence after session start")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    agent = Agent(args.jid, args.password, args.presence)
    # Connect to the given address (no SRV lookup), and never negotiate TLS.
    agent.connect((args.host, args.port), use_ssl=False, force_starttls=False,
                  disable_starttls=True)
    threading.Thread(target=read_stdin, args=(loop, agent), daemon=True).start()
    loop.run_until_complete(agent.done)
    sys.exit(agent.exit_code)


if __name__ == "__main__":
    main()
