// FormData as a body (see js/formdata.js, which compiles this on a script's first use
// of one): the HTML standard's multipart/form-data encoding, and Fetch's parsing of a
// multipart or URL-encoded body into a FormData. One function expression: it takes
// what it shares with js/formdata.js and returns { serialize, parse }.
(({ FormData, File, list, encoder, decoder, blobParts }) => {
  // HTML, "multipart/form-data encoding algorithm": names and filenames escape `"`,
  // CR and LF. Values go as they are (line breaks are normalised by form submission,
  // not by FormData: workerd, Deno and undici agree).
  const escapeName = (s) => s.replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/"/g, "%22");
  function serialize(fd) {
    // (A boundary only has to be unlikely to occur in the body.)
    let hex = "";
    while (hex.length < 24) hex += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0");
    const boundary = `----OutpostFormBoundary${hex}`;
    const chunks = [];
    let size = 0;
    const push = (bytes) => { chunks.push(bytes); size += bytes.byteLength; };
    for (const [name, value] of list(fd)) {
      let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(name)}"`;
      if (typeof value === "string") {
        push(encoder.encode(`${head}\r\n\r\n`));
        push(encoder.encode(value));
      } else {
        head += `; filename="${escapeName(value.name)}"\r\nContent-Type: ${value.type || "application/octet-stream"}\r\n\r\n`;
        push(encoder.encode(head));
        push(blobParts(value)[0]);
      }
      push(encoder.encode("\r\n"));
    }
    push(encoder.encode(`--${boundary}--\r\n`));
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.byteLength; }
    return [out, `multipart/form-data; boundary=${boundary}`];
  }

  function parameter(contentType, name) {
    for (const part of contentType.split(";").slice(1)) {
      const eq = part.indexOf("=");
      if (eq === -1 || part.slice(0, eq).trim().toLowerCase() !== name) continue;
      let v = part.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, "$1");
      return v;
    }
    return null;
  }
  function indexOf(bytes, needle, from) {
    outer: for (let i = from; i <= bytes.length - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }
  const broken = () => new TypeError("Failed to parse body as FormData.");
  function parseMultipart(bytes, boundary) {
    const fd = new FormData();
    const delimiter = encoder.encode(`--${boundary}`);
    let at = indexOf(bytes, delimiter, 0);
    if (at === -1) throw broken();
    for (;;) {
      at += delimiter.length;
      if (bytes[at] === 0x2d && bytes[at + 1] === 0x2d) return fd; // "--": the end
      if (bytes[at] === 0x0d) at++;
      if (bytes[at] !== 0x0a) throw broken();
      at++;
      const headEnd = indexOf(bytes, encoder.encode("\r\n\r\n"), at);
      if (headEnd === -1) throw broken();
      const head = decoder.decode(bytes.subarray(at, headEnd));
      const next = indexOf(bytes, encoder.encode(`\r\n--${boundary}`), headEnd + 4);
      if (next === -1) throw broken();
      const data = bytes.slice(headEnd + 4, next);
      let name = null, filename = null, type = "";
      for (const line of head.split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon === -1) continue;
        const field = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (field === "content-disposition") {
          if (value.split(";")[0].trim().toLowerCase() !== "form-data") throw broken();
          name = parameter(value, "name");
          filename = parameter(value, "filename");
        } else if (field === "content-type") {
          type = value;
        }
      }
      if (name === null) throw broken();
      if (filename !== null) fd.append(name, new File([data], filename, { type }));
      else fd.append(name, decoder.decode(data));
      at = next + 2;
    }
  }
  // Fetch, "body.formData()": multipart or URL-encoded, by the body's content type.
  function parse(bytes, contentType) {
    const ct = contentType === null ? "" : contentType;
    const essence = ct.split(";")[0].trim().toLowerCase();
    if (essence === "multipart/form-data") {
      const boundary = parameter(ct, "boundary");
      if (boundary === null || boundary === "") throw broken();
      return parseMultipart(bytes, boundary);
    }
    if (essence === "application/x-www-form-urlencoded") {
      const fd = new FormData();
      for (const [k, v] of new URLSearchParams(decoder.decode(bytes))) fd.append(k, v);
      return fd;
    }
    throw broken();
  }
  return { serialize, parse };
})
