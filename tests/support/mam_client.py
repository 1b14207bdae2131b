#!/usr/bin/python3
"""Reads a room's history and archive the way a real client does: slixmpp's XEP-0313 plugin.

Run with Debian's /usr/bin/python3 (python3-slixmpp 1.8). Connects as --jid (plain c2s on
loopback). Unless --no-join, joins --room as --nick first, asking for
`<history maxstanzas=K/>` (--join-history-maxstanzas, default 0; -1: no <history/>, the
room's default), and prints each delayed line received before the subject:
  {"kind": "history", "nick": ..., "body": ..., "delay": ..., "stanza_id": ...}
Then reads the archive in one of two ways:
- with --mam-before ID (an empty ID: the last page), --mam-after ID, --mam-start ISO,
  --with NICK or --one-page: one query (RSM max --mam-max), one line per result and the fin:
  {"kind": "mam", "id": ..., "nick": ..., "body": ..., "stamp": ...}
  {"kind": "fin", "complete": ..., "first": ..., "last": ...}
- otherwise: pages back from the newest line with the plugin's iterator (`<before/>` pages
  of --mam-max, at most --total results) and prints the results oldest first, then
  {"kind": "done", "count": N}.
An iq error prints {"kind": "error", "condition": ..., "text": ...}. Exit 0 unless it
cannot connect or log in; 30 s at most.
"""

import argparse
import asyncio
import json
import logging
import sys
from datetime import datetime

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def emit_result(msg):
    result = msg["mam_result"]
    fwd = result["forwarded"]
    inner = fwd["stanza"]
    emit({"kind": "mam", "id": result["id"], "nick": inner["from"].resource,
          "body": inner["body"], "stamp": str(fwd["delay"]["stamp"])})


class Reader(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password,
                         plugin_config={"feature_mechanisms": {"unencrypted_plain": True}})
        self.args = args
        self.room = slixmpp.JID(args.room)
        self.exit_code = 1
        for plugin in ("xep_0059", "xep_0203", "xep_0313", "xep_0045", "xep_0359"):
            self.register_plugin(plugin)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("connection_failed", lambda _e: self.stop(1))
        self.add_event_handler("failed_all_auth", lambda _e: self.stop(1))
        self.done = asyncio.Future()

    def stop(self, code):
        self.exit_code = code
        if not self.done.done():
            self.done.set_result(None)

    async def join(self):
        """Joins and prints the delayed lines before the subject (not with join_muc_wait:
        slixmpp 1.8 prints each message's delay to stdout there)."""
        subject = asyncio.get_running_loop().create_future()

        def on_subject(_msg):
            if not subject.done():
                subject.set_result(None)

        def on_message(msg):
            delay = msg.get_plugin("delay", check=True)
            if subject.done() or delay is None or delay["from"] != self.room:
                return
            sid = msg.get_plugin("stanza_id", check=True)
            emit({"kind": "history", "nick": msg["from"].resource, "body": msg["body"],
                  "delay": str(delay["stamp"]), "stanza_id": sid["id"] if sid else None})

        self.add_event_handler("groupchat_message", on_message)
        self.add_event_handler("groupchat_subject", on_subject)
        pres = self.make_presence(pto="%s/%s" % (self.room, self.args.nick))
        pres.enable("muc_join")
        if self.args.join_history_maxstanzas >= 0:
            pres["muc_join"]["history"]["maxstanzas"] = str(self.args.join_history_maxstanzas)
        pres.send()
        try:
            await asyncio.wait_for(subject, 10)
        finally:
            self.del_event_handler("groupchat_message", on_message)
            self.del_event_handler("groupchat_subject", on_subject)

    async def one_page(self):
        a = self.args
        iq = self.make_iq_set(ito=self.room)
        qid = iq["id"]
        iq["mam"]["queryid"] = qid
        if a.mam_start:
            iq["mam"]["start"] = a.mam_start
        if a.with_nick:
            iq["mam"]["with"] = slixmpp.JID("%s/%s" % (self.room, a.with_nick))
        iq["mam"]["rsm"]["max"] = str(a.mam_max)
        if a.mam_before is not None:
            iq["mam"]["rsm"]["before"] = a.mam_before or True
        if a.mam_after is not None:
            iq["mam"]["rsm"]["after"] = a.mam_after
        results = []

        def on_result(msg):
            if msg["mam_result"]["queryid"] == qid:
                results.append(msg)

        # Not the "message" event: that one only fires for messages with a <body/>.
        self.register_handler(Callback("mam-" + qid, StanzaPath("message/mam_result"), on_result))
        try:
            reply = await iq.send(timeout=10)
        finally:
            self.remove_handler("mam-" + qid)
        for msg in results:
            emit_result(msg)
        fin = reply["mam_fin"]
        emit({"kind": "fin", "complete": fin.xml.get("complete") in ("true", "1"),
              "first": fin["rsm"]["first"] or None, "last": fin["rsm"]["last"] or None})

    async def all_pages(self):
        results = []
        async for msg in self.plugin["xep_0313"].iterate(
                jid=self.room, reverse=True, rsm={"max": self.args.mam_max},
                total=self.args.total):
            results.append(msg)
        results.reverse()
        for msg in results:
            emit_result(msg)
        emit({"kind": "done", "count": len(results)})

    async def on_start(self, _event):
        a = self.args
        single = (a.one_page or a.mam_before is not None or a.mam_after is not None
                  or a.mam_start or a.with_nick)
        try:
            if not a.no_join:
                await self.join()
            await (self.one_page() if single else self.all_pages())
            self.exit_code = 0
        except IqError as e:
            err = e.iq["error"]
            emit({"kind": "error", "condition": err["condition"], "text": err["text"]})
            self.exit_code = 0
        except (IqTimeout, asyncio.TimeoutError):
            emit({"kind": "error", "condition": "timeout", "text": ""})
            self.exit_code = 0
        except Exception as e:  # a bug here: say so at once instead of after 30 s
            emit({"kind": "error", "condition": "client", "text": repr(e)})
            self.exit_code = 1
        self.disconnect()
        self.stop(self.exit_code)


def iso(text):
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError("not a date: %r" % text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--nick", required=True)
    parser.add_argument("--no-join", action="store_true", help="query without joining first")
    parser.add_argument("--join-history-maxstanzas", type=int, default=0, metavar="K",
                        help="<history maxstanzas=K/> on join; -1: no <history/>")
    parser.add_argument("--mam-max", type=int, default=10, help="results per page")
    page = parser.add_mutually_exclusive_group()
    page.add_argument("--mam-before", metavar="ID", help="one page before ID ('': the last)")
    page.add_argument("--mam-after", metavar="ID", help="one page after ID")
    parser.add_argument("--mam-start", metavar="ISO", type=iso, help="start filter, e.g. 2026-01-01T00:00:00Z")
    parser.add_argument("--with", dest="with_nick", metavar="NICK", help="with filter: ROOM/NICK")
    parser.add_argument("--one-page", action="store_true", help="one query from the start")
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
