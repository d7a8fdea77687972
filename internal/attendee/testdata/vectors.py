# Writes python_vectors.json: attendee callbacks as CPython's json module writes and signs them
# (bots/webhook_utils.py sign_payload), for attendee's tests to check Canonical and Verify
# against. Run with python3 vectors.py > python_vectors.json.
import base64, hashlib, hmac, json, random, struct

secret_b64 = base64.b64encode(b"attendee-test-webhook-secret-32b").decode()
key = base64.b64decode(secret_b64)

def sign(payload):
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return canonical, base64.b64encode(hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).digest()).decode()

def callback(metadata, url="https://us02web.zoom.us/j/85012345678?pwd=Ab1"):
    return {"bot_id": "bot_3hJk9", "bot_metadata": metadata, "callback_type": "zoom_tokens", "meeting_url": url}

payloads = [
    callback(None),
    callback({"zoomtoken_ref": "customer-42"}),
    callback({"zoomtoken_ref": ["a", "b"], "zoomtoken_zak": True, "nested": {"z": [1, 2.5, {"y": None, "b": False}], "a": {}}}),
    callback({"name": "Zoë Ångström 東京 🎉", "html": "<script>&amp;</script>", "quote": "she said \"hi\"\\", "sep": "\u2028\u2029"}),
    callback({"ctl": "tab\there\nnew\rret\bback\fform\u0001\u001f\u007f", "empty": ""}),
    callback({"ints": [0, -1, 42, 12345678901234567890123, -9007199254740993], "floats": [1.0, -0.0, 0.1, 1e16, 1e-5, 0.0001, 1.5e-07, 123456789.125, 1e22, 2.5e-300, 9999999999999998.0, 1.7976931348623157e308]}),
    callback({"weird keys": {"é": 1, "e": 2, "Z": 3, "a b": 4, "": 5, "😀": 6, "\uffff": 7}}),
    callback({"deep": [[[[{"k": [["v"]]}]]]]}, url="https://acme.zoom.us/w/93012345678?tk=xyz&pwd=p"),
]
vectors = []
for p in payloads:
    canonical, sig = sign(p)
    # attendee posts with requests' json=, which is json.dumps with its defaults.
    vectors.append({"wire": json.dumps(p), "canonical": canonical, "signature": sig})

rng = random.Random(7)
floats = []
for _ in range(400):
    bits = rng.getrandbits(64)
    f = struct.unpack("<d", struct.pack("<Q", bits))[0]
    if f != f or f in (float("inf"), float("-inf")):
        continue
    floats.append({"bits": "%016x" % bits, "repr": repr(f)})
for f in [0.0, -0.0, 1.0, 1e15, 1e16, 1.5e16, 1e-4, 1e-5, 0.5, 100.0, 123.456, 5e-324, 2**53 + 0.0, 1/3]:
    floats.append({"bits": "%016x" % struct.unpack("<Q", struct.pack("<d", f))[0], "repr": repr(f)})

print(json.dumps({"secret": secret_b64, "vectors": vectors, "floats": floats}, indent=1))
