#!/usr/bin/python3
"""Reads a room's archive the way a real client does: slixmpp's XEP-0313 plugin.

Run with Debian's /usr/bin/python3 (python3-slixmpp 1.8). Connects as --jid (plain c2s on
loopback), optionally joins --room as --nick first (without --no-join), then pages back
through the room's archive from the newest line with the plugin's iterator (RSM
`<before/>` pages of --mam-max), and prints one JSON line per result, oldest first:
  {"kind": "mam", "id": ..., "nick": ..., "body": ..., "stamp": ...}
then {"kind": "done", "count": N}, or {"kind": "error", "condition": ..., "text": ...} when
the query is refused. Exit 0 unless it cannot connect or log in; 30 s at most.
"""

import argparse
import asyncio
import json
import logging
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Reader(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password,
                         plugin_config={"feature_mechanisms": {"unencrypted_plain": True}})
        self.args = args
        self.exit_code = 1
        self.register_plugin("xep_0059")
        self.register_plugin("xep_0313")
        self.register_plugin("xep_0045")
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("connection_failed", lambda _e: self.stop(1))
        self.add_event_handler("failed_all_auth", lambda _e: self.stop(1))
        self.done = asyncio.Future()

    def stop(self, code):
        self.exit_code = code
        if not self.done.done():
            self.done.set_result(None)

    async def on_start(self, _event):
        room = slixmpp.JID(self.args.room)
        try:
            if not self.args.no_join:
                await self.plugin["xep_0045"].join_muc_wait(room, self.args.nick, maxstanzas=0,
                                                            timeout=10)
            results = []
            async for msg in self.plugin["xep_0313"].iterate(
                    jid=room, reverse=True, rsm={"max": self.args.mam_max},
                    total=self.args.total):
                results.append(msg)
            results.reverse()
            for msg in results:
                result = msg["mam_result"]
                fwd = result["forwarded"]
                inner = fwd["stanza"]
                emit({"kind": "mam", "id": result["id"], "nick": inner["from"].resource,
                      "body": inner["body"], "stamp": str(fwd["delay"]["stamp"])})
            emit({"kind": "done", "count": len(results)})
            self.exit_code = 0
        except IqError as e:
            err = e.iq["error"]
            emit({"kind": "error", "condition": err["condition"], "text": err["text"]})
            self.exit_code = 0
        except IqTimeout:
            emit({"kind": "error", "condition": "timeout", "text": ""})
            self.exit_code = 0
        self.disconnect()
        self.stop(self.exit_code)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--nick", required=True)
    parser.add_argument("--no-join", action="store_true", help="query without joining first")
    parser.add_argument("--mam-max", type=int, default=10, help="results per page")
    parser.add_argument("--total", type=int, default=None, help="stop after this many")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    reader = Reader(args)
    reader.connect((args.host, args.port), use_ssl=False, force_starttls=False,
                   disable_starttls=True)
    try:
        loop.run_until_complete(asyncio.wait_for(reader.done, 30))
    except asyncio.TimeoutError:
        emit({"kind": "error", "condition": "timeout", "text": "30 s passed"})
        sys.exit(1)
    sys.exit(reader.exit_code)


if __name__ == "__main__":
    main()
