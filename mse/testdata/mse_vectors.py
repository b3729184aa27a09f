# An independent computation of MSE/PE from the spec, with the standard
# library only (pow for Diffie-Hellman, hashlib for SHA-1, RC4 written out
# here): given both private keys and the info-hash, it prints the public
# keys, the shared secret, the derived hashes and keys, and the exact bytes
# of steps 3 and 4 of a handshake (no padding, crypto_provide 3,
# crypto_select RC4, a 68-byte initial payload) plus one message each way
# after it. mse's TestVectors compares the package with this output.
#
# usage: python3 mse_vectors.py XA XB INFOHASH   (hex)
import hashlib
import json
import sys

P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563", 16)


def H(*parts):
    return hashlib.sha1(b"".join(parts)).digest()


def key_bytes(x):
    return x.to_bytes(96, "big")


class RC4:
    def __init__(self, key, drop):
        s = list(range(256))
        j = 0
        for i in range(256):
            j = (j + s[i] + key[i % len(key)]) & 255
            s[i], s[j] = s[j], s[i]
        self.s, self.i, self.j = s, 0, 0
        self.crypt(bytes(drop))

    def crypt(self, data):
        s, i, j = self.s, self.i, self.j
        out = bytearray()
        for b in data:
            i = (i + 1) & 255
            j = (j + s[i]) & 255
            s[i], s[j] = s[j], s[i]
            out.append(b ^ s[(s[i] + s[j]) & 255])
        self.i, self.j = i, j
        return bytes(out)


xa, xb = int(sys.argv[1], 16), int(sys.argv[2], 16)
skey = bytes.fromhex(sys.argv[3])
ya, yb = pow(2, xa, P), pow(2, xb, P)
s = pow(yb, xa, P)
assert s == pow(ya, xb, P)
S = key_bytes(s)
req1, req2, req3 = H(b"req1", S), H(b"req2", skey), H(b"req3", S)
key_a, key_b = H(b"keyA", S, skey), H(b"keyB", S, skey)
enc_a, enc_b = RC4(key_a, 1024), RC4(key_b, 1024)
ia = b"\x13BitTorrent protocol" + bytes(8) + skey + b"-PY0001-000000000000"
step3 = (req1 + bytes(a ^ b for a, b in zip(req2, req3)) +
         enc_a.crypt(bytes(8) + (3).to_bytes(4, "big") + (0).to_bytes(2, "big") +
                     len(ia).to_bytes(2, "big") + ia))
step4 = enc_b.crypt(bytes(8) + (2).to_bytes(4, "big") + (0).to_bytes(2, "big"))
msg_a, msg_b = b"after the handshake, from A", b"after the handshake, from B"
out = {
    "ya": key_bytes(ya), "yb": key_bytes(yb), "s": S,
    "req1": req1, "skeyhash": req2, "req3": req3, "keyA": key_a, "keyB": key_b,
    "ia": ia, "step3": step3, "step4": step4,
    "msgA": msg_a, "encA": enc_a.crypt(msg_a), "msgB": msg_b, "encB": enc_b.crypt(msg_b),
}
print(json.dumps({k: v.hex() for k, v in out.items()}, indent=1, sort_keys=True))
