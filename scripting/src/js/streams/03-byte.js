// Streams, part 03: byte streams: ReadableByteStreamController and BYOB requests.
// (The parts in this folder are one script, concatenated in order: see instance.rs.)
  // ---- byte stream controller ----
  let rbsc, byobReq;
  class ReadableByteStreamController {
    #s;
    constructor(token, rec) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#s = rec;
      rec.obj = this;
    }
    static { rbsc = (o) => { try { return o.#s; } catch { throw new TypeError("not a ReadableByteStreamController"); } }; }
    get byobRequest() { return readableByteStreamControllerGetBYOBRequest(rbsc(this)); }
    get desiredSize() { return readableByteStreamControllerGetDesiredSize(rbsc(this)); }
    close() {
      const c = rbsc(this);
      if (c.closeRequested) throw new TypeError("the stream is already closing");
      if (c.stream.state !== "readable") throw new TypeError("the stream is not readable");
      readableByteStreamControllerClose(c);
    }
    enqueue(chunk) {
      const c = rbsc(this);
      if (!isArrayBufferView(chunk)) throw new TypeError("enqueue() expects an ArrayBufferView");
      if (chunk.byteLength === 0) throw new TypeError("enqueue() needs a chunk with a non-zero byteLength");
      if (abByteLength.call(bufferOf(chunk)) === 0) throw new TypeError("enqueue() needs a chunk on a non-empty buffer");
      if (c.closeRequested) throw new TypeError("the stream is closing");
      if (c.stream.state !== "readable") throw new TypeError("the stream is not readable");
      readableByteStreamControllerEnqueue(c, chunk);
    }
    error(e = undefined) { readableByteStreamControllerError(rbsc(this), e); }
  }
  class ReadableStreamBYOBRequest {
    #s;
    constructor(token, rec) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#s = rec;
      rec.obj = this;
    }
    static { byobReq = (o) => { try { return o.#s; } catch { throw new TypeError("not a ReadableStreamBYOBRequest"); } }; }
    get view() { return byobReq(this).view; }
    respond(bytesWritten) {
      const r = byobReq(this);
      bytesWritten = enforceRangeULL(bytesWritten, "bytesWritten");
      if (r.controller === undefined) throw new TypeError("this request has been invalidated");
      if (isDetached(bufferOf(r.view))) throw new TypeError("the view's buffer has been detached");
      readableByteStreamControllerRespond(r.controller, bytesWritten);
    }
    respondWithNewView(view) {
      const r = byobReq(this);
      if (!isArrayBufferView(view)) throw new TypeError("respondWithNewView() expects an ArrayBufferView");
      if (r.controller === undefined) throw new TypeError("this request has been invalidated");
      if (isDetached(bufferOf(view))) throw new TypeError("the view's buffer has been detached");
      readableByteStreamControllerRespondWithNewView(r.controller, view);
    }
  }
  function newByteControllerRecord() {
    const c = {
      kind: "byte", stream: undefined, queue: undefined, queueTotalSize: 0, started: false,
      closeRequested: false, pullAgain: false, pulling: false, byobRequest: null, strategyHWM: 0,
      pullAlgorithm: undefined, cancelAlgorithm: undefined, autoAllocateChunkSize: undefined,
      pendingPullIntos: [], obj: undefined,
      pullSteps: (request) => {
        const s = c.stream;
        if (c.queueTotalSize > 0) {
          readableByteStreamControllerFillReadRequestFromQueue(c, request);
          return;
        }
        const size = c.autoAllocateChunkSize;
        if (size !== undefined) {
          let buffer;
          try { buffer = new ArrayBuffer(size); } catch (e) { request.error(e); return; }
          c.pendingPullIntos.push({
            buffer, bufferByteLength: size, byteOffset: 0, byteLength: size, bytesFilled: 0,
            minimumFill: 1, elementSize: 1, viewConstructor: Uint8Array, readerType: "default",
          });
        }
        readableStreamAddReadRequest(s, request);
        readableByteStreamControllerCallPullIfNeeded(c);
      },
      releaseSteps: () => {
        if (c.pendingPullIntos.length > 0) {
          const first = c.pendingPullIntos[0];
          first.readerType = "none";
          c.pendingPullIntos = [first];
        }
      },
      cancelSteps: (reason) => {
        readableByteStreamControllerClearPendingPullIntos(c);
        resetQueue(c);
        const result = c.cancelAlgorithm(reason);
        readableByteStreamControllerClearAlgorithms(c);
        return result;
      },
    };
    new ReadableByteStreamController(INTERNAL, c);
    return c;
  }
  function readableByteStreamControllerCallPullIfNeeded(c) {
    if (!readableByteStreamControllerShouldCallPull(c)) return;
    if (c.pulling) { c.pullAgain = true; return; }
    c.pulling = true;
    upon(c.pullAlgorithm(), () => {
      c.pulling = false;
      if (c.pullAgain) { c.pullAgain = false; readableByteStreamControllerCallPullIfNeeded(c); }
    }, (e) => readableByteStreamControllerError(c, e));
  }
  function readableByteStreamControllerClearAlgorithms(c) {
    c.pullAlgorithm = undefined;
    c.cancelAlgorithm = undefined;
  }
  function readableByteStreamControllerClearPendingPullIntos(c) {
    readableByteStreamControllerInvalidateBYOBRequest(c);
    c.pendingPullIntos = [];
  }
  function readableByteStreamControllerClose(c) {
    const s = c.stream;
    if (c.closeRequested || s.state !== "readable") return;
    if (c.queueTotalSize > 0) { c.closeRequested = true; return; }
    if (c.pendingPullIntos.length > 0) {
      const first = c.pendingPullIntos[0];
      if (first.bytesFilled % first.elementSize !== 0) {
        const e = new TypeError("close() leaves a partial element in the pending read");
        readableByteStreamControllerError(c, e);
        throw e;
      }
    }
    readableByteStreamControllerClearAlgorithms(c);
    readableStreamClose(s);
  }
  function readableByteStreamControllerCommitPullIntoDescriptor(s, d) {
    let done = false;
    if (s.state === "closed") done = true;
    const filledView = readableByteStreamControllerConvertPullIntoDescriptor(d);
    if (d.readerType === "default") readableStreamFulfillReadRequest(s, filledView, done);
    else readableStreamFulfillReadIntoRequest(s, filledView, done);
  }
  function readableByteStreamControllerConvertPullIntoDescriptor(d) {
    const buffer = transferArrayBuffer(d.buffer);
    return new d.viewConstructor(buffer, d.byteOffset, d.bytesFilled / d.elementSize);
  }
  function readableByteStreamControllerEnqueue(c, chunk) {
    const s = c.stream;
    if (c.closeRequested || s.state !== "readable") return;
    const buffer = bufferOf(chunk);
    const byteOffset = chunk.byteOffset;
    const byteLength = chunk.byteLength;
    if (isDetached(buffer)) throw new TypeError("the chunk's buffer is detached");
    const transferred = transferArrayBuffer(buffer);
    if (c.pendingPullIntos.length > 0) {
      const first = c.pendingPullIntos[0];
      if (isDetached(first.buffer)) throw new TypeError("the pending read's buffer is detached");
      readableByteStreamControllerInvalidateBYOBRequest(c);
      first.buffer = transferArrayBuffer(first.buffer);
      if (first.readerType === "none") readableByteStreamControllerEnqueueDetachedPullIntoToQueue(c, first);
    }
    if (readableStreamHasDefaultReader(s)) {
      readableByteStreamControllerProcessReadRequestsUsingQueue(c);
      if (readableStreamGetNumReadRequests(s) === 0) {
        readableByteStreamControllerEnqueueChunkToQueue(c, transferred, byteOffset, byteLength);
      } else {
        if (c.pendingPullIntos.length > 0) readableByteStreamControllerShiftPendingPullInto(c);
        readableStreamFulfillReadRequest(s, new Uint8Array(transferred, byteOffset, byteLength), false);
      }
    } else if (readableStreamHasBYOBReader(s)) {
      readableByteStreamControllerEnqueueChunkToQueue(c, transferred, byteOffset, byteLength);
      const filled = readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(c);
      for (const d of filled) readableByteStreamControllerCommitPullIntoDescriptor(s, d);
    } else {
      readableByteStreamControllerEnqueueChunkToQueue(c, transferred, byteOffset, byteLength);
    }
    readableByteStreamControllerCallPullIfNeeded(c);
  }
  function readableByteStreamControllerEnqueueChunkToQueue(c, buffer, byteOffset, byteLength) {
    c.queue.push({ buffer, byteOffset, byteLength });
    c.queueTotalSize += byteLength;
  }
  function readableByteStreamControllerEnqueueClonedChunkToQueue(c, buffer, byteOffset, byteLength) {
    let clone;
    try {
      clone = cloneArrayBuffer(buffer, byteOffset, byteLength);
    } catch (e) {
      readableByteStreamControllerError(c, e);
      throw e;
    }
    readableByteStreamControllerEnqueueChunkToQueue(c, clone, 0, byteLength);
  }
  function readableByteStreamControllerEnqueueDetachedPullIntoToQueue(c, d) {
    if (d.bytesFilled > 0) readableByteStreamControllerEnqueueClonedChunkToQueue(c, d.buffer, d.byteOffset, d.bytesFilled);
    readableByteStreamControllerShiftPendingPullInto(c);
  }
  function readableByteStreamControllerFillPullIntoDescriptorFromQueue(c, d) {
    const maxBytesToCopy = Math.min(c.queueTotalSize, d.byteLength - d.bytesFilled);
    const maxBytesFilled = d.bytesFilled + maxBytesToCopy;
    let totalBytesToCopyRemaining = maxBytesToCopy;
    let ready = false;
    const remainderBytes = maxBytesFilled % d.elementSize;
    const maxAlignedBytes = maxBytesFilled - remainderBytes;
    if (maxAlignedBytes >= d.minimumFill) {
      totalBytesToCopyRemaining = maxAlignedBytes - d.bytesFilled;
      ready = true;
    }
    const queue = c.queue;
    while (totalBytesToCopyRemaining > 0) {
      const head = queue.peek();
      const bytesToCopy = Math.min(totalBytesToCopyRemaining, head.byteLength);
      const destStart = d.byteOffset + d.bytesFilled;
      copyBytes(d.buffer, destStart, head.buffer, head.byteOffset, bytesToCopy);
      if (head.byteLength === bytesToCopy) queue.shift();
      else { head.byteOffset += bytesToCopy; head.byteLength -= bytesToCopy; }
      c.queueTotalSize -= bytesToCopy;
      readableByteStreamControllerFillHeadPullIntoDescriptor(c, bytesToCopy, d);
      totalBytesToCopyRemaining -= bytesToCopy;
    }
    return ready;
  }
  function readableByteStreamControllerFillReadRequestFromQueue(c, request) {
    const entry = c.queue.shift();
    c.queueTotalSize -= entry.byteLength;
    readableByteStreamControllerHandleQueueDrain(c);
    request.chunk(new Uint8Array(entry.buffer, entry.byteOffset, entry.byteLength));
  }
  function readableByteStreamControllerGetBYOBRequest(c) {
    if (c.byobRequest === null && c.pendingPullIntos.length > 0) {
      const first = c.pendingPullIntos[0];
      const view = new Uint8Array(first.buffer, first.byteOffset + first.bytesFilled, first.byteLength - first.bytesFilled);
      const rec = { controller: c, view, obj: undefined };
      new ReadableStreamBYOBRequest(INTERNAL, rec);
      c.byobRequest = rec;
    }
    return c.byobRequest === null ? null : c.byobRequest.obj;
  }
  function readableByteStreamControllerGetDesiredSize(c) {
    const state = c.stream.state;
    if (state === "errored") return null;
    if (state === "closed") return 0;
    return c.strategyHWM - c.queueTotalSize;
  }
  function readableByteStreamControllerHandleQueueDrain(c) {
    if (c.queueTotalSize === 0 && c.closeRequested) {
      readableByteStreamControllerClearAlgorithms(c);
      readableStreamClose(c.stream);
    } else {
      readableByteStreamControllerCallPullIfNeeded(c);
    }
  }
  function readableByteStreamControllerInvalidateBYOBRequest(c) {
    if (c.byobRequest === null) return;
    c.byobRequest.controller = undefined;
    c.byobRequest.view = null;
    c.byobRequest = null;
  }
  function readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(c) {
    const filled = [];
    while (c.pendingPullIntos.length > 0) {
      if (c.queueTotalSize === 0) break;
      const d = c.pendingPullIntos[0];
      if (readableByteStreamControllerFillPullIntoDescriptorFromQueue(c, d)) {
        readableByteStreamControllerShiftPendingPullInto(c);
        filled.push(d);
      }
    }
    return filled;
  }
  function readableByteStreamControllerProcessReadRequestsUsingQueue(c) {
    const reader = c.stream.reader;
    while (reader.readRequests.length > 0) {
      if (c.queueTotalSize === 0) return;
      const request = reader.readRequests.shift();
      readableByteStreamControllerFillReadRequestFromQueue(c, request);
    }
  }
  function readableByteStreamControllerPullInto(c, view, min, request) {
    const s = c.stream;
    let elementSize = 1;
    let ctor = DataView;
    const name = typedArrayName.call(view);
    if (name !== undefined) {
      elementSize = ELEMENT_SIZE[name];
      ctor = globalThis[name];
    }
    const minimumFill = min * elementSize;
    const byteOffset = view.byteOffset;
    const byteLength = view.byteLength;
    let buffer;
    try {
      buffer = transferArrayBuffer(bufferOf(view));
    } catch (e) {
      request.error(e);
      return;
    }
    const d = {
      buffer, bufferByteLength: abByteLength.call(buffer), byteOffset, byteLength, bytesFilled: 0,
      minimumFill, elementSize, viewConstructor: ctor, readerType: "byob",
    };
    if (c.pendingPullIntos.length > 0) {
      c.pendingPullIntos.push(d);
      readableStreamAddReadIntoRequest(s, request);
      return;
    }
    if (s.state === "closed") {
      request.close(new ctor(d.buffer, d.byteOffset, 0));
      return;
    }
    if (c.queueTotalSize > 0) {
      if (readableByteStreamControllerFillPullIntoDescriptorFromQueue(c, d)) {
        const filledView = readableByteStreamControllerConvertPullIntoDescriptor(d);
        readableByteStreamControllerHandleQueueDrain(c);
        request.chunk(filledView);
        return;
      }
      if (c.closeRequested) {
        const e = new TypeError("the stream closed with a partial element");
        readableByteStreamControllerError(c, e);
        request.error(e);
        return;
      }
    }
    c.pendingPullIntos.push(d);
    readableStreamAddReadIntoRequest(s, request);
    readableByteStreamControllerCallPullIfNeeded(c);
  }
  function readableByteStreamControllerRespond(c, bytesWritten) {
    const first = c.pendingPullIntos[0];
    const state = c.stream.state;
    if (state === "closed") {
      if (bytesWritten !== 0) throw new TypeError("bytesWritten must be 0 once the stream is closed");
    } else {
      if (bytesWritten === 0) throw new TypeError("bytesWritten must be greater than 0 while the stream is readable");
      if (first.bytesFilled + bytesWritten > first.byteLength) throw new RangeError("bytesWritten is more than the view holds");
    }
    first.buffer = transferArrayBuffer(first.buffer);
    readableByteStreamControllerRespondInternal(c, bytesWritten);
  }
  function readableByteStreamControllerRespondInClosedState(c, first) {
    if (first.readerType === "none") readableByteStreamControllerShiftPendingPullInto(c);
    const s = c.stream;
    if (readableStreamHasBYOBReader(s)) {
      const filled = [];
      while (filled.length < readableStreamGetNumReadIntoRequests(s)) {
        filled.push(readableByteStreamControllerShiftPendingPullInto(c));
      }
      for (const d of filled) readableByteStreamControllerCommitPullIntoDescriptor(s, d);
    }
  }
  function readableByteStreamControllerRespondInReadableState(c, bytesWritten, d) {
    readableByteStreamControllerFillHeadPullIntoDescriptor(c, bytesWritten, d);
    if (d.readerType === "none") {
      readableByteStreamControllerEnqueueDetachedPullIntoToQueue(c, d);
      const filled = readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(c);
      for (const f of filled) readableByteStreamControllerCommitPullIntoDescriptor(c.stream, f);
      return;
    }
    if (d.bytesFilled < d.minimumFill) return;
    readableByteStreamControllerShiftPendingPullInto(c);
    const remainderSize = d.bytesFilled % d.elementSize;
    if (remainderSize > 0) {
      const end = d.byteOffset + d.bytesFilled;
      readableByteStreamControllerEnqueueClonedChunkToQueue(c, d.buffer, end - remainderSize, remainderSize);
    }
    d.bytesFilled -= remainderSize;
    const filled = readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(c);
    readableByteStreamControllerCommitPullIntoDescriptor(c.stream, d);
    for (const f of filled) readableByteStreamControllerCommitPullIntoDescriptor(c.stream, f);
  }
  function readableByteStreamControllerRespondInternal(c, bytesWritten) {
    const first = c.pendingPullIntos[0];
    readableByteStreamControllerInvalidateBYOBRequest(c);
    if (c.stream.state === "closed") readableByteStreamControllerRespondInClosedState(c, first);
    else readableByteStreamControllerRespondInReadableState(c, bytesWritten, first);
    readableByteStreamControllerCallPullIfNeeded(c);
  }
  function readableByteStreamControllerRespondWithNewView(c, view) {
    const first = c.pendingPullIntos[0];
    const state = c.stream.state;
    if (state === "closed") {
      if (view.byteLength !== 0) throw new TypeError("the view must be empty once the stream is closed");
    } else if (view.byteLength === 0) {
      throw new TypeError("the view must not be empty while the stream is readable");
    }
    if (first.byteOffset + first.bytesFilled !== view.byteOffset) throw new RangeError("the view does not start where the request's view did");
    const buffer = bufferOf(view);
    if (first.bufferByteLength !== abByteLength.call(buffer)) throw new RangeError("the view's buffer is not the request's buffer");
    if (first.bytesFilled + view.byteLength > first.byteLength) throw new RangeError("the view is larger than the request's view");
    const viewByteLength = view.byteLength;
    first.buffer = transferArrayBuffer(buffer);
    readableByteStreamControllerRespondInternal(c, viewByteLength);
  }
  function readableByteStreamControllerShiftPendingPullInto(c) { return c.pendingPullIntos.shift(); }
  function readableByteStreamControllerShouldCallPull(c) {
    const s = c.stream;
    if (s.state !== "readable") return false;
    if (c.closeRequested) return false;
    if (!c.started) return false;
    if (readableStreamHasDefaultReader(s) && readableStreamGetNumReadRequests(s) > 0) return true;
    if (readableStreamHasBYOBReader(s) && readableStreamGetNumReadIntoRequests(s) > 0) return true;
    return readableByteStreamControllerGetDesiredSize(c) > 0;
  }
  function readableByteStreamControllerError(c, e) {
    const s = c.stream;
    if (s.state !== "readable") return;
    readableByteStreamControllerClearPendingPullIntos(c);
    resetQueue(c);
    readableByteStreamControllerClearAlgorithms(c);
    readableStreamError(s, e);
  }
  function readableByteStreamControllerFillHeadPullIntoDescriptor(c, size, d) { d.bytesFilled += size; }
  function setUpReadableByteStreamController(s, c, startAlgorithm, pullAlgorithm, cancelAlgorithm, hwm, autoAllocateChunkSize) {
    c.stream = s;
    c.pullAgain = false; c.pulling = false; c.byobRequest = null;
    resetQueue(c);
    c.closeRequested = false; c.started = false;
    c.strategyHWM = hwm;
    c.pullAlgorithm = pullAlgorithm;
    c.cancelAlgorithm = cancelAlgorithm;
    c.autoAllocateChunkSize = autoAllocateChunkSize;
    c.pendingPullIntos = [];
    s.controller = c;
    const startResult = startAlgorithm();
    upon(resolvedWith(startResult), () => {
      c.started = true;
      readableByteStreamControllerCallPullIfNeeded(c);
    }, (r) => readableByteStreamControllerError(c, r));
  }
  function setUpReadableByteStreamControllerFromUnderlyingSource(s, source, dict, hwm) {
    const c = newByteControllerRecord();
    let startAlgorithm = () => undefined;
    let pullAlgorithm = () => resolvedWith(undefined);
    let cancelAlgorithm = () => resolvedWith(undefined);
    if (dict.start !== undefined) startAlgorithm = () => apply(dict.start, source, [c.obj]);
    if (dict.pull !== undefined) pullAlgorithm = () => promiseCall(dict.pull, source, [c.obj]);
    if (dict.cancel !== undefined) cancelAlgorithm = (reason) => promiseCall(dict.cancel, source, [reason]);
    const size = dict.autoAllocateChunkSize;
    if (size === 0) throw new TypeError("autoAllocateChunkSize must be greater than 0");
    setUpReadableByteStreamController(s, c, startAlgorithm, pullAlgorithm, cancelAlgorithm, hwm, size);
  }

