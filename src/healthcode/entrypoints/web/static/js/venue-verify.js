/* Offline verification of health codes in the guard's browser.

   The same checks as the server's standalone verifier (src/healthcode/verifier/verify.py), in the
   same order and with the same reason codes, so the door and the server agree:
   framing (HCODE1: + base45, RFC 9285 + zlib) -> size caps -> COSE_Sign1 (RFC 9052) -> key lookup
   by kid on the trust list -> signature (WebCrypto: ES256, or PS256) -> claims -> issuer -> time
   window (skew only on iat and on key validity; exp is exact) -> colour. The payload is decoded
   only after its signature verified, and anything unforeseen is "invalid", never "admit".

   The trust list is checked as verifier/trustlist.py checks it: its anchor key must have the
   pinned fingerprint (SHA-256 of the SubjectPublicKeyInfo), and the anchor's ES256 signature
   must verify over the list's canonical JSON; each key's kid must be its truncated SHA-256.

   CBOR comes from the vendored cbor-x (no-eval build: the pages forbid eval). */
(function () {
  "use strict";

  const PREFIX = "HCODE1:";
  const MAX_TEXT_CHARS = 1024;
  const MAX_COSE_BYTES = 2048;
  const ES256 = -7;
  const PS256 = -37;
  const ALGORITHMS = { ES256: ES256, PS256: PS256 };
  const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
  const FORMAT = "healthcode-trust-list/1";
  const COSE_SIGN1_TAG = 18;
  const CLAIM_ISS = 1, CLAIM_EXP = 4, CLAIM_IAT = 6, CLAIM_STATUS = -65537;
  const COLOURS = ["green", "yellow", "red"];
  const HEADER_ALG = 1, HEADER_KID = 4;

  class Failure extends Error {
    constructor(reason) {
      super(reason);
      this.reason = reason;
    }
  }

  // --- Bytes -------------------------------------------------------------------------------

  function concat(parts) {
    const size = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(size);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  function fromBase64(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) {
      throw new Failure("bad_trust_list");
    }
    const raw = atob(text);
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  function toBase64(bytes) {
    return btoa(String.fromCharCode.apply(null, Array.from(bytes)));
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  // --- Base45 (RFC 9285) ---------------------------------------------------------------------

  function b45decode(text) {
    const digits = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const value = ALPHABET.indexOf(text[i]);
      if (value < 0) throw new Failure("bad_base45");
      digits[i] = value;
    }
    const rest = text.length % 3;
    if (rest === 1) throw new Failure("bad_base45");
    const full = text.length - rest;
    const out = new Uint8Array((full / 3) * 2 + (rest ? 1 : 0));
    let at = 0;
    for (let i = 0; i < full; i += 3) {
      const n = digits[i] + 45 * digits[i + 1] + 2025 * digits[i + 2];
      if (n > 0xffff) throw new Failure("bad_base45");
      out[at++] = n >> 8;
      out[at++] = n & 0xff;
    }
    if (rest === 2) {
      const n = digits[full] + 45 * digits[full + 1];
      if (n > 0xff) throw new Failure("bad_base45");
      out[at] = n;
    }
    return out;
  }

  // --- zlib, bounded (a "zlib bomb" stops at MAX_COSE_BYTES) ---------------------------------

  async function inflate(bytes) {
    let reader;
    try {
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
      reader = stream.getReader();
    } catch (e) {
      throw new Failure("bad_compression");
    }
    const chunks = [];
    let size = 0;
    try {
      for (;;) {
        const next = await reader.read();
        if (next.done) break;
        size += next.value.length;
        if (size > MAX_COSE_BYTES) {
          reader.cancel().catch(() => {});
          throw new Failure("too_large");
        }
        chunks.push(next.value);
      }
    } catch (e) {
      if (e instanceof Failure) throw e;
      throw new Failure("bad_compression"); // truncated, corrupt, or bytes after the end
    }
    return concat(chunks);
  }

  // --- CBOR and COSE_Sign1 -------------------------------------------------------------------

  const decoder = new CBOR.Decoder({ mapsAsObjects: false, useRecords: false });

  function cbor(bytes) {
    // cbor-x throws on bytes after the first item: exactly one item, as loads_exact wants.
    return decoder.decode(bytes);
  }

  const isBytes = (v) => v instanceof Uint8Array;
  const isInt = (v) => typeof v === "number" && Number.isInteger(v);
  const isMap = (v) => v instanceof Map;

  function parseSign1(data) {
    let obj;
    try {
      obj = cbor(data);
    } catch (e) {
      throw new Failure("malformed");
    }
    if (obj instanceof CBOR.Tag) {
      if (obj.tag !== COSE_SIGN1_TAG) throw new Failure("malformed");
      obj = obj.value;
    }
    if (!Array.isArray(obj) || obj.length !== 4) throw new Failure("malformed");
    const [protectedRaw, unprotected, payload, signature] = obj;
    if (!isBytes(protectedRaw) || !isBytes(payload) || !isBytes(signature)) {
      throw new Failure("malformed");
    }
    let header = new Map();
    if (protectedRaw.length) {
      try {
        header = cbor(protectedRaw);
      } catch (e) {
        throw new Failure("malformed");
      }
    }
    if (!isMap(header) || !isMap(unprotected)) throw new Failure("malformed");
    const alg = header.get(HEADER_ALG);
    // A kid may sit in either header, as in the EU DCC, but the protected one wins.
    let kid = header.get(HEADER_KID);
    if (kid === undefined) kid = unprotected.get(HEADER_KID);
    if (alg !== undefined && !isInt(alg)) throw new Failure("malformed");
    if (kid !== undefined && !isBytes(kid)) throw new Failure("malformed");
    return { protectedRaw, alg, kid, payload, signature };
  }

  function bstr(bytes) {
    const n = bytes.length;
    let head;
    if (n < 24) head = [0x40 + n];
    else if (n < 0x100) head = [0x58, n];
    else if (n < 0x10000) head = [0x59, n >> 8, n & 0xff];
    else head = [0x5a, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
    return concat([Uint8Array.from(head), bytes]);
  }

  // Sig_structure (RFC 9052 §4.4): ["Signature1", protected, external_aad = h'', payload].
  const SIG1_PREFIX = concat([Uint8Array.of(0x84, 0x6a), new TextEncoder().encode("Signature1")]);

  function sigStructure(msg) {
    return concat([SIG1_PREFIX, bstr(msg.protectedRaw), Uint8Array.of(0x40), bstr(msg.payload)]);
  }

  async function verifySignature(msg, key) {
    const data = sigStructure(msg);
    try {
      if (key.alg === ES256) {
        if (msg.signature.length !== 64) return false; // COSE carries r || s, as WebCrypto does
        return await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key.cryptoKey,
          msg.signature, data);
      }
      if (key.alg === PS256) {
        // RFC 8230 §2: MGF1 with SHA-256 and a salt as long as the hash.
        return await crypto.subtle.verify({ name: "RSA-PSS", saltLength: 32 }, key.cryptoKey,
          msg.signature, data);
      }
    } catch (e) {
      return false;
    }
    return false;
  }

  // --- Claims (verifier/claims.py) -----------------------------------------------------------

  function decodeHealthClaims(payload) {
    let claims;
    try {
      claims = cbor(payload);
    } catch (e) {
      throw new Failure("bad_claims");
    }
    const typed = (map, key, check) => {
      if (!isMap(map)) throw new Failure("bad_claims");
      const value = map.get(key);
      if (!check(value)) throw new Failure("bad_claims");
      return value;
    };
    const isText = (v) => typeof v === "string";
    const status = typed(claims, CLAIM_STATUS, isMap);
    const colour = typed(status, 1, isInt);
    if (colour < 0 || colour >= COLOURS.length) throw new Failure("bad_claims");
    const masked = status.get(5);
    if (masked !== undefined && masked !== null && !isText(masked)) throw new Failure("bad_claims");
    return {
      issuer: typed(claims, CLAIM_ISS, isText),
      issuedAt: typed(claims, CLAIM_IAT, isInt),
      expiresAt: typed(claims, CLAIM_EXP, isInt),
      colour: COLOURS[colour],
      validUntil: typed(status, 2, isInt),
      ruleRef: typed(status, 3, isText),
      subjectRef: typed(status, 4, isBytes),
      maskedName: masked || null,
    };
  }

  // --- Trust list (verifier/trustlist.py) ----------------------------------------------------

  // Deterministic JSON as Python's json.dumps(sort_keys=True, separators=(",", ":"),
  // ensure_ascii=False): the bytes the anchor signed. Trust lists hold no floats.
  function canonicalJson(value) {
    if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
    if (value !== null && typeof value === "object") {
      const keys = Object.keys(value).sort();
      return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJson(value[k])).join(",") + "}";
    }
    return JSON.stringify(value);
  }

  function nonNegativeInt(obj, name, optional) {
    const value = obj[name];
    if ((value === null || value === undefined) && optional) return null;
    if (!isInt(value) || value < 0) throw new Failure("bad_trust_list");
    return value;
  }

  async function importKey(spki, alg) {
    if (alg === ES256) {
      return crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false,
        ["verify"]);
    }
    const key = await crypto.subtle.importKey("spki", spki, { name: "RSA-PSS", hash: "SHA-256" },
      false, ["verify"]);
    if (key.algorithm.modulusLength < 2048) throw new Failure("bad_trust_list");
    return key;
  }

  async function trustedKey(city, raw) {
    if (raw === null || typeof raw !== "object") throw new Failure("bad_trust_list");
    const alg = ALGORITHMS[raw.alg];
    if (alg === undefined || (raw.use !== "health" && raw.use !== "place")) {
      throw new Failure("bad_trust_list");
    }
    const spki = fromBase64(raw.public_key);
    let cryptoKey;
    try {
      cryptoKey = await importKey(spki, alg); // fails if the key's type does not match alg
    } catch (e) {
      throw new Failure("bad_trust_list");
    }
    const kid = (await sha256(spki)).slice(0, 8);
    if (raw.kid !== toBase64(kid)) throw new Failure("bad_trust_list");
    const key = {
      city: city,
      kid: hex(kid),
      use: raw.use,
      alg: alg,
      cryptoKey: cryptoKey,
      notBefore: nonNegativeInt(raw, "not_before"),
      notAfter: nonNegativeInt(raw, "not_after"),
      withdrawnAt: nonNegativeInt(raw, "withdrawn_at", true),
    };
    if (key.notAfter <= key.notBefore) throw new Failure("bad_trust_list");
    return key;
  }

  /* Check a trust list document against the pinned anchor fingerprint; throws
     Failure("bad_trust_list") or returns {city, version, issuedAt, keys}. */
  async function loadTrustList(documentText, pinnedFingerprint) {
    let body, signature;
    try {
      const outer = JSON.parse(documentText);
      body = outer.trust_list;
      signature = fromBase64(outer.signature);
    } catch (e) {
      throw new Failure("bad_trust_list");
    }
    if (body === null || typeof body !== "object" || body.format !== FORMAT) {
      throw new Failure("bad_trust_list");
    }
    const anchorRaw = body.anchor;
    if (anchorRaw === null || typeof anchorRaw !== "object") throw new Failure("bad_trust_list");
    const anchorSpki = fromBase64(anchorRaw.public_key);
    if (hex(await sha256(anchorSpki)) !== String(pinnedFingerprint).toLowerCase()) {
      throw new Failure("bad_trust_list"); // signed by an anchor that is not the pinned one
    }
    if (signature.length !== 64) throw new Failure("bad_trust_list");
    let anchor;
    try {
      anchor = await importKey(anchorSpki, ES256);
    } catch (e) {
      throw new Failure("bad_trust_list");
    }
    const signed = new TextEncoder().encode(canonicalJson(body));
    const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, anchor, signature,
      signed);
    if (!ok) throw new Failure("bad_trust_list");
    if (typeof body.city !== "string" || !body.city || !Array.isArray(body.keys)) {
      throw new Failure("bad_trust_list");
    }
    const keys = [];
    for (const raw of body.keys) keys.push(await trustedKey(body.city, raw));
    return {
      city: body.city,
      version: nonNegativeInt(body, "version"),
      issuedAt: nonNegativeInt(body, "issued_at"),
      keys: keys,
    };
  }

  // --- The verdict ---------------------------------------------------------------------------

  function verdict(decision, reason, extra) {
    return Object.assign({ decision: decision, reason: reason, validUntil: null,
      maskedName: null, colour: null, issuer: null }, extra || {});
  }

  async function signedBy(msg, trust) {
    if (msg.alg !== ES256 && msg.alg !== PS256) throw new Failure("wrong_algorithm");
    if (msg.kid === undefined) throw new Failure("unknown_key");
    const kid = hex(msg.kid);
    const candidates = trust.keys.filter((k) => k.kid === kid && k.use === "health" &&
      k.alg === msg.alg);
    if (!candidates.length) throw new Failure("unknown_key");
    const verified = [];
    for (const key of candidates) if (await verifySignature(msg, key)) verified.push(key);
    if (!verified.length) throw new Failure("bad_signature");
    const usable = verified.filter((k) => k.withdrawnAt === null);
    if (!usable.length) throw new Failure("key_withdrawn");
    return usable;
  }

  function timeProblem(claims, key, now, policy) {
    const skew = policy.maxSkew;
    if (claims.expiresAt - claims.issuedAt > policy.maxLifetime) return "lifetime_too_long";
    if (claims.issuedAt < key.notBefore - skew || claims.expiresAt > key.notAfter + skew) {
      return "outside_key_validity";
    }
    if (claims.issuedAt > now + skew) return "not_yet_valid";
    // Expiry is expiry (SIG-9): no skew on exp, only on iat and on the key's validity.
    if (claims.expiresAt <= now) return "expired";
    return null;
  }

  async function open(text) {
    if (typeof text !== "string") throw new Failure("not_text");
    text = text.trim();
    if (!text.startsWith(PREFIX)) throw new Failure("wrong_prefix");
    if (text.length > MAX_TEXT_CHARS) throw new Failure("too_large");
    const cose = await inflate(b45decode(text.slice(PREFIX.length)));
    return parseSign1(cose);
  }

  async function check(text, trust, now, policy) {
    const msg = await open(text);
    const keys = await signedBy(msg, trust);
    const claims = decodeHealthClaims(msg.payload);
    const key = keys.find((k) => k.city === claims.issuer);
    if (!key) return verdict("invalid", "wrong_issuer", { issuer: claims.issuer });
    const problem = timeProblem(claims, key, now, policy);
    if (problem) {
      const ended = problem === "expired" ? { validUntil: claims.expiresAt } : {};
      return verdict("invalid", problem, Object.assign({ issuer: claims.issuer }, ended));
    }
    let decision = "admit", reason = "ok";
    if (claims.validUntil <= now) {
      decision = "refuse";
      reason = "status_expired";
    } else if (policy.refusedColours.indexOf(claims.colour) >= 0) {
      decision = "refuse";
      reason = claims.colour === "red" ? "status_red" : "status_yellow";
    }
    return verdict(decision, reason, {
      issuer: claims.issuer,
      colour: claims.colour,
      validUntil: Math.min(claims.validUntil, claims.expiresAt),
      maskedName: claims.maskedName,
    });
  }

  /* verifyHealthCode(text, trust, now, policy) -> {decision: admit|refuse|invalid, reason,
     validUntil, maskedName, colour, issuer}. Never throws. `policy` is {maxSkew, maxLifetime,
     refusedColours: ["yellow", "red"]}. */
  async function verifyHealthCode(text, trust, now, policy) {
    if (!trust) return verdict("invalid", "unknown_key");
    try {
      return await check(text, trust, now, policy);
    } catch (e) {
      return verdict("invalid", e instanceof Failure ? e.reason : "malformed");
    }
  }

  window.HealthcodeVerifier = {
    verifyHealthCode: verifyHealthCode,
    loadTrustList: loadTrustList,
    canonicalJson: canonicalJson,
    b45decode: b45decode,
    sha256: sha256,
    hex: hex,
  };
})();
