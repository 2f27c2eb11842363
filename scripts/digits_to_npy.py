"""Converts scikit-learn's digits.csv.gz (1,797 rows of 64 pixel values 0..16 and a label) into
.npy files, with the Python standard library only:

  images.npy        float32 [1797, 8, 8, 1]  the pixel values as in the file (0..16, not scaled)
  labels.npy        int64   [1797]           0..9
  train_*.npy       the images whose row index i has i % 5 != 0 (1,437)
  test_*.npy        the images whose row index i has i % 5 == 0 (360)

Usage: digits_to_npy.py DIGITS_CSV_GZ OUT_DIR
"""
import csv
import gzip
import io
import os
import struct
import sys


def npy_bytes(descr, shape, payload):
    """A .npy file, format 1.0, C order, little endian, header padded to 64 bytes."""
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    pad = 64 - (10 + len(header) + 1) % 64
    header += " " * (pad % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def write(out_dir, name, descr, fmt, shape, values):
    data = npy_bytes(descr, shape, struct.pack("<%d%s" % (len(values), fmt), *values))
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(data)


def main():
    src, out_dir = sys.argv[1], sys.argv[2]
    with gzip.open(src, "rt", newline="") as f:
        rows = [r for r in csv.reader(io.StringIO(f.read())) if r]
    if len(rows) != 1797 or any(len(r) != 65 for r in rows):
        sys.exit("%s: expected 1797 rows of 65 values" % src)
    pixels = [[float(v) for v in r[:64]] for r in rows]
    labels = [int(float(r[64])) for r in rows]
    if any(not 0 <= p <= 16 for row in pixels for p in row) or any(not 0 <= l <= 9 for l in labels):
        sys.exit("%s: a pixel outside 0..16 or a label outside 0..9" % src)

    def save(prefix, idx):
        flat = [p for i in idx for p in pixels[i]]
        write(out_dir, prefix + "images.npy", "<f4", "f", [len(idx), 8, 8, 1], flat)
        write(out_dir, prefix + "labels.npy", "<i8", "q", [len(idx)], [labels[i] for i in idx])

    everything = list(range(len(rows)))
    save("", everything)
    save("train_", [i for i in everything if i % 5 != 0])
    save("test_", [i for i in everything if i % 5 == 0])


if __name__ == "__main__":
    main()
