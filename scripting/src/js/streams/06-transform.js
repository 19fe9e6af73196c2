// Streams, part 06: TransformStream and the queuing strategies.
// (The parts in this folder are one script, concatenated in order: see instance.rs.)
  // =====================================================================
  // Transform streams
  // =====================================================================
  let tsOf;
  class TransformStream {
    #s;
    constructor(transformer = undefined, writableStrategy = undefined, readableStrategy = undefined) {
      if (transformer !== undefined && !isObject(transformer)) throw new TypeError("the transformer must be an object");
      if (transformer === undefined) transformer = null;
      const ws = strategyDict(writableStrategy);
      const rs_ = strategyDict(readableStrategy);
      const t = transformer === null ? {} : transformer;
      const dict = {
        cancel: callbackMember(t, "cancel", "transformer"),
        flush: callbackMember(t, "flush", "transformer"),
        readableType: t.readableType,
        start: callbackMember(t, "start", "transformer"),
        transform: callbackMember(t, "transform", "transformer"),
        writableType: t.writableType,
      };
      if (dict.readableType !== undefined) throw new RangeError("a transformer cannot have a readableType");
      if (dict.writableType !== undefined) throw new RangeError("a transformer cannot have a writableType");
      const readableHWM = extractHighWaterMark(rs_, 0);
      const readableSize = extractSizeAlgorithm(rs_);
      const writableHWM = extractHighWaterMark(ws, 1);
      const writableSize = extractSizeAlgorithm(ws);
      const startPromise = newPromise();
      const s = { obj: this };
      this.#s = s;
      initializeTransformStream(s, startPromise.promise, writableHWM, writableSize, readableHWM, readableSize);
      setUpTransformStreamDefaultControllerFromTransformer(s, transformer, dict);
      if (dict.start !== undefined) resolvePromise(startPromise, apply(dict.start, transformer, [s.controller.obj]));
      else resolvePromise(startPromise, undefined);
    }
    static { tsOf = (o) => { try { return o.#s; } catch { throw new TypeError("not a TransformStream"); } }; }
    get readable() { return tsOf(this).readable.obj; }
    get writable() { return tsOf(this).writable.obj; }
  }
  function initializeTransformStream(s, startPromise, writableHWM, writableSize, readableHWM, readableSize) {
    const startAlgorithm = () => startPromise;
    s.writable = createWritableStream(startAlgorithm,
      (chunk) => transformStreamDefaultSinkWriteAlgorithm(s, chunk),
      () => transformStreamDefaultSinkCloseAlgorithm(s),
      (reason) => transformStreamDefaultSinkAbortAlgorithm(s, reason),
      writableHWM, writableSize);
    s.readable = createReadableStream(startAlgorithm,
      () => transformStreamDefaultSourcePullAlgorithm(s),
      (reason) => transformStreamDefaultSourceCancelAlgorithm(s, reason),
      readableHWM, readableSize);
    s.backpressure = undefined;
    s.backpressureChangePromise = undefined;
    transformStreamSetBackpressure(s, true);
    s.controller = undefined;
  }
  function transformStreamError(s, e) {
    readableStreamDefaultControllerError(s.readable.controller, e);
    transformStreamErrorWritableAndUnblockWrite(s, e);
  }
  function transformStreamErrorWritableAndUnblockWrite(s, e) {
    transformStreamDefaultControllerClearAlgorithms(s.controller);
    writableStreamDefaultControllerErrorIfNeeded(s.writable.controller, e);
    transformStreamUnblockWrite(s);
  }
  function transformStreamUnblockWrite(s) { if (s.backpressure) transformStreamSetBackpressure(s, false); }
  function transformStreamSetBackpressure(s, backpressure) {
    if (s.backpressureChangePromise !== undefined) resolvePromise(s.backpressureChangePromise, undefined);
    s.backpressureChangePromise = newPromise();
    s.backpressure = backpressure;
  }
  let tsdc;
  class TransformStreamDefaultController {
    #s;
    constructor(token, rec) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#s = rec;
      rec.obj = this;
    }
    static { tsdc = (o) => { try { return o.#s; } catch { throw new TypeError("not a TransformStreamDefaultController"); } }; }
    get desiredSize() { return readableStreamDefaultControllerGetDesiredSize(tsdc(this).stream.readable.controller); }
    enqueue(chunk = undefined) { transformStreamDefaultControllerEnqueue(tsdc(this), chunk); }
    error(reason = undefined) { transformStreamError(tsdc(this).stream, reason); }
    terminate() { transformStreamDefaultControllerTerminate(tsdc(this)); }
  }
  function setUpTransformStreamDefaultController(s, c, transformAlgorithm, flushAlgorithm, cancelAlgorithm) {
    c.stream = s;
    s.controller = c;
    c.transformAlgorithm = transformAlgorithm;
    c.flushAlgorithm = flushAlgorithm;
    c.cancelAlgorithm = cancelAlgorithm;
    c.finishPromise = undefined;
  }
  function setUpTransformStreamDefaultControllerFromTransformer(s, transformer, dict) {
    const c = { stream: undefined, transformAlgorithm: undefined, flushAlgorithm: undefined, cancelAlgorithm: undefined, finishPromise: undefined, obj: undefined };
    new TransformStreamDefaultController(INTERNAL, c);
    let transformAlgorithm = (chunk) => {
      try {
        transformStreamDefaultControllerEnqueue(c, chunk);
        return resolvedWith(undefined);
      } catch (e) {
        return rejectedWith(e);
      }
    };
    let flushAlgorithm = () => resolvedWith(undefined);
    let cancelAlgorithm = () => resolvedWith(undefined);
    if (dict.transform !== undefined) transformAlgorithm = (chunk) => promiseCall(dict.transform, transformer, [chunk, c.obj]);
    if (dict.flush !== undefined) flushAlgorithm = () => promiseCall(dict.flush, transformer, [c.obj]);
    if (dict.cancel !== undefined) cancelAlgorithm = (reason) => promiseCall(dict.cancel, transformer, [reason]);
    setUpTransformStreamDefaultController(s, c, transformAlgorithm, flushAlgorithm, cancelAlgorithm);
  }
  function transformStreamDefaultControllerClearAlgorithms(c) {
    c.transformAlgorithm = undefined;
    c.flushAlgorithm = undefined;
    c.cancelAlgorithm = undefined;
  }
  function transformStreamDefaultControllerEnqueue(c, chunk) {
    const s = c.stream;
    const rc = s.readable.controller;
    if (!readableStreamDefaultControllerCanCloseOrEnqueue(rc)) throw new TypeError("the readable side is closed or errored");
    try {
      readableStreamDefaultControllerEnqueue(rc, chunk);
    } catch (e) {
      transformStreamErrorWritableAndUnblockWrite(s, e);
      throw s.readable.storedError;
    }
    const backpressure = readableStreamDefaultControllerHasBackpressure(rc);
    if (backpressure !== s.backpressure) transformStreamSetBackpressure(s, true);
  }
  function transformStreamDefaultControllerPerformTransform(c, chunk) {
    const transformPromiseValue = c.transformAlgorithm(chunk);
    return transformPromise(transformPromiseValue, undefined, (r) => {
      transformStreamError(c.stream, r);
      throw r;
    });
  }
  function transformStreamDefaultControllerTerminate(c) {
    const s = c.stream;
    readableStreamDefaultControllerClose(s.readable.controller);
    transformStreamErrorWritableAndUnblockWrite(s, new TypeError("the transform stream was terminated"));
  }
  function transformStreamDefaultSinkWriteAlgorithm(s, chunk) {
    const c = s.controller;
    if (s.backpressure) {
      return transformPromise(s.backpressureChangePromise.promise, () => {
        const w = s.writable;
        if (w.state === "erroring") throw w.storedError;
        return transformStreamDefaultControllerPerformTransform(c, chunk);
      });
    }
    return transformStreamDefaultControllerPerformTransform(c, chunk);
  }
  function transformStreamDefaultSinkAbortAlgorithm(s, reason) {
    const c = s.controller;
    if (c.finishPromise !== undefined) return c.finishPromise.promise;
    const readable = s.readable;
    c.finishPromise = newPromise();
    const cancelPromise = c.cancelAlgorithm(reason);
    transformStreamDefaultControllerClearAlgorithms(c);
    upon(cancelPromise, () => {
      if (readable.state === "errored") rejectPromise(c.finishPromise, readable.storedError);
      else {
        readableStreamDefaultControllerError(readable.controller, reason);
        resolvePromise(c.finishPromise, undefined);
      }
    }, (r) => {
      readableStreamDefaultControllerError(readable.controller, r);
      rejectPromise(c.finishPromise, r);
    });
    return c.finishPromise.promise;
  }
  function transformStreamDefaultSinkCloseAlgorithm(s) {
    const c = s.controller;
    if (c.finishPromise !== undefined) return c.finishPromise.promise;
    const readable = s.readable;
    c.finishPromise = newPromise();
    const flushPromise = c.flushAlgorithm();
    transformStreamDefaultControllerClearAlgorithms(c);
    upon(flushPromise, () => {
      if (readable.state === "errored") rejectPromise(c.finishPromise, readable.storedError);
      else {
        readableStreamDefaultControllerClose(readable.controller);
        resolvePromise(c.finishPromise, undefined);
      }
    }, (r) => {
      readableStreamDefaultControllerError(readable.controller, r);
      rejectPromise(c.finishPromise, r);
    });
    return c.finishPromise.promise;
  }
  function transformStreamDefaultSourceCancelAlgorithm(s, reason) {
    const c = s.controller;
    if (c.finishPromise !== undefined) return c.finishPromise.promise;
    const writable = s.writable;
    c.finishPromise = newPromise();
    const cancelPromise = c.cancelAlgorithm(reason);
    transformStreamDefaultControllerClearAlgorithms(c);
    upon(cancelPromise, () => {
      if (writable.state === "errored") rejectPromise(c.finishPromise, writable.storedError);
      else {
        writableStreamDefaultControllerErrorIfNeeded(writable.controller, reason);
        transformStreamUnblockWrite(s);
        resolvePromise(c.finishPromise, undefined);
      }
    }, (r) => {
      writableStreamDefaultControllerErrorIfNeeded(writable.controller, r);
      transformStreamUnblockWrite(s);
      rejectPromise(c.finishPromise, r);
    });
    return c.finishPromise.promise;
  }
  function transformStreamDefaultSourcePullAlgorithm(s) {
    transformStreamSetBackpressure(s, false);
    return s.backpressureChangePromise.promise;
  }

  // =====================================================================
  // Queuing strategies
  // =====================================================================
  function strategyInit(init, what) {
    if (init === undefined || init === null) throw new TypeError(`${what} needs an object with a highWaterMark`);
    if (!isObject(init)) throw new TypeError(`${what}: the argument must be an object`);
    const hwm = init.highWaterMark;
    if (hwm === undefined) throw new TypeError(`${what} needs a highWaterMark`);
    return +hwm;
  }
  const byteLengthSize = { size(chunk) { return chunk.byteLength; } }.size;
  const countSize = { size() { return 1; } }.size;
  Object.defineProperty(byteLengthSize, "name", { value: "size" });
  Object.defineProperty(countSize, "name", { value: "size" });
  let blqsHwm, cqsHwm;
  class ByteLengthQueuingStrategy {
    #hwm;
    constructor(init) { this.#hwm = strategyInit(init, "ByteLengthQueuingStrategy"); }
    static { blqsHwm = (o) => { try { return o.#hwm; } catch { throw new TypeError("not a ByteLengthQueuingStrategy"); } }; }
    get highWaterMark() { return blqsHwm(this); }
    get size() { blqsHwm(this); return byteLengthSize; }
  }
  class CountQueuingStrategy {
    #hwm;
    constructor(init) { this.#hwm = strategyInit(init, "CountQueuingStrategy"); }
    static { cqsHwm = (o) => { try { return o.#hwm; } catch { throw new TypeError("not a CountQueuingStrategy"); } }; }
    get highWaterMark() { return cqsHwm(this); }
    get size() { cqsHwm(this); return countSize; }
  }

