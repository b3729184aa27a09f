#!/usr/bin/python3
"""Warm up the streaming benchmark's seeders before a measured run.

warm_seeders.py INFOHASH PIECE PORT...

Connects to every seeder on 127.0.0.1:PORT at once, sends a handshake and
INTERESTED, waits (at most 15 s) for its UNCHOKE, then requests the first
16 KiB block of piece PIECE (the harness gives the last piece, which no
measured read starts with) and waits for it. A libtorrent seeder that has
just started answers its first handshake after 150-460 ms, unchokes its
first peer about 0.7 s later and sends its first block 0.5 s after the
request; one that has served a peer unchokes at once and sends a block
within 50 ms, as the seeders of a real swarm do. Without this, the
seeders' start-up, not the client, sets every client's time to the first
byte. Prints each seeder's time to its block; exits 1 if one failed.
"""
import socket
import struct
import sys
import threading
import time


def warm(ih, piece, port, out):
    t0 = time.time()
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=15)
        s.sendall(b'\x13BitTorrent protocol' + b'\x00' * 8 + ih + b'-WARM01-%012d' % port)
        s.sendall(struct.pack('>IB', 1, 2))  # INTERESTED
        buf = b''
        while True:
            d = s.recv(1 << 16)
            if not d:
                break
            buf += d
            if len(buf) < 68:
                continue
            m = buf[68:]
            while len(m) >= 4:
                n = struct.unpack('>I', m[:4])[0]
                if len(m) < 4 + n:
                    break
                if n > 0 and m[4] == 1:  # UNCHOKE: ask for one block
                    s.sendall(struct.pack('>IBIII', 13, 6, piece, 0, 16384))
                if n > 0 and m[4] == 7:  # PIECE
                    out[port] = time.time() - t0
                    s.close()
                    return
                m = m[4 + n:]
            buf = buf[:68] + m
        s.close()
    except OSError as e:
        print('warm %d: %s' % (port, e), file=sys.stderr)


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    ih, piece = bytes.fromhex(sys.argv[1]), int(sys.argv[2])
    ports = [int(p) for p in sys.argv[3:]]
    out = {}
    ts = [threading.Thread(target=warm, args=(ih, piece, p, out)) for p in ports]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print('   warm-up: a block from each seeder after ' + ', '.join(
        '%.0f' % (out[p] * 1000) if p in out else '-' for p in ports) + ' ms')
    sys.exit(0 if len(out) == len(ports) else 1)


if __name__ == '__main__':
    main()
