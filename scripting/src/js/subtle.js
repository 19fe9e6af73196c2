// Web Crypto's SubtleCrypto operations but `digest` (see js/crypto.js, which compiles
// this on a script's first call of one): key import, export, generation and wrapping,
// HMAC, AES, PBKDF2, HKDF, ECDH, signatures. One function expression: it takes what it
// shares with js/crypto.js and returns the operations.
((shared) => {
  "use strict";
  const { host, ILLEGAL, encoder, keys, keyRecord, CryptoKey } = shared;
  // HMAC's default key length per hash: the hash's block size.
  const BLOCK_BITS = { "SHA-1": 512, "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 };
  const subtleOperations = {
    async importKey(format, keyData, algorithm, extractable, usages) {
      const pub = publicKeyParams(algorithm);
      if (pub !== undefined) {
        const isPrivate = format === "pkcs8" || (format === "jwk" && typeof keyData === "object" && keyData !== null && keyData.d !== undefined);
        return isPrivate ? importPrivateKey(format, keyData, pub, extractable, usages) : importPublicKey(format, keyData, pub, extractable, usages);
      }
      const kind = secretKind(algorithm);
      if (kind !== undefined) return importSecret(kind, format, keyData, extractable, usages);
      const alg = hmacParams(algorithm);
      let bytes;
      if (format === "jwk") {
        if (typeof keyData !== "object" || keyData === null) throw new TypeError("keyData must be a JsonWebKey object");
        if (keyData.kty !== "oct") throw new DOMException("JWK kty must be oct", "DataError");
        bytes = base64url(keyData.k, "k");
        const want = `HS${alg.hash.slice(4)}`;
        if (keyData.alg !== undefined && keyData.alg !== want) throw new DOMException(`JWK alg ${keyData.alg} does not match the hash (${want})`, "DataError");
      } else if (format === "raw") {
        bytes = bufferSource(keyData, "keyData").slice();
      } else {
        throw new DOMException(`Unsupported key format: ${format}`, "NotSupportedError");
      }
      if (bytes.byteLength === 0) throw new DOMException("HMAC key data must not be empty", "DataError");
      return newKey(bytes, alg.hash, alg.length ?? bytes.byteLength * 8, extractable, keyUsages(usages));
    },
    async generateKey(algorithm, extractable, usages) {
      const pub = publicKeyParams(algorithm);
      if (pub !== undefined) return generatePair(pub, extractable, usages);
      const aes = aesKind(algorithm);
      if (aes !== undefined) {
        const bits = aesLength(aes, algorithm.length);
        return importSecret(aes, "raw", host.random(bits / 8), extractable, usages);
      }
      const alg = hmacParams(algorithm);
      const bits = alg.length ?? BLOCK_BITS[alg.hash];
      if (bits === 0 || bits % 8 !== 0) throw new DOMException("HMAC key length must be a positive multiple of 8", "OperationError");
      const bytes = new Uint8Array(bits / 8);
      for (let at = 0; at < bytes.length; at += 65536) bytes.set(host.random(Math.min(65536, bytes.length - at)), at);
      return newKey(bytes, alg.hash, bits, extractable, keyUsages(usages));
    },
    async exportKey(format, key) {
      const k = keyRecord(key);
      if (k.type !== "secret") return exportAsymmetric(format, k);
      if (!k.extractable) throw new DOMException("Key is not extractable", "InvalidAccessError");
      if (format === "jwk") {
        const aes = k.algorithm?.name;
        const alg = aes !== undefined && aes.startsWith("AES-") ? `A${k.algorithm.length}${aes.slice(4)}` : `HS${k.hash.slice(4)}`;
        return { kty: "oct", k: toBase64url(k.bytes), alg, key_ops: [...k.usages], ext: true };
      }
      if (format !== "raw") throw new DOMException(`Unsupported key format: ${format}`, "NotSupportedError");
      return k.bytes.slice().buffer;
    },
    async encrypt(algorithm, key, data) { return cipher(true, algorithm, keyRecord(key), "encrypt", data); },
    async decrypt(algorithm, key, data) { return cipher(false, algorithm, keyRecord(key), "decrypt", data); },
    async wrapKey(format, key, wrappingKey, wrapAlgorithm) {
      const k = keyRecord(wrappingKey);
      const exported = await subtleOperations.exportKey(format, key);
      const bytes = format === "jwk" ? encoder.encode(JSON.stringify(exported)) : new Uint8Array(exported);
      return cipher(true, wrapAlgorithm, k, "wrapKey", bytes);
    },
    async unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm, extractable, usages) {
      const k = keyRecord(unwrappingKey);
      const bytes = cipher(false, unwrapAlgorithm, k, "unwrapKey", wrappedKey);
      let keyData = bytes;
      if (format === "jwk") {
        try { keyData = JSON.parse(new TextDecoder().decode(bytes)); } catch { throw new DOMException("The unwrapped key is not a JSON Web Key", "DataError"); }
      }
      return subtleOperations.importKey(format, keyData, unwrappedKeyAlgorithm, extractable, usages);
    },
    async deriveBits(algorithm, baseKey, length) { return deriveBits(algorithm, baseKey, length, "deriveBits"); },
    async deriveKey(algorithm, baseKey, derivedKeyType, extractable, usages) {
      let bits;
      const aes = aesKind(derivedKeyType);
      if (aes !== undefined) {
        bits = aesLength(aes, derivedKeyType.length);
      } else {
        const hmac = hmacParams(derivedKeyType);
        bits = hmac.length ?? BLOCK_BITS[hmac.hash];
      }
      const bytes = new Uint8Array(deriveBits(algorithm, baseKey, bits, "deriveKey"));
      return subtleOperations.importKey("raw", bytes, derivedKeyType, extractable, usages);
    },
    async sign(algorithm, key, data) {
      if (keyRecord(key).type === "private") return signPrivate(algorithm, keyRecord(key), data);
      if (keyRecord(key).type === "public") throw new DOMException('CryptoKey does not support the "sign" operation', "InvalidAccessError");
      const k = usableKey(algorithm, key, "sign");
      return host.hmacSign(k.hash, k.bytes, bufferSource(data, "data"));
    },
    async verify(algorithm, key, signature, data) {
      if (keyRecord(key).type === "public") return verifyPublic(algorithm, keyRecord(key), signature, data);
      if (keyRecord(key).type === "private") throw new DOMException('CryptoKey does not support the "verify" operation', "InvalidAccessError");
      const k = usableKey(algorithm, key, "verify");
      return host.hmacVerify(k.hash, k.bytes, bufferSource(signature, "signature"), bufferSource(data, "data"));
    },
  };
  function newKey(bytes, hash, length, extractable, usages) {
    if (usages.length === 0) throw new DOMException("Usages cannot be empty when creating a key.", "SyntaxError");
    const key = new CryptoKey(ILLEGAL);
    keys.set(key, { type: "secret", bytes, hash, length, extractable: Boolean(extractable), usages });
    return key;
  }
  function algorithmName(algorithm) {
    const name = typeof algorithm === "string" ? algorithm : typeof algorithm === "object" && algorithm !== null ? algorithm.name : undefined;
    if (name === undefined) throw new TypeError("Algorithm: name is required");
    return String(name);
  }
  function hmacParams(algorithm) {
    const name = algorithmName(algorithm);
    if (name.toUpperCase() !== "HMAC") throw new DOMException(`Unrecognized or unimplemented algorithm: ${name}`, "NotSupportedError");
    const hash = algorithm.hash;
    if (hash === undefined) throw new TypeError("HmacImportParams: hash is required");
    const hashName = algorithmName(hash).toUpperCase();
    if (!(hashName in BLOCK_BITS)) throw new DOMException(`Unrecognized or unimplemented hash algorithm: ${hashName}`, "NotSupportedError");
    const length = algorithm.length === undefined ? undefined : Number(algorithm.length);
    return { hash: hashName, length };
  }
  function keyUsages(usages) {
    const list = [...usages].map(String);
    for (const u of list) {
      if (u !== "sign" && u !== "verify") throw new DOMException(`Invalid key usage for HMAC: ${u}`, "SyntaxError");
    }
    return ["sign", "verify"].filter((u) => list.includes(u));
  }
  function usableKey(algorithm, key, usage) {
    const name = algorithmName(algorithm);
    if (name.toUpperCase() !== "HMAC") throw new DOMException(`Unrecognized or unimplemented algorithm: ${name}`, "NotSupportedError");
    const k = keyRecord(key);
    if (!k.usages.includes(usage)) throw new DOMException(`CryptoKey does not support the "${usage}" operation`, "InvalidAccessError");
    return k;
  }
  // Public keys for signature verification (what JWTs and webhooks use): ECDSA P-256
  // and P-384, Ed25519, RSASSA-PKCS1-v1_5 and RSA-PSS, from spki, raw or jwk; the
  // native side normalises and verifies (ring). Private keys and signing: not yet.
  // (ECDH keys are EC keys too: imported, generated and exported the same way, with
  // derivation usages instead of signing ones.)
  const SIGNATURES = { "ECDSA": "ECDSA", "ECDH": "ECDH", "ED25519": "Ed25519", "RSASSA-PKCS1-V1_5": "RSASSA-PKCS1-v1_5", "RSA-PSS": "RSA-PSS" };
  const USAGES = (pub) => (pub.algorithm.name === "ECDH" ? { public: [], private: ["deriveKey", "deriveBits"] } : { public: ["verify"], private: ["sign"] });
  const HASH_BYTES = { "SHA-1": 20, "SHA-256": 32, "SHA-384": 48, "SHA-512": 64 };
  function publicKeyParams(algorithm) {
    const name = SIGNATURES[algorithmName(algorithm).toUpperCase()];
    if (name === undefined) return undefined;
    if (name === "ECDSA" || name === "ECDH") {
      const curve = String(algorithm.namedCurve);
      if (curve !== "P-256" && curve !== "P-384") throw new DOMException(`Unrecognized or unimplemented EC curve: ${curve}`, "NotSupportedError");
      return { algorithm: { name, namedCurve: curve }, kind: `EC-${curve}` };
    }
    if (name === "Ed25519") return { algorithm: { name }, kind: "Ed25519" };
    if (algorithm.hash === undefined) throw new TypeError("RsaHashedImportParams: hash is required");
    const hash = algorithmName(algorithm.hash).toUpperCase();
    if (!(hash in HASH_BYTES)) throw new DOMException(`Unrecognized or unimplemented hash algorithm: ${hash}`, "NotSupportedError");
    return { algorithm: { name, hash: { name: hash } }, kind: "RSA", hash, params: algorithm };
  }
  function base64url(s, what) {
    if (typeof s !== "string") throw new DOMException(`JWK member ${what} is missing`, "DataError");
    const out = host.fromBase64url(s);
    if (out === null) throw new DOMException(`JWK member ${what} is not base64url`, "DataError");
    return out;
  }
  function importPublicKey(format, keyData, pub, extractable, usages) {
    const list = [...usages].map(String);
    for (const u of list) {
      if (!USAGES(pub).public.includes(u)) throw new DOMException(`Invalid key usage for a ${pub.algorithm.name} public key: ${u}`, "SyntaxError");
    }
    let bytes;
    try {
      if (format === "spki" || (format === "raw" && pub.kind !== "RSA")) {
        bytes = host.publicKey(pub.kind, format, bufferSource(keyData, "keyData").slice());
      } else if (format === "jwk") {
        const jwk = keyData;
        if (typeof jwk !== "object" || jwk === null) throw new TypeError("keyData must be a JsonWebKey object");
        if (jwk.d !== undefined) throw new DOMException("Importing private keys is not supported yet", "NotSupportedError");
        if (pub.kind === "RSA") {
          if (jwk.kty !== "RSA") throw new DOMException("JWK kty must be RSA", "DataError");
          bytes = host.publicKey("RSA", "jwk", base64url(jwk.n, "n"), base64url(jwk.e, "e"));
        } else if (pub.kind === "Ed25519") {
          if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") throw new DOMException("JWK must be an OKP key on Ed25519", "DataError");
          bytes = host.publicKey("Ed25519", "jwk", base64url(jwk.x, "x"), null);
        } else {
          if (jwk.kty !== "EC" || jwk.crv !== pub.algorithm.namedCurve) throw new DOMException(`JWK must be an EC key on ${pub.algorithm.namedCurve}`, "DataError");
          const x = base64url(jwk.x, "x"), y = base64url(jwk.y, "y");
          const size = pub.algorithm.namedCurve === "P-256" ? 32 : 48;
          // (workerd: coordinates of another size are an OperationError, not a DataError.)
          if (x.length !== size || y.length !== size) throw new DOMException(`Invalid ${pub.algorithm.namedCurve} key in JSON Web Key`, "OperationError");
          bytes = host.publicKey(pub.kind, "jwk", x, y);
        }
      } else {
        throw new DOMException(`Unsupported key format for ${pub.algorithm.name}: ${format}`, "NotSupportedError");
      }
    } catch (e) {
      if (e instanceof DOMException || e instanceof TypeError && !/invalid .* key data/.test(e.message)) throw e;
      throw new DOMException(e.message, "DataError");
    }
    const key = new CryptoKey(ILLEGAL);
    // (extractable as asked, as workerd keeps it, though a public key can always be read.)
    keys.set(key, { type: "public", algorithm: keyAlgorithm(pub, bytes), kind: pub.kind, hash: pub.hash, bytes, extractable: Boolean(extractable), usages: list });
    return key;
  }
  function verifyPublic(algorithm, k, signature, data) {
    const scheme = signatureScheme(algorithm, k, "verify");
    try {
      return host.verifySignature(scheme, k.bytes, bufferSource(signature, "signature"), bufferSource(data, "data"));
    } catch (e) {
      throw new DOMException(e.message, "NotSupportedError");
    }
  }
  function signPrivate(algorithm, k, data) {
    const scheme = signatureScheme(algorithm, k, "sign");
    try {
      return host.signWith(scheme, k.kind, k.bytes, bufferSource(data, "data"));
    } catch (e) {
      throw new DOMException(e.message, "NotSupportedError");
    }
  }
  // The scheme name the native side knows for `algorithm` with key `k`, after the
  // checks Web Crypto makes.
  function signatureScheme(algorithm, k, usage) {
    const name = SIGNATURES[algorithmName(algorithm).toUpperCase()];
    if (name !== k.algorithm.name) throw new DOMException("The key is not for this algorithm", "InvalidAccessError");
    if (!k.usages.includes(usage)) throw new DOMException(`CryptoKey does not support the "${usage}" operation`, "InvalidAccessError");
    let scheme;
    if (name === "ECDSA") {
      if (algorithm.hash === undefined) throw new TypeError("EcdsaParams: hash is required");
      scheme = `ECDSA-${k.algorithm.namedCurve}-${algorithmName(algorithm.hash).toUpperCase()}`;
    } else if (name === "Ed25519") {
      scheme = "Ed25519";
    } else if (name === "RSA-PSS") {
      if (Number(algorithm.saltLength) !== HASH_BYTES[k.hash]) {
        throw new DOMException("RSA-PSS with a salt length other than the hash length is not supported", "NotSupportedError");
      }
      scheme = `RSA-PSS-${k.hash}`;
    } else {
      scheme = `RSASSA-PKCS1-v1_5-${k.hash}`;
    }
    return scheme;
  }
  // Private keys (signing): PKCS#8 or JWK; ECDSA and Ed25519 pairs can be generated
  // (ring does not generate RSA keys). Public keys export as raw, spki or jwk (EC and
  // Ed25519).
  const SPKI_PREFIX = {
    "Ed25519": "302a300506032b6570032100",
    "EC-P-256": "3059301306072a8648ce3d020106082a8648ce3d030107034200",
    "EC-P-384": "3076301006072a8648ce3d020106052b81040022036200",
  };
  function fromHex(hex) {
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    return out;
  }
  function privateRecord(pub, stored, extractable, usages) {
    const key = new CryptoKey(ILLEGAL);
    keys.set(key, { type: "private", algorithm: keyAlgorithm(pub, stored[1]), kind: pub.kind, hash: pub.hash, bytes: stored[0], publicBytes: stored[1], extractable: Boolean(extractable), usages });
    return key;
  }
  // An RSA key's algorithm also says its modulus length and public exponent (read
  // from its RSAPublicKey DER), as Web Crypto's RsaHashedKeyAlgorithm.
  function keyAlgorithm(pub, der) {
    if (pub.kind !== "RSA") return pub.algorithm;
    // DER: SEQUENCE { INTEGER n, INTEGER e }; each element's content start and length.
    const element = (at) => {
      let len = der[at + 1], start = at + 2;
      if (len & 0x80) {
        const count = len & 0x7f;
        len = 0;
        for (let i = 0; i < count; i++) len = len * 256 + der[at + 2 + i];
        start += count;
      }
      return [start, len];
    };
    const [body] = element(0);
    const [nAt, nLen] = element(body);
    const [eAt, eLen] = element(nAt + nLen);
    let n = der.subarray(nAt, nAt + nLen);
    while (n.length > 1 && n[0] === 0) n = n.subarray(1);
    let e = der.subarray(eAt, eAt + eLen);
    while (e.length > 1 && e[0] === 0) e = e.subarray(1);
    const bits = (n.length - 1) * 8 + (32 - Math.clz32(n[0]));
    return { name: pub.algorithm.name, modulusLength: bits, publicExponent: new Uint8Array(e), hash: pub.algorithm.hash };
  }
  function publicRecord(pub, bytes, usages) {
    const key = new CryptoKey(ILLEGAL);
    keys.set(key, { type: "public", algorithm: keyAlgorithm(pub, bytes), kind: pub.kind, hash: pub.hash, bytes, extractable: true, usages });
    return key;
  }
  function importPrivateKey(format, keyData, pub, extractable, usages) {
    const list = [...usages].map(String);
    const allowed = USAGES(pub).private;
    for (const u of list) {
      if (!allowed.includes(u)) throw new DOMException(`Invalid key usage for a ${pub.algorithm.name} private key: ${u}`, "SyntaxError");
    }
    if (list.length === 0) throw new DOMException("Usages cannot be empty when creating a key.", "SyntaxError");
    let stored;
    try {
      if (format === "pkcs8") {
        stored = host.privateKey(pub.kind, "pkcs8", bufferSource(keyData, "keyData").slice());
      } else {
        const jwk = keyData;
        let parts;
        if (pub.kind === "RSA") {
          if (jwk.kty !== "RSA") throw new DOMException("JWK kty must be RSA", "DataError");
          parts = ["n", "e", "d", "p", "q", "dp", "dq", "qi"].map((m) => base64url(jwk[m], m));
        } else if (pub.kind === "Ed25519") {
          if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") throw new DOMException("JWK must be an OKP key on Ed25519", "DataError");
          parts = [base64url(jwk.d, "d"), base64url(jwk.x, "x")];
        } else {
          if (jwk.kty !== "EC" || jwk.crv !== pub.algorithm.namedCurve) throw new DOMException(`JWK must be an EC key on ${pub.algorithm.namedCurve}`, "DataError");
          parts = [base64url(jwk.d, "d"), base64url(jwk.x, "x"), base64url(jwk.y, "y")];
        }
        stored = host.privateKey(pub.kind, "jwk", parts);
      }
    } catch (e) {
      if (e instanceof DOMException) throw e;
      throw new DOMException(e.message, "DataError");
    }
    return privateRecord(pub, stored, extractable, allowed.filter((u) => list.includes(u)));
  }
  function generatePair(pub, extractable, usages) {
    const list = [...usages].map(String);
    const allowed = USAGES(pub);
    for (const u of list) {
      if (!allowed.public.includes(u) && !allowed.private.includes(u)) throw new DOMException(`Invalid key usage for ${pub.algorithm.name}: ${u}`, "SyntaxError");
    }
    const privateUsages = allowed.private.filter((u) => list.includes(u));
    if (privateUsages.length === 0) throw new DOMException("Usages cannot be empty when creating a key.", "SyntaxError");
    let stored;
    if (pub.kind === "RSA") {
      // RsaHashedKeyGenParams: modulusLength and publicExponent.
      if (pub.params.modulusLength === undefined) throw new TypeError("RsaHashedKeyGenParams: modulusLength is required");
      if (pub.params.publicExponent === undefined) throw new TypeError("RsaHashedKeyGenParams: publicExponent is required");
      try {
        stored = host.privateKey("RSA", "pkcs8", host.generateRsa(Number(pub.params.modulusLength), bufferSource(pub.params.publicExponent, "publicExponent")));
      } catch (e) {
        throw new DOMException(e.message, "OperationError");
      }
    } else {
      stored = host.generateKeyPair(pub.kind);
    }
    return {
      publicKey: publicRecord(pub, stored[1], allowed.public.filter((u) => list.includes(u))),
      privateKey: privateRecord(pub, stored, extractable, privateUsages),
    };
  }
  // JWK `alg` of an RSA key (RFC 7518 §3.1).
  function rsaJwkAlg(k) {
    return `${k.algorithm.name === "RSA-PSS" ? "PS" : "RS"}${k.hash.slice(4)}`;
  }
  function exportAsymmetric(format, k) {
    if (k.type === "private") {
      if (!k.extractable) throw new DOMException("Key is not extractable", "InvalidAccessError");
      if (format === "pkcs8") return host.exportPrivate(k.kind, k.bytes, "pkcs8").buffer;
      if (format !== "jwk") throw new DOMException(`Unsupported key format for a private key: ${format}`, "InvalidAccessError");
      const parts = host.exportPrivate(k.kind, k.bytes, "jwk").map(toBase64url);
      // (Members in workerd's order.)
      const key_ops = [...k.usages];
      if (k.kind === "RSA") {
        const [n, e, d, p, q, dp, dq, qi] = parts;
        return { kty: "RSA", key_ops, alg: rsaJwkAlg(k), ext: true, d, n, e, p, q, dp, dq, qi };
      }
      if (k.kind === "Ed25519") return { kty: "OKP", key_ops, alg: "EdDSA", ext: true, crv: "Ed25519", x: parts[1], d: parts[0] };
      return { kty: "EC", key_ops, ext: true, crv: k.algorithm.namedCurve, x: parts[1], y: parts[2], d: parts[0] };
    }
    if (k.kind === "RSA") {
      if (format === "spki") return host.exportRsaPublic(k.bytes, "spki").buffer;
      if (format !== "jwk") throw new DOMException(`Unsupported key format for an RSA public key: ${format}`, "InvalidAccessError");
      const [n, e] = host.exportRsaPublic(k.bytes, "jwk").map(toBase64url);
      return { kty: "RSA", key_ops: [...k.usages], alg: rsaJwkAlg(k), ext: true, n, e };
    }
    if (format === "raw") return k.bytes.slice().buffer;
    if (format === "spki") {
      const prefix = fromHex(SPKI_PREFIX[k.kind]);
      const out = new Uint8Array(prefix.length + k.bytes.length);
      out.set(prefix);
      out.set(k.bytes, prefix.length);
      return out.buffer;
    }
    if (format === "jwk") {
      if (k.kind === "Ed25519") return { kty: "OKP", key_ops: [...k.usages], alg: "EdDSA", ext: true, crv: "Ed25519", x: toBase64url(k.bytes) };
      const size = (k.bytes.length - 1) / 2;
      // (Members in workerd's order.)
      return { kty: "EC", key_ops: [...k.usages], ext: true, crv: k.algorithm.namedCurve, x: toBase64url(k.bytes.slice(1, 1 + size)), y: toBase64url(k.bytes.slice(1 + size)) };
    }
    throw new DOMException(`Unsupported key format: ${format}`, "NotSupportedError");
  }
  // AES (encryption and key wrapping) and PBKDF2 / HKDF (key derivation). AES-GCM is
  // ring's: 96-bit IVs, 128-bit tags, no 192-bit keys. AES-CBC, AES-CTR and AES-KW are
  // RustCrypto's, at every key size. At most 100000 PBKDF2 iterations, as Workers.
  const AES_USAGES = ["encrypt", "decrypt", "wrapKey", "unwrapKey"];
  const KW_USAGES = ["wrapKey", "unwrapKey"];
  const DERIVE_USAGES = ["deriveKey", "deriveBits"];
  const AES_KINDS = ["AES-GCM", "AES-CBC", "AES-CTR", "AES-KW"];
  function secretKind(algorithm) {
    const name = algorithmName(algorithm).toUpperCase();
    if (AES_KINDS.includes(name) || name === "PBKDF2" || name === "HKDF") return name;
    return undefined;
  }
  function aesKind(algorithm) {
    const name = algorithmName(algorithm).toUpperCase();
    return AES_KINDS.includes(name) ? name : undefined;
  }
  // The key length an AesKeyGenParams / AesDerivedKeyParams asks for.
  function aesLength(kind, length) {
    if (length === undefined) throw new TypeError("AesKeyGenParams: length is required");
    const bits = Number(length);
    if (bits !== 128 && bits !== 192 && bits !== 256) throw new DOMException("AES key length must be 128, 192 or 256 bits", "OperationError");
    if (bits === 192 && kind === "AES-GCM") throw new DOMException("AES-GCM with 192-bit keys is not supported", "NotSupportedError");
    return bits;
  }
  function checkedUsages(usages, allowed, what) {
    const list = [...usages].map(String);
    for (const u of list) {
      if (!allowed.includes(u)) throw new DOMException(`Invalid key usage for ${what}: ${u}`, "SyntaxError");
    }
    const kept = allowed.filter((u) => list.includes(u));
    if (kept.length === 0) throw new DOMException("Usages cannot be empty when creating a key.", "SyntaxError");
    return kept;
  }
  function importSecret(kind, format, keyData, extractable, usages) {
    let bytes, algorithm;
    if (kind.startsWith("AES-")) {
      if (format === "raw") {
        bytes = bufferSource(keyData, "keyData").slice();
      } else if (format === "jwk") {
        if (typeof keyData !== "object" || keyData === null) throw new TypeError("keyData must be a JsonWebKey object");
        if (keyData.kty !== "oct") throw new DOMException("JWK kty must be oct", "DataError");
        bytes = base64url(keyData.k, "k");
        const alg = `A${bytes.byteLength * 8}${kind.slice(4)}`;
        if (keyData.alg !== undefined && keyData.alg !== alg) throw new DOMException(`JWK alg ${keyData.alg} does not match the key (${alg})`, "DataError");
      } else {
        throw new DOMException(`Unsupported key format for ${kind}: ${format}`, "NotSupportedError");
      }
      const bits = bytes.byteLength * 8;
      if (bits !== 128 && bits !== 192 && bits !== 256) throw new DOMException(`Invalid AES key length: ${bits} bits`, "DataError");
      if (bits === 192 && kind === "AES-GCM") throw new DOMException("AES-GCM with 192-bit keys is not supported", "NotSupportedError");
      algorithm = { name: kind, length: bits };
      usages = checkedUsages(usages, kind === "AES-KW" ? KW_USAGES : AES_USAGES, kind);
    } else {
      // Key material for derivation: raw bytes, never extractable.
      if (format !== "raw") throw new DOMException(`Unsupported key format for ${kind}: ${format}`, "NotSupportedError");
      if (extractable) throw new DOMException(`${kind} keys are not extractable`, "SyntaxError");
      bytes = bufferSource(keyData, "keyData").slice();
      algorithm = { name: kind };
      usages = checkedUsages(usages, DERIVE_USAGES, kind);
    }
    const key = new CryptoKey(ILLEGAL);
    keys.set(key, { type: "secret", bytes, algorithm, extractable: Boolean(extractable), usages });
    return key;
  }
  function keyFor(k, name, usage) {
    if (k.algorithm?.name !== name) throw new DOMException("The key is not for this algorithm", "InvalidAccessError");
    if (!k.usages.includes(usage)) throw new DOMException(`CryptoKey does not support the "${usage}" operation`, "InvalidAccessError");
    return k;
  }
  // encrypt/decrypt, and the wrapping step of wrapKey/unwrapKey (`usage` says which).
  function cipher(encrypt, algorithm, k, usage, data) {
    const name = algorithmName(algorithm).toUpperCase();
    if (!AES_KINDS.includes(name)) throw new DOMException(`Unrecognized or unimplemented algorithm: ${name}`, "NotSupportedError");
    // (AES-KW keys never have encrypt/decrypt usages, so encrypting with one is the
    // InvalidAccessError of this check, as in workerd.)
    keyFor(k, name, usage);
    const input = bufferSource(data, "data");
    const failed = () => new DOMException(encrypt ? "Encryption failed." : "Decryption failed. This could be due to a ciphertext authentication failure, bad padding, incorrect CryptoKey, or another algorithm-specific reason.", "OperationError");
    if (name === "AES-GCM") return aesGcm(encrypt, algorithm, k, input, failed);
    if (name === "AES-KW") {
      try { return host.aesKw(encrypt, k.bytes, input); } catch { throw failed(); }
    }
    if (name === "AES-CBC") {
      if (algorithm.iv === undefined) throw new TypeError("AesCbcParams: iv is required");
      const iv = bufferSource(algorithm.iv, "iv");
      if (iv.byteLength !== 16) throw new DOMException("AES-CBC IV must be 16 bytes", "OperationError");
      try { return host.aesCbc(encrypt, k.bytes, iv, input); } catch { throw failed(); }
    }
    if (algorithm.counter === undefined) throw new TypeError("AesCtrParams: counter is required");
    if (algorithm.length === undefined) throw new TypeError("AesCtrParams: length is required");
    const counter = bufferSource(algorithm.counter, "counter");
    if (counter.byteLength !== 16) throw new DOMException("AES-CTR counter must be 16 bytes", "OperationError");
    const length = Number(algorithm.length);
    if (!(length >= 1 && length <= 128)) throw new DOMException("AES-CTR length must be between 1 and 128", "OperationError");
    try { return host.aesCtr(k.bytes, counter, length, input); } catch { throw failed(); }
  }
  function aesGcm(encrypt, algorithm, k, input, failed) {
    if (algorithm.iv === undefined) throw new TypeError("AesGcmParams: iv is required");
    const iv = bufferSource(algorithm.iv, "iv");
    if (iv.byteLength !== 12) throw new DOMException("AES-GCM IVs other than 12 bytes are not supported", "NotSupportedError");
    const tagLength = algorithm.tagLength === undefined ? 128 : Number(algorithm.tagLength);
    if (tagLength !== 128) throw new DOMException("AES-GCM tag lengths other than 128 bits are not supported", "NotSupportedError");
    const aad = algorithm.additionalData === undefined ? new Uint8Array(0) : bufferSource(algorithm.additionalData, "additionalData");
    try {
      return host.aesGcm(encrypt, k.bytes, iv, aad, input);
    } catch {
      throw failed();
    }
  }
  function deriveBits(algorithm, baseKey, length, usage) {
    if (algorithmName(algorithm).toUpperCase() === "ECDH") return ecdhBits(algorithm, keyRecord(baseKey), length, usage);
    const kind = secretKind(algorithm);
    if (kind !== "PBKDF2" && kind !== "HKDF") {
      throw new DOMException(`Unrecognized or unimplemented algorithm: ${algorithmName(algorithm)}`, "NotSupportedError");
    }
    const k = keyFor(keyRecord(baseKey), kind, usage);
    if (length === null || length === undefined) throw new DOMException(`${kind} needs a length`, "OperationError");
    const bits = Number(length);
    if (!(bits >= 0) || bits % 8 !== 0) throw new DOMException("The length must be a multiple of 8", "OperationError");
    if (algorithm.hash === undefined) throw new TypeError(`${kind === "HKDF" ? "Hkdf" : "Pbkdf2"}Params: hash is required`);
    const hash = algorithmName(algorithm.hash).toUpperCase();
    if (!(hash in HASH_BYTES)) throw new DOMException(`Unrecognized or unimplemented hash algorithm: ${hash}`, "NotSupportedError");
    if (algorithm.salt === undefined) throw new TypeError(`${kind === "HKDF" ? "Hkdf" : "Pbkdf2"}Params: salt is required`);
    const salt = bufferSource(algorithm.salt, "salt");
    if (kind === "PBKDF2") {
      const iterations = Number(algorithm.iterations);
      if (!(iterations >= 1)) throw new DOMException("PBKDF2 iterations must be greater than 0", "OperationError");
      if (iterations > 100000) {
        throw new DOMException(`Pbkdf2 failed: iteration counts above 100000 are not supported (requested ${iterations}).`, "NotSupportedError");
      }
      return host.pbkdf2(hash, k.bytes, salt, Math.trunc(iterations), bits / 8);
    }
    if (algorithm.info === undefined) throw new TypeError("HkdfParams: info is required");
    if (bits > 255 * HASH_BYTES[hash] * 8) throw new DOMException("HKDF cannot derive that many bits", "OperationError");
    return host.hkdf(hash, k.bytes, salt, bufferSource(algorithm.info, "info"), bits / 8);
  }
  // ECDH: the shared secret of a private key and the peer's public key, truncated to
  // `length` bits when one is given.
  function ecdhBits(algorithm, k, length, usage) {
    if (k.type !== "private" || k.algorithm.name !== "ECDH") throw new DOMException("The key is not an ECDH private key", "InvalidAccessError");
    if (!k.usages.includes(usage)) throw new DOMException(`CryptoKey does not support the "${usage}" operation`, "InvalidAccessError");
    if (algorithm.public === undefined) throw new TypeError("EcdhKeyDeriveParams: public is required");
    const peer = keyRecord(algorithm.public);
    if (peer.type !== "public") throw new DOMException("The public member must be a public key", "InvalidAccessError");
    if (peer.algorithm.name !== "ECDH" || peer.algorithm.namedCurve !== k.algorithm.namedCurve) {
      throw new DOMException("The public key is not an ECDH key on the same curve", "InvalidAccessError");
    }
    let secret;
    try { secret = new Uint8Array(host.ecdh(k.kind, k.bytes, peer.bytes)); } catch (e) { throw new DOMException(e.message, "OperationError"); }
    if (length === null || length === undefined) return secret.buffer;
    const bits = Number(length);
    if (!(bits >= 0) || bits > secret.length * 8) throw new DOMException(`The length must be at most ${secret.length * 8} bits`, "OperationError");
    const out = secret.slice(0, Math.ceil(bits / 8));
    if (bits % 8 !== 0) out[out.length - 1] &= 0xff << (8 - (bits % 8));
    return out.buffer;
  }
  function toBase64url(bytes) { return host.base64url(bytes); }

  function bufferSource(data, what) {
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeError(`${what} must be an ArrayBuffer or a view of one`);
  }
  return subtleOperations;
})
