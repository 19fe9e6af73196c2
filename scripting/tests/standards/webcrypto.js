// Web Crypto conformance for what the differential tests cannot compare (random keys),
// written from the Web Cryptography API's text (https://w3c.github.io/webcrypto/).
// Run by scripting/tests/web_standards.rs.
export default {
  async fetch() {
    const failures = [];
    const check = (name, got, want) => {
      const g = JSON.stringify(got), w = JSON.stringify(want);
      if (g !== w) failures.push(`${name}: got ${g}, want ${w}`);
    };
    const s = crypto.subtle;
    const data = new TextEncoder().encode("signed");
    // §20.8 (RSASSA-PKCS1-v1_5 generate key): a pair; the public key gets the usages
    // among verify, the private among sign; the algorithm says the modulus length and
    // exponent.
    const alg = { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
    const pair = await s.generateKey(alg, true, ["sign", "verify"]);
    check("§20.8 pair", [pair.publicKey.type, pair.privateKey.type, pair.publicKey.usages, pair.privateKey.usages],
      ["public", "private", ["verify"], ["sign"]]);
    check("§20.8 algorithm", [pair.publicKey.algorithm.modulusLength, [...pair.publicKey.algorithm.publicExponent], pair.privateKey.algorithm.hash.name],
      [2048, [1, 0, 1], "SHA-256"]);
    const sig = await s.sign(alg, pair.privateKey, data);
    check("§20.8 sign/verify", [sig.byteLength, await s.verify(alg, pair.publicKey, sig, data)], [256, true]);
    // §20.8 export key / import key: jwk and spki round trips keep the key.
    const jwk = await s.exportKey("jwk", pair.privateKey);
    const again = await s.importKey("jwk", jwk, alg, false, ["sign"]);
    const spki = await s.exportKey("spki", pair.publicKey);
    const pub = await s.importKey("spki", spki, alg, false, ["verify"]);
    check("§20.8 round trips", await s.verify(alg, pub, await s.sign(alg, again, data), data), true);
    check("§20.8 jwk alg", [jwk.kty, jwk.alg], ["RSA", "RS256"]);
    // RSA-PSS generates the same way.
    const pss = await s.generateKey({ name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, false, ["sign", "verify"]);
    const psig = await s.sign({ name: "RSA-PSS", saltLength: 32 }, pss.privateKey, data);
    check("§22 RSA-PSS pair", await s.verify({ name: "RSA-PSS", saltLength: 32 }, pss.publicKey, psig, data), true);
    // A modulus length this runtime cannot use (ring signs with 2048 bits or more) is an OperationError.
    const refused = await s.generateKey({ ...alg, modulusLength: 1024 }, false, ["sign"]).then(() => "made", (e) => e.name);
    check("§20.8 modulus too small", refused, "OperationError");
    // §14.3.8 (exportKey): a key made non-extractable cannot be exported.
    const locked = await s.exportKey("pkcs8", pss.privateKey).then(() => "exported", (e) => e.name);
    check("§14.3.8 not extractable", locked, "InvalidAccessError");
    return Response.json(failures);
  },
};
