#!/usr/bin/python3
"""Reads a disco#info result (XML on stdin) the way Gajim does, with nbxmpp's own parser.

Run with Debian's /usr/bin/python3 (python3-nbxmpp). Prints one JSON object:
  {"is_muc": ..., "is_irc": ..., "features": [...], "identities": [[category, type, name]]}
Gajim treats a room whose disco#info nbxmpp does not call `is_muc` as no room at all.
Exit 1 if the input is not a disco#info result.
"""

import argparse
import json
import sys

from nbxmpp.modules.discovery import parse_disco_info
from nbxmpp.protocol import Iq
from nbxmpp.simplexml import XML2Node


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    try:
        node = XML2Node(sys.stdin.read())
        info = parse_disco_info(Iq(node=node))
    except Exception as e:  # nbxmpp raises whatever it meets on a non-disco#info input
        sys.exit("not a disco#info result: %r" % e)
    print(json.dumps({
        "is_muc": info.is_muc,
        "is_irc": info.is_irc,
        "features": info.features,
        "identities": [[i.category, i.type, i.name] for i in info.identities],
    }))


if __name__ == "__main__":
    main()
