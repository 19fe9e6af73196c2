// Streams, part 05: WritableStream, its writer and its controller.
// (The parts in this folder are one script, concatenated in order: see instance.rs.)
  // =====================================================================
  // Writable streams
  // =====================================================================
  let wsMaybe, wsOf;
  class WritableStream {
    #s;
    constructor(underlyingSink = undefined, strategy = undefined) {
      if (underlyingSink === INTERNAL) { this.#s = strategy; strategy.obj = this; return; }
      if (underlyingSink !== undefined && !isObject(underlyingSink)) throw new TypeError("the underlying sink must be an object");
      if (underlyingSink === undefined) underlyingSink = null;
      const st = strategyDict(strategy);
      const sink = underlyingSink === null ? {} : underlyingSink;
      const dict = {
        abort: callbackMember(sink, "abort", "underlyingSink"),
        close: callbackMember(sink, "close", "underlyingSink"),
        start: callbackMember(sink, "start", "underlyingSink"),
        type: sink.type,
        write: callbackMember(sink, "write", "underlyingSink"),
      };
      if (dict.type !== undefined) throw new RangeError("a WritableStream's underlying sink cannot have a type");
      const s = initializeWritableStream();
      this.#s = s;
      s.obj = this;
      const size = extractSizeAlgorithm(st);
      const hwm = extractHighWaterMark(st, 1);
      setUpWritableStreamDefaultControllerFromUnderlyingSink(s, underlyingSink, dict, hwm, size);
    }
    static {
      wsMaybe = (o) => { try { return o.#s; } catch { return undefined; } };
      wsOf = (o) => { try { return o.#s; } catch { throw new TypeError("not a WritableStream"); } };
    }
    get locked() { return isWritableStreamLocked(wsOf(this)); }
    abort(reason = undefined) {
      const s = wsMaybe(this);
      if (s === undefined) return rejectedWith(new TypeError("not a WritableStream"));
      if (isWritableStreamLocked(s)) return rejectedWith(new TypeError("cannot abort a locked stream"));
      return writableStreamAbort(s, reason);
    }
    close() {
      const s = wsMaybe(this);
      if (s === undefined) return rejectedWith(new TypeError("not a WritableStream"));
      if (isWritableStreamLocked(s)) return rejectedWith(new TypeError("cannot close a locked stream"));
      if (writableStreamCloseQueuedOrInFlight(s)) return rejectedWith(new TypeError("the stream is already closing"));
      return writableStreamClose(s);
    }
    getWriter() { return acquireWritableStreamDefaultWriter(wsOf(this)).obj; }
  }
  const newWS = (s) => new WritableStream(INTERNAL, s);
  function initializeWritableStream() {
    return {
      state: "writable", storedError: undefined, writer: undefined, controller: undefined,
      inFlightWriteRequest: undefined, closeRequest: undefined, inFlightCloseRequest: undefined,
      pendingAbortRequest: undefined, writeRequests: new Queue(), backpressure: false, obj: undefined,
    };
  }
  function createWritableStream(startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, hwm = 1, sizeAlgorithm = () => 1) {
    const s = initializeWritableStream();
    newWS(s);
    const c = newWritableControllerRecord();
    setUpWritableStreamDefaultController(s, c, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, hwm, sizeAlgorithm);
    return s;
  }
  function isWritableStreamLocked(s) { return s.writer !== undefined; }
  function writableStreamAbort(s, reason) {
    if (s.state === "closed" || s.state === "errored") return resolvedWith(undefined);
    s.controller.abortController.abort(reason);
    const state = s.state;
    if (state === "closed" || state === "errored") return resolvedWith(undefined);
    if (s.pendingAbortRequest !== undefined) return s.pendingAbortRequest.promise.promise;
    let wasAlreadyErroring = false;
    if (state === "erroring") { wasAlreadyErroring = true; reason = undefined; }
    const promise = newPromise();
    s.pendingAbortRequest = { promise, reason, wasAlreadyErroring };
    if (!wasAlreadyErroring) writableStreamStartErroring(s, reason);
    return promise.promise;
  }
  function writableStreamClose(s) {
    const state = s.state;
    if (state === "closed" || state === "errored") return rejectedWith(new TypeError("the stream is closed or errored"));
    const promise = newPromise();
    s.closeRequest = promise;
    const writer = s.writer;
    if (writer !== undefined && s.backpressure && state === "writable") resolvePromise(writer.ready, undefined);
    writableStreamDefaultControllerClose(s.controller);
    return promise.promise;
  }
  function writableStreamAddWriteRequest(s) {
    const promise = newPromise();
    s.writeRequests.push(promise);
    return promise.promise;
  }
  function writableStreamCloseQueuedOrInFlight(s) { return s.closeRequest !== undefined || s.inFlightCloseRequest !== undefined; }
  function writableStreamDealWithRejection(s, error) {
    if (s.state === "writable") { writableStreamStartErroring(s, error); return; }
    writableStreamFinishErroring(s);
  }
  function writableStreamFinishErroring(s) {
    s.state = "errored";
    s.controller.errorSteps();
    const storedError = s.storedError;
    for (const r of s.writeRequests.toArray()) rejectPromise(r, storedError);
    s.writeRequests = new Queue();
    if (s.pendingAbortRequest === undefined) { writableStreamRejectCloseAndClosedPromiseIfNeeded(s); return; }
    const abortRequest = s.pendingAbortRequest;
    s.pendingAbortRequest = undefined;
    if (abortRequest.wasAlreadyErroring) {
      rejectPromise(abortRequest.promise, storedError);
      writableStreamRejectCloseAndClosedPromiseIfNeeded(s);
      return;
    }
    const promise = s.controller.abortSteps(abortRequest.reason);
    upon(promise, () => {
      resolvePromise(abortRequest.promise, undefined);
      writableStreamRejectCloseAndClosedPromiseIfNeeded(s);
    }, (reason) => {
      rejectPromise(abortRequest.promise, reason);
      writableStreamRejectCloseAndClosedPromiseIfNeeded(s);
    });
  }
  function writableStreamFinishInFlightClose(s) {
    resolvePromise(s.inFlightCloseRequest, undefined);
    s.inFlightCloseRequest = undefined;
    if (s.state === "erroring") {
      s.storedError = undefined;
      if (s.pendingAbortRequest !== undefined) {
        resolvePromise(s.pendingAbortRequest.promise, undefined);
        s.pendingAbortRequest = undefined;
      }
    }
    s.state = "closed";
    if (s.writer !== undefined) resolvePromise(s.writer.closed, undefined);
  }
  function writableStreamFinishInFlightCloseWithError(s, error) {
    rejectPromise(s.inFlightCloseRequest, error);
    s.inFlightCloseRequest = undefined;
    if (s.pendingAbortRequest !== undefined) {
      rejectPromise(s.pendingAbortRequest.promise, error);
      s.pendingAbortRequest = undefined;
    }
    writableStreamDealWithRejection(s, error);
  }
  function writableStreamFinishInFlightWrite(s) {
    resolvePromise(s.inFlightWriteRequest, undefined);
    s.inFlightWriteRequest = undefined;
  }
  function writableStreamFinishInFlightWriteWithError(s, error) {
    rejectPromise(s.inFlightWriteRequest, error);
    s.inFlightWriteRequest = undefined;
    writableStreamDealWithRejection(s, error);
  }
  function writableStreamHasOperationMarkedInFlight(s) { return s.inFlightWriteRequest !== undefined || s.inFlightCloseRequest !== undefined; }
  function writableStreamMarkCloseRequestInFlight(s) { s.inFlightCloseRequest = s.closeRequest; s.closeRequest = undefined; }
  function writableStreamMarkFirstWriteRequestInFlight(s) { s.inFlightWriteRequest = s.writeRequests.shift(); }
  function writableStreamRejectCloseAndClosedPromiseIfNeeded(s) {
    if (s.closeRequest !== undefined) {
      rejectPromise(s.closeRequest, s.storedError);
      s.closeRequest = undefined;
    }
    const writer = s.writer;
    if (writer !== undefined) {
      rejectPromise(writer.closed, s.storedError);
      setHandled(writer.closed.promise);
    }
  }
  function writableStreamStartErroring(s, reason) {
    const c = s.controller;
    s.state = "erroring";
    s.storedError = reason;
    const writer = s.writer;
    if (writer !== undefined) writableStreamDefaultWriterEnsureReadyPromiseRejected(writer, reason);
    if (!writableStreamHasOperationMarkedInFlight(s) && c.started) writableStreamFinishErroring(s);
  }
  function writableStreamUpdateBackpressure(s, backpressure) {
    const writer = s.writer;
    if (writer !== undefined && backpressure !== s.backpressure) {
      if (backpressure) writer.ready = newPromise();
      else resolvePromise(writer.ready, undefined);
    }
    s.backpressure = backpressure;
  }

  // ---- writer ----
  let wrMaybe;
  class WritableStreamDefaultWriter {
    #s;
    constructor(stream) {
      if (stream === INTERNAL) { this.#s = arguments[1]; this.#s.obj = this; return; }
      const s = wsOf(stream);
      const w = newWriterRecord();
      this.#s = w;
      w.obj = this;
      setUpWritableStreamDefaultWriter(w, s);
    }
    static { wrMaybe = (o) => { try { return o.#s; } catch { return undefined; } }; }
    get closed() {
      const w = wrMaybe(this);
      if (w === undefined) return rejectedWith(new TypeError("not a WritableStreamDefaultWriter"));
      return w.closed.promise;
    }
    get desiredSize() {
      const w = wrMaybe(this);
      if (w === undefined) throw new TypeError("not a WritableStreamDefaultWriter");
      if (w.stream === undefined) throw new TypeError("the writer has been released");
      return writableStreamDefaultWriterGetDesiredSize(w);
    }
    get ready() {
      const w = wrMaybe(this);
      if (w === undefined) return rejectedWith(new TypeError("not a WritableStreamDefaultWriter"));
      return w.ready.promise;
    }
    abort(reason = undefined) {
      const w = wrMaybe(this);
      if (w === undefined) return rejectedWith(new TypeError("not a WritableStreamDefaultWriter"));
      if (w.stream === undefined) return rejectedWith(new TypeError("the writer has been released"));
      return writableStreamAbort(w.stream, reason);
    }
    close() {
      const w = wrMaybe(this);
      if (w === undefined) return rejectedWith(new TypeError("not a WritableStreamDefaultWriter"));
      const s = w.stream;
      if (s === undefined) return rejectedWith(new TypeError("the writer has been released"));
      if (writableStreamCloseQueuedOrInFlight(s)) return rejectedWith(new TypeError("the stream is already closing"));
      return writableStreamClose(s);
    }
    releaseLock() {
      const w = wrMaybe(this);
      if (w === undefined) throw new TypeError("not a WritableStreamDefaultWriter");
      if (w.stream === undefined) return;
      writableStreamDefaultWriterRelease(w);
    }
    write(chunk = undefined) {
      const w = wrMaybe(this);
      if (w === undefined) return rejectedWith(new TypeError("not a WritableStreamDefaultWriter"));
      if (w.stream === undefined) return rejectedWith(new TypeError("the writer has been released"));
      return writableStreamDefaultWriterWrite(w, chunk);
    }
  }
  function newWriterRecord() { return { stream: undefined, ready: undefined, closed: undefined, obj: undefined }; }
  function acquireWritableStreamDefaultWriter(s) {
    const w = newWriterRecord();
    setUpWritableStreamDefaultWriter(w, s);
    new WritableStreamDefaultWriter(INTERNAL, w);
    return w;
  }
  function setUpWritableStreamDefaultWriter(w, s) {
    if (isWritableStreamLocked(s)) throw new TypeError("the stream is locked to another writer");
    w.stream = s;
    s.writer = w;
    const state = s.state;
    if (state === "writable") {
      if (!writableStreamCloseQueuedOrInFlight(s) && s.backpressure) w.ready = newPromise();
      else w.ready = resolvedRecord(undefined);
      w.closed = newPromise();
    } else if (state === "erroring") {
      w.ready = rejectedRecord(s.storedError);
      setHandled(w.ready.promise);
      w.closed = newPromise();
    } else if (state === "closed") {
      w.ready = resolvedRecord(undefined);
      w.closed = resolvedRecord(undefined);
    } else {
      w.ready = rejectedRecord(s.storedError);
      setHandled(w.ready.promise);
      w.closed = rejectedRecord(s.storedError);
      setHandled(w.closed.promise);
    }
  }
  function writableStreamDefaultWriterCloseWithErrorPropagation(w) {
    const s = w.stream;
    const state = s.state;
    if (writableStreamCloseQueuedOrInFlight(s) || state === "closed") return resolvedWith(undefined);
    if (state === "errored") return rejectedWith(s.storedError);
    return writableStreamClose(s);
  }
  function writableStreamDefaultWriterEnsureClosedPromiseRejected(w, error) {
    if (w.closed.state === "pending") rejectPromise(w.closed, error);
    else w.closed = rejectedRecord(error);
    setHandled(w.closed.promise);
  }
  function writableStreamDefaultWriterEnsureReadyPromiseRejected(w, error) {
    if (w.ready.state === "pending") rejectPromise(w.ready, error);
    else w.ready = rejectedRecord(error);
    setHandled(w.ready.promise);
  }
  function writableStreamDefaultWriterGetDesiredSize(w) {
    const s = w.stream;
    const state = s.state;
    if (state === "errored" || state === "erroring") return null;
    if (state === "closed") return 0;
    return writableStreamDefaultControllerGetDesiredSize(s.controller);
  }
  function writableStreamDefaultWriterRelease(w) {
    const s = w.stream;
    const releasedError = new TypeError("the writer was released");
    writableStreamDefaultWriterEnsureReadyPromiseRejected(w, releasedError);
    writableStreamDefaultWriterEnsureClosedPromiseRejected(w, releasedError);
    s.writer = undefined;
    w.stream = undefined;
  }
  function writableStreamDefaultWriterWrite(w, chunk) {
    const s = w.stream;
    const c = s.controller;
    const chunkSize = writableStreamDefaultControllerGetChunkSize(c, chunk);
    if (s !== w.stream) return rejectedWith(new TypeError("the writer was released"));
    const state = s.state;
    if (state === "errored") return rejectedWith(s.storedError);
    if (writableStreamCloseQueuedOrInFlight(s) || state === "closed") return rejectedWith(new TypeError("the stream is closing or closed"));
    if (state === "erroring") return rejectedWith(s.storedError);
    const promise = writableStreamAddWriteRequest(s);
    writableStreamDefaultControllerWrite(c, chunk, chunkSize);
    return promise;
  }

  // ---- writable controller ----
  let wsdc;
  const CLOSE_SENTINEL = {};
  class WritableStreamDefaultController {
    #s;
    constructor(token, rec) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#s = rec;
      rec.obj = this;
    }
    static { wsdc = (o) => { try { return o.#s; } catch { throw new TypeError("not a WritableStreamDefaultController"); } }; }
    get signal() { return wsdc(this).abortController.signal; }
    error(e = undefined) {
      const c = wsdc(this);
      if (c.stream.state !== "writable") return;
      writableStreamDefaultControllerError(c, e);
    }
  }
  function newWritableControllerRecord() {
    const c = {
      stream: undefined, queue: undefined, queueTotalSize: 0, abortController: undefined, started: false,
      strategySizeAlgorithm: undefined, strategyHWM: 1, writeAlgorithm: undefined, closeAlgorithm: undefined,
      abortAlgorithm: undefined, obj: undefined,
      abortSteps: (reason) => {
        const result = c.abortAlgorithm(reason);
        writableStreamDefaultControllerClearAlgorithms(c);
        return result;
      },
      errorSteps: () => resetQueue(c),
    };
    new WritableStreamDefaultController(INTERNAL, c);
    return c;
  }
  function setUpWritableStreamDefaultController(s, c, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, hwm, sizeAlgorithm) {
    c.stream = s;
    s.controller = c;
    resetQueue(c);
    c.abortController = new AbortControllerCtor();
    c.started = false;
    c.strategySizeAlgorithm = sizeAlgorithm;
    c.strategyHWM = hwm;
    c.writeAlgorithm = writeAlgorithm;
    c.closeAlgorithm = closeAlgorithm;
    c.abortAlgorithm = abortAlgorithm;
    writableStreamUpdateBackpressure(s, writableStreamDefaultControllerGetBackpressure(c));
    const startResult = startAlgorithm();
    upon(resolvedWith(startResult), () => {
      c.started = true;
      writableStreamDefaultControllerAdvanceQueueIfNeeded(c);
    }, (r) => {
      c.started = true;
      writableStreamDealWithRejection(s, r);
    });
  }
  function setUpWritableStreamDefaultControllerFromUnderlyingSink(s, sink, dict, hwm, sizeAlgorithm) {
    const c = newWritableControllerRecord();
    let startAlgorithm = () => undefined;
    let writeAlgorithm = () => resolvedWith(undefined);
    let closeAlgorithm = () => resolvedWith(undefined);
    let abortAlgorithm = () => resolvedWith(undefined);
    if (dict.start !== undefined) startAlgorithm = () => apply(dict.start, sink, [c.obj]);
    if (dict.write !== undefined) writeAlgorithm = (chunk) => promiseCall(dict.write, sink, [chunk, c.obj]);
    if (dict.close !== undefined) closeAlgorithm = () => promiseCall(dict.close, sink, []);
    if (dict.abort !== undefined) abortAlgorithm = (reason) => promiseCall(dict.abort, sink, [reason]);
    setUpWritableStreamDefaultController(s, c, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, hwm, sizeAlgorithm);
  }
  function writableStreamDefaultControllerAdvanceQueueIfNeeded(c) {
    const s = c.stream;
    if (!c.started) return;
    if (s.inFlightWriteRequest !== undefined) return;
    const state = s.state;
    if (state === "erroring") { writableStreamFinishErroring(s); return; }
    if (c.queue.length === 0) return;
    const value = peekQueueValue(c);
    if (value === CLOSE_SENTINEL) writableStreamDefaultControllerProcessClose(c);
    else writableStreamDefaultControllerProcessWrite(c, value);
  }
  function writableStreamDefaultControllerClearAlgorithms(c) {
    c.writeAlgorithm = undefined;
    c.closeAlgorithm = undefined;
    c.abortAlgorithm = undefined;
    c.strategySizeAlgorithm = undefined;
  }
  function writableStreamDefaultControllerClose(c) {
    enqueueValueWithSize(c, CLOSE_SENTINEL, 0);
    writableStreamDefaultControllerAdvanceQueueIfNeeded(c);
  }
  function writableStreamDefaultControllerError(c, error) {
    writableStreamDefaultControllerClearAlgorithms(c);
    writableStreamStartErroring(c.stream, error);
  }
  function writableStreamDefaultControllerErrorIfNeeded(c, error) {
    if (c.stream.state === "writable") writableStreamDefaultControllerError(c, error);
  }
  function writableStreamDefaultControllerGetBackpressure(c) { return writableStreamDefaultControllerGetDesiredSize(c) <= 0; }
  function writableStreamDefaultControllerGetChunkSize(c, chunk) {
    if (c.strategySizeAlgorithm === undefined) return 1;
    try {
      return c.strategySizeAlgorithm(chunk);
    } catch (e) {
      writableStreamDefaultControllerErrorIfNeeded(c, e);
      return 1;
    }
  }
  function writableStreamDefaultControllerGetDesiredSize(c) { return c.strategyHWM - c.queueTotalSize; }
  function writableStreamDefaultControllerProcessClose(c) {
    const s = c.stream;
    writableStreamMarkCloseRequestInFlight(s);
    dequeueValue(c);
    const sinkClosePromise = c.closeAlgorithm();
    writableStreamDefaultControllerClearAlgorithms(c);
    upon(sinkClosePromise, () => writableStreamFinishInFlightClose(s), (reason) => writableStreamFinishInFlightCloseWithError(s, reason));
  }
  function writableStreamDefaultControllerProcessWrite(c, chunk) {
    const s = c.stream;
    writableStreamMarkFirstWriteRequestInFlight(s);
    const sinkWritePromise = c.writeAlgorithm(chunk);
    upon(sinkWritePromise, () => {
      writableStreamFinishInFlightWrite(s);
      const state = s.state;
      dequeueValue(c);
      if (!writableStreamCloseQueuedOrInFlight(s) && state === "writable") {
        writableStreamUpdateBackpressure(s, writableStreamDefaultControllerGetBackpressure(c));
      }
      writableStreamDefaultControllerAdvanceQueueIfNeeded(c);
    }, (reason) => {
      if (s.state === "writable") writableStreamDefaultControllerClearAlgorithms(c);
      writableStreamFinishInFlightWriteWithError(s, reason);
    });
  }
  function writableStreamDefaultControllerWrite(c, chunk, chunkSize) {
    try {
      enqueueValueWithSize(c, chunk, chunkSize);
    } catch (e) {
      writableStreamDefaultControllerErrorIfNeeded(c, e);
      return;
    }
    const s = c.stream;
    if (!writableStreamCloseQueuedOrInFlight(s) && s.state === "writable") {
      writableStreamUpdateBackpressure(s, writableStreamDefaultControllerGetBackpressure(c));
    }
    writableStreamDefaultControllerAdvanceQueueIfNeeded(c);
  }

