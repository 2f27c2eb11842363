#!/usr/bin/env python3
"""Pages made only for the pictures of docs/images/ (scripts/make_doc_images.sh).

Usage: doc_image_pages.py large|rings OUT.page.json
"""
import json
import sys


def large(path):
    # Groups of five: an input, a min and a max Const, then two PerChannel blocks in a row.
    blocks, links = [], []
    for g in range(200):
        x, lo, hi, a, b = (f"{n}{g}" for n in ("x", "lo", "hi", "fq", "fqb"))
        col, row = g % 8, g // 8
        def at(k):
            return [40 + (col * 5 + k) * 190, 40 + row * 260]
        blocks += [
            {"id": x, "type": "Const", "position": at(0), "attrs": {"shape": [4], "values": [-1, 0, 5, 6]}},
            {"id": lo, "type": "Const", "position": at(1), "attrs": {"shape": [4], "values": [0, 0, 0, 0]}},
            {"id": hi, "type": "Const", "position": at(2), "attrs": {"shape": [4], "values": [5, 5, 5, 5]}},
            # Every 23rd group has num_bits 1, out of range: its blocks show as red boxes.
            {"id": a, "type": "FakeQuantWithMinMaxVarsPerChannel", "position": at(3),
             "attrs": {"num_bits": 1 if g % 23 == 7 else 8}},
            {"id": b, "type": "FakeQuantWithMinMaxVarsPerChannel", "position": at(4), "attrs": {}},
        ]
        for src, dst, port in ((x, a, "inputs"), (lo, a, "min"), (hi, a, "max"),
                               (a, b, "inputs"), (lo, b, "min"), (hi, b, "max")):
            links.append({"from": [src, "output"], "to": [dst, port]})
    json.dump({"format": "quantspace-page", "version": 1, "name": "large", "blocks": blocks,
               "links": links}, open(path, "w"))


def rings(path):
    def lin(a, b, n):
        return [round(a + (b - a) * i / (n - 1), 6) for i in range(n)]
    blocks = [
        {"id": "rows", "type": "Const", "position": [40, 40],
         "attrs": {"shape": [1, 48, 1], "values": lin(-1.5, 1.5, 48)}},
        {"id": "cols", "type": "Const", "position": [40, 220],
         "attrs": {"shape": [1, 1, 64], "values": lin(-2, 2, 64)}},
        {"id": "offset", "type": "Const", "position": [40, 400],
         "attrs": {"shape": [4, 1, 1], "values": [0, 0.5, 1, 2]}},
        {"id": "noise", "type": "RandomNormal", "position": [40, 580],
         "attrs": {"shape": [4, 48, 64], "seed": 3, "mean": 0, "stddev": 0.05}},
        {"id": "rows2", "type": "Square", "position": [260, 40], "attrs": {}},
        {"id": "cols2", "type": "Square", "position": [260, 220], "attrs": {}},
        {"id": "bowl", "type": "Add", "position": [480, 120], "attrs": {}},
        {"id": "shifted", "type": "Add", "position": [700, 260], "attrs": {}},
        {"id": "x", "type": "Add", "position": [920, 400], "attrs": {}},
        {"id": "fq", "type": "FakeQuantWithMinMaxArgs", "position": [1140, 400],
         "attrs": {"min": 0, "max": 6, "num_bits": 3, "narrow_range": False}},
    ]
    def link(a, ap, b, bp):
        return {"from": [a, ap], "to": [b, bp]}
    links = [link("rows", "output", "rows2", "x"), link("cols", "output", "cols2", "x"),
             link("rows2", "y", "bowl", "x"), link("cols2", "y", "bowl", "y"),
             link("bowl", "z", "shifted", "x"), link("offset", "output", "shifted", "y"),
             link("shifted", "z", "x", "x"), link("noise", "output", "x", "y"),
             link("x", "z", "fq", "inputs")]
    json.dump({"format": "quantspace-page", "version": 1,
               "name": "A bowl, fake-quantized to 3 bits", "blocks": blocks, "links": links},
              open(path, "w"), indent=1)


if __name__ == "__main__":
    {"large": large, "rings": rings}[sys.argv[1]](sys.argv[2])
